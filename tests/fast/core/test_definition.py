"""The test definition format: what is accepted, and what is rejected with which message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.definition import ACTIONS, InvalidDefinition, RetrySettings, parse_test
from tests.support.definitions import flaky_test, shop_test


def definition(*steps: dict, **fields: object) -> dict:
    return {"name": "t", "start_url": "http://127.0.0.1:8000/shop", "steps": list(steps), **fields}


def test_the_spec_example_is_valid_with_defaults() -> None:
    test = parse_test(
        definition(
            {"action": "click", "selector": "#buy", "fallback_selectors": ["text=Buy now"]},
            {"action": "type", "selector": "#email", "value": "a@b.c"},
            {"action": "assert", "selector": "#total", "value": "42"},
        )
    )
    assert test.timeout_s == 300
    assert test.retry == RetrySettings(max_attempts=3, initial_interval_s=2, backoff_coefficient=2)
    assert test.steps[0].selectors == ["#buy", "text=Buy now"]


def test_there_are_twenty_actions() -> None:
    assert len(ACTIONS) == 20


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"action": "teleport"}, "steps[1].action: Input should be 'navigate'"),
        ({"action": "click"}, "steps[1]: selector: action 'click' needs a selector"),
        ({"action": "type", "selector": "#a"}, "steps[1]: value: action 'type' needs a value"),
        ({"action": "navigate"}, "steps[1]: value: action 'navigate' needs a value"),
        ({"action": "wait"}, "steps[1]: value: 'wait' needs milliseconds"),
        ({"action": "wait", "value": "soon"}, "steps[1]: value: 'wait' needs milliseconds"),
        ({"action": "scroll", "value": "down"}, "steps[1]: value: 'scroll' takes pixels"),
        ({"action": "upload", "selector": "#f", "value": "../etc/passwd"}, "plain file name"),
        ({"action": "click", "selector": "#a", "colour": "red"}, "steps[1].colour: Extra inputs"),
        ({"action": "press", "fallback_selectors": ["#a"], "value": "Enter"}, "without a primary"),
        (
            {"action": "assert", "selector": "#a", "expect": "sparkles"},
            "steps[1].expect: Input should be 'visible', 'hidden'",
        ),
        (
            {"action": "assert", "selector": "#a", "expect": "matches", "value": "(unclosed"},
            "steps[1]: value: the regular expression does not compile",
        ),
        (
            {
                "action": "assert",
                "selector": "#a",
                "expect": "text",
                "match": "regex",
                "value": "a" * 501,
            },
            "steps[1]: value: a regular expression is limited to 500 characters",
        ),
        (
            {"action": "assert", "selector": "#a", "expect": "count"},
            "steps[1]: value: expectation 'count' needs a value",
        ),
        (
            {"action": "assert", "selector": "#a", "expect": "count", "value": "two"},
            "steps[1]: value: expectation 'count' needs a whole number",
        ),
        ({"action": "reload", "not": True}, "steps[1]: not: only an 'assert' step takes 'not'"),
        (
            {"action": "assert", "selector": "#a", "expect": "title", "value": "x"},
            "steps[1]: selector: 'title' is checked on the page, without a selector",
        ),
        ({"action": "assert", "expect": "hidden"}, "steps[1]: selector: expectation 'hidden'"),
        (
            {"action": "assert", "selector": "#a", "expect": "attribute", "value": "x"},
            "steps[1]: name: expectation 'attribute' needs the attribute's name",
        ),
        (
            {"action": "assert", "selector": "#a", "expect": "checked", "match": "regex"},
            "steps[1]: match: expectation 'checked' takes no 'match'",
        ),
        (
            {"action": "wait", "for": "load_state", "value": "idle"},
            "steps[1]: value: a load state is one of load, domcontentloaded, networkidle",
        ),
        ({"action": "click", "selector": "#a", "for": "url"}, "for: only a 'wait' step"),
        (
            {"action": "wait", "for": "url", "value": "**/x", "status": 200},
            "status: only a 'wait' for a response takes a status",
        ),
        (
            {"action": "click", "selector": "#a", "retry": {"max_attempts": 0}},
            "steps[1].retry.max_attempts: Input should be greater than or equal to 1",
        ),
        (
            {"action": "wait", "for": "url", "match": "contains", "value": "x"},
            "steps[1]: match: a wait takes a glob, or 'regex'",
        ),
        (
            {"action": "wait", "for": "load_state", "match": "regex", "value": "load"},
            "steps[1]: match: only an 'assert' or a 'wait' for a url or response takes it",
        ),
        (
            {"action": "wait", "for": "response", "match": "regex", "value": "(unclosed"},
            "steps[1]: value: the regular expression does not compile",
        ),
        (
            {"action": "change", "selector": "#a"},
            "steps[1]: value: action 'change' needs a value",
        ),
    ],
)
def test_invalid_steps_name_the_step_index_and_the_field(step: dict, message: str) -> None:
    with pytest.raises(InvalidDefinition) as raised:
        parse_test(definition({"action": "click", "selector": "#ok"}, step))
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start_url": "ftp://x"}, "start_url: must be an absolute http(s) URL"),
        ({"timeout_s": 0}, "timeout_s: Input should be greater than or equal to 1"),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts"),
        ({"steps": []}, "steps: List should have at least 1 item"),
    ],
)
def test_invalid_test_fields_are_named(fields: dict, message: str) -> None:
    with pytest.raises(InvalidDefinition) as raised:
        parse_test(definition({"action": "click", "selector": "#ok"}, **fields))
    assert message in str(raised.value)


def test_a_wait_for_a_url_or_a_response_takes_a_regular_expression() -> None:
    test = parse_test(
        definition(
            {"action": "wait", "for": "url", "match": "regex", "value": "^http://x/$"},
            {"action": "wait", "for": "response", "match": "regex", "value": "/api/.*"},
        )
    )
    assert [step.match for step in test.steps] == ["regex", "regex"]


def test_a_viewport_is_bounded() -> None:
    assert parse_test(definition({"action": "reload"}, viewport={"width": 640, "height": 480}))
    with pytest.raises(InvalidDefinition, match="viewport.width"):
        parse_test(definition({"action": "reload"}, viewport={"width": 10, "height": 480}))


def test_numbers_are_accepted_where_text_is_expected() -> None:
    test = parse_test(
        definition({"action": "wait", "value": 500}, {"action": "scroll", "value": 300})
    )
    assert [s.value for s in test.steps] == ["500", "300"]


def test_backoff_is_exponential_and_capped() -> None:
    policy = RetrySettings(
        max_attempts=6, initial_interval_s=2, backoff_coefficient=2, max_interval_s=10
    )
    assert [policy.wait_before(n) for n in range(2, 7)] == [2, 4, 8, 10, 10]


def test_a_step_s_own_retry_overrides_the_test_s_and_not_and_for_read_as_written() -> None:
    test = parse_test(
        {
            "name": "retries",
            "start_url": "http://shop.example/",
            "retry": {"max_attempts": 3},
            "steps": [
                {
                    "action": "assert",
                    "selector": "#a",
                    "expect": "visible",
                    "not": True,
                    "retry": {"max_attempts": 1},
                },
                {"action": "wait", "for": "response", "value": "**/api/*", "status": 200},
            ],
        }
    )
    assert test.retry_of(0).max_attempts == 1 and test.retry_of(1).max_attempts == 3
    assert test.steps[0].negate and test.steps[1].wait_for == "response"
    stored = test.model_dump(mode="json")
    assert parse_test(stored) == test, "a stored definition reads back the same"


def test_definitions_stored_before_expectations_validate_and_keep_their_meaning() -> None:
    """The bundled examples and the suite's own fixtures, as stored before `expect`: each reads
    back unchanged, and each `assert` keeps today's meaning (visible, containing its value)."""
    examples = Path(__file__).parents[3] / "examples"
    stored = [json.loads((examples / "shop-test.json").read_text())]
    stored.append(json.loads((examples / "run-shop.json").read_text())["test"])
    stored += [shop_test("http://127.0.0.1:8001/"), flaky_test("http://127.0.0.1:8001/")]
    for raw in stored:
        test = parse_test(raw)
        again = parse_test(test.model_dump(mode="json"))
        assert again == test
        for step, given in zip(test.steps, raw["steps"], strict=True):
            assert {k: v for k, v in step.model_dump(by_alias=True).items() if k in given} == {
                k: (str(v) if isinstance(v, int | float) and k == "value" else v)
                for k, v in given.items()
            }
            assert step.expect is None and not step.negate and step.retry is None
