"""Every expectation of an `assert`, positive and negated, and every page step, against a real
page in Chromium, with the failure message each gives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from browser.actions import StepContext, StepError, perform
from core import errors
from core.chromium import LAUNCH_ARGS, chromium_executable
from core.definition import Step


@pytest.fixture(scope="module")
async def browser_page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable(None), args=LAUNCH_ARGS
        )
        yield await browser.new_page()
        await browser.close()


@pytest.fixture
async def todos(browser_page: Page, pages_url: str) -> Page:
    await browser_page.goto(pages_url + "todos.html")
    return browser_page


def ctx(tmp_path: Path, secrets: set[str] | None = None) -> StepContext:
    return StepContext(
        "", 400, tmp_path / "artifacts", "step", tmp_path / "uploads", secrets or set()
    )


def assert_step(**fields: object) -> Step:
    return Step.model_validate({"action": "assert", **fields})


HOLDING = [
    {"selector": "#new", "expect": "visible"},
    {"selector": "#hint", "expect": "hidden"},
    {"selector": "#nothing-here", "expect": "hidden"},
    {"selector": "#hint", "expect": "attached"},
    {"selector": "#nothing-here", "expect": "detached"},
    {"selector": ".todo-list li >> nth=1", "expect": "text", "value": "feed the cat"},
    {"selector": ".todo-list li >> nth=1", "expect": "text", "match": "contains", "value": "cat"},
    {"selector": "#total", "expect": "text", "match": "regex", "value": "^[0-9]+\\.00$"},
    {"selector": "#total", "expect": "contains", "value": "12"},
    {"selector": "#total", "expect": "matches", "value": "\\d\\d"},
    {"selector": "#email", "expect": "value", "value": "bob@example.com"},
    {"selector": "#email", "expect": "value", "match": "contains", "value": "@example"},
    {"selector": ".filters a >> nth=0", "expect": "attribute", "name": "href", "value": "#/"},
    {"selector": ".filters a >> nth=0", "expect": "class", "value": "selected"},
    {"selector": ".todo-list li", "expect": "count", "value": "3"},
    {"selector": ".done", "expect": "count", "value": "0"},
    {"selector": "#toggle", "expect": "checked"},
    {"selector": "#email", "expect": "enabled"},
    {"selector": "#clear", "expect": "disabled"},
    {"selector": "#new", "expect": "focused"},
    {"selector": "#new", "expect": "empty"},
    {"expect": "url", "match": "contains", "value": "todos.html"},
    {"expect": "title", "value": "Todos: demo"},
    {"expect": "title", "match": "regex", "value": "^Todos"},
]


@pytest.mark.parametrize("fields", HOLDING, ids=lambda f: f"{f['expect']}-{f.get('selector')}")
async def test_an_expectation_that_holds_passes_and_its_negation_fails(
    todos: Page, tmp_path: Path, fields: dict
) -> None:
    await perform(todos, assert_step(**fields), ctx(tmp_path))
    with pytest.raises(StepError) as negated:
        await perform(todos, assert_step(**fields, **{"not": True}), ctx(tmp_path))
    assert negated.value.error_type == errors.ASSERTION_FAILED
    assert " not " in str(negated.value) or "count not" in str(negated.value), negated.value


FAILING = [
    (
        {"selector": ".todo-list li", "expect": "count", "value": "2"},
        "expected '.todo-list li' count 2, found 3",
    ),
    (
        {"selector": "#total", "expect": "hidden"},
        "expected '#total' to be hidden, but it is visible",
    ),
    (
        {"selector": "#hint", "expect": "visible"},
        "expected '#hint' to be visible, but it is hidden",
    ),
    (
        {"selector": "#nothing-here", "expect": "attached"},
        "expected '#nothing-here' to be attached, but it is not in the page",
    ),
    (
        {"selector": ".todo-list li >> nth=0", "expect": "text", "value": "buy milk"},
        "expected '.todo-list li >> nth=0' to have text 'buy milk', found 'buy some cheese'",
    ),
    (
        {"selector": "#total", "expect": "matches", "value": "^9"},
        "expected '#total' to match /^9/, found '12.00'",
    ),
    (
        {"selector": "#email", "expect": "value", "value": "eve@example.com"},
        "expected '#email' to have value 'eve@example.com', found 'bob@example.com'",
    ),
    (
        {"selector": ".filters a >> nth=1", "expect": "attribute", "name": "href", "value": "#/"},
        "expected '.filters a >> nth=1' to have href '#/', found '#/active'",
    ),
    (
        {"selector": ".filters a >> nth=1", "expect": "attribute", "name": "target", "value": "x"},
        "expected '.filters a >> nth=1' to have target 'x', but it has no target",
    ),
    (
        {
            "selector": ".filters a >> nth=1",
            "expect": "attribute",
            "name": "href",
            "match": "contains",
            "value": "done",
        },
        "expected '.filters a >> nth=1' to have href containing 'done', found '#/active'",
    ),
    (
        {"selector": "#email", "expect": "empty"},
        "expected '#email' to be empty, found 'bob@example.com'",
    ),
    (
        {"selector": ".filters a >> nth=1", "expect": "class", "value": "selected"},
        "expected '.filters a >> nth=1' to have class 'selected', found class ''",
    ),
    (
        {"selector": "#toggle", "expect": "checked", "not": True},
        "expected '#toggle' not to be checked, but it is checked",
    ),
    (
        {"selector": "#clear", "expect": "enabled"},
        "expected '#clear' to be enabled, but it is disabled",
    ),
    (
        {"selector": "#email", "expect": "focused"},
        "expected '#email' to be focused, but it is not focused",
    ),
    ({"selector": "#total", "expect": "empty"}, "expected '#total' to be empty, found '12.00'"),
    (
        {"selector": "#missing", "expect": "value", "value": "x"},
        "expected '#missing' to have value 'x', but no element matches",
    ),
    (
        {"expect": "title", "match": "contains", "value": "Shop"},
        "expected title to contain 'Shop', found 'Todos: demo'",
    ),
    (
        {"selector": "#hint", "value": "hidden text"},
        "expected '#hint' to contain 'hidden text', but the element is not visible",
    ),
    ({"selector": "#total", "value": "13"}, "expected '#total' to contain '13', found '12.00'"),
]


@pytest.mark.parametrize("fields,message", FAILING, ids=lambda f: str(f)[:40])
async def test_a_failed_expectation_says_what_was_expected_and_what_was_found(
    todos: Page, tmp_path: Path, fields: dict, message: str
) -> None:
    with pytest.raises(StepError) as failure:
        await perform(todos, assert_step(**fields), ctx(tmp_path))
    assert failure.value.error_type == errors.ASSERTION_FAILED
    assert failure.value.retryable
    assert str(failure.value) == message


async def test_the_url_expectation_and_page_text_in_messages_are_redacted(
    todos: Page, tmp_path: Path
) -> None:
    step = assert_step(selector="#email", expect="value", value="nobody")
    with pytest.raises(StepError) as failure:
        await perform(todos, step, ctx(tmp_path, {"bob@example.com"}))
    assert str(failure.value) == "expected '#email' to have value 'nobody', found '***'"
    url = assert_step(expect="url", value="http://elsewhere.example/")
    with pytest.raises(StepError) as wrong_url:
        await perform(todos, url, ctx(tmp_path))
    assert str(wrong_url.value).startswith("expected URL to be 'http://elsewhere.example/', found")


async def test_back_forward_and_reload_move_through_the_page_s_history(
    todos: Page, pages_url: str, tmp_path: Path
) -> None:
    async def step(**fields: object) -> None:
        await perform(todos, Step.model_validate(fields), ctx(tmp_path))

    await step(action="click", selector="text=Active")
    await step(action="wait", **{"for": "url"}, value="**/todos.html#/active")
    await step(action="navigate", value=pages_url + "shop.html")
    await step(action="back")
    await step(action="assert", expect="url", match="contains", value="#/active")
    await step(action="back")
    await step(action="assert", expect="url", value=pages_url + "todos.html")
    await step(action="forward")
    await step(action="assert", selector=".filters a >> nth=1", expect="class", value="selected")
    await todos.fill("#new", "typed, then lost")
    await step(action="reload")
    await step(action="assert", selector="#new", expect="empty")
    await step(action="wait", **{"for": "load_state"}, value="networkidle", timeout_ms=5000)


async def test_a_wait_for_a_response_sees_it_whenever_it_came_and_names_what_it_missed(
    todos: Page, tmp_path: Path
) -> None:
    def wait(**fields: object) -> Step:
        return Step.model_validate({"action": "wait", "for": "response", **fields})

    await perform(todos, Step(action="click", selector="#load"), ctx(tmp_path))
    await perform(todos, wait(value="**/second.html", status=200, timeout_ms=5000), ctx(tmp_path))
    await perform(
        todos, assert_step(selector="#loaded", expect="text", value="loaded"), ctx(tmp_path)
    )
    await perform(todos, wait(value="**/todos.html"), ctx(tmp_path))  # the document itself
    with pytest.raises(StepError) as missed:
        await perform(todos, wait(value="**/api/items", status=200), ctx(tmp_path))
    assert str(missed.value).startswith(
        "waited 400 ms for a response from '**/api/items' with status 200; the page is at"
    )
    with pytest.raises(StepError) as no_url:
        await perform(
            todos,
            Step.model_validate({"action": "wait", "for": "url", "value": "**/x"}),
            ctx(tmp_path),
        )
    assert str(no_url.value).startswith("waited 400 ms for the URL to match '**/x'")
