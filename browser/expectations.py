"""An `assert` step's expectation, checked with Playwright's own `expect` (which waits up to
the step's timeout), and its failure said in that expectation's own terms: what was expected,
then what was found. Page text in a message is redacted, then cut."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page, expect

from core import errors
from core.definition import PAGE_EXPECTATIONS, Step
from core.redaction import redact

PROBE_MS = 500
CONTENT = "element => 'value' in element ? String(element.value) : element.innerText"
"""What `empty` reads: an input's value, or an element's text."""
"""How long reading what was found may take, after the expectation failed."""


class ExpectationFailed(Exception):
    """The expectation did not hold; the message says what was expected and found."""


async def check(
    page: Page, target: Locator | None, step: Step, timeout: int, redactions: set[str]
) -> None:
    """Check the step's expectation; ExpectationFailed with the message if it does not hold."""
    if step.expect is None:
        assert target is not None
        return await _visible_with_text(target, step, timeout, redactions)
    subject: Any = page if step.expect in PAGE_EXPECTATIONS else target
    try:
        await _assertion(subject, step, timeout)
    except AssertionError:
        found = await _found(page, target, step, redactions)
        raise ExpectationFailed(f"expected {_subject(step)} {_phrase(step)}, {found}") from None
    return None


async def _visible_with_text(
    target: Locator, step: Step, timeout: int, redactions: set[str]
) -> None:
    """`assert` without `expect`: the element is visible and, given a value, contains it."""
    try:
        await expect(target).to_be_visible(timeout=timeout)
        if step.value:
            await expect(target).to_contain_text(step.value, timeout=timeout)
    except AssertionError:
        wanted = f"to contain {step.value!r}" if step.value else "to be visible"
        if not await _probe(target.count(), 0):
            found = "but no element matches"
        elif not await _probe(target.is_visible(), False):
            found = "but the element is not visible"
        else:
            found = f"found {await _text(target, redactions)}"
        raise ExpectationFailed(f"expected {_subject(step)} {wanted}, {found}") from None


def _expected(step: Step) -> str | re.Pattern[str]:
    """The value compared with, as `match` says (exact, contains, or a regular expression)."""
    value = step.value or ""
    if step.expect == "matches" or step.match == "regex":
        return re.compile(value)
    if step.match == "contains":
        return re.compile(re.escape(value))
    return value


def _assertion(subject: Any, step: Step, timeout: int) -> Awaitable[None]:
    """The Playwright assertion the step names, negated if it says `not`."""
    assertion = expect(subject)
    prefix = "not_to_" if step.negate else "to_"

    def call(name: str, *args: Any, **options: Any) -> Awaitable[None]:
        result: Awaitable[None] = getattr(assertion, prefix + name)(
            *args, timeout=timeout, **options
        )
        return result

    value = step.value or ""
    match step.expect:
        case "visible" | "hidden" | "checked" | "enabled" | "disabled" | "focused" | "empty":
            return call(f"be_{step.expect}")
        case "attached" | "detached":
            return call("be_attached", attached=step.expect == "attached")
        case "text":
            if step.match == "contains":
                return call("contain_text", value)
            return call("have_text", _expected(step))
        case "contains":
            return call("contain_text", value)
        case "matches":
            return call("have_text", re.compile(value))
        case "value":
            return call("have_value", _expected(step))
        case "attribute":
            return call("have_attribute", step.name, _expected(step))
        case "class":
            return call("contain_class", value)
        case "count":
            return call("have_count", int(value))
        case "url":
            return call("have_url", _expected(step))
        case "title":
            return call("have_title", _expected(step))
    raise ValueError(f"unknown expectation {step.expect!r}")


def _compared(match: str | None) -> str:
    return {"contains": "containing ", "regex": "matching "}.get(match or "", "")


def _subject(step: Step) -> str:
    if step.expect == "url":
        return "URL"
    if step.expect == "title":
        return "title"
    return repr(step.selector)


def _phrase(step: Step) -> str:
    """What was expected, in the expectation's own words."""
    value = step.value or ""
    how = {"contains": "to contain", "regex": "to match"}.get(step.match or "", "to be")
    shown = f"/{value}/" if step.match == "regex" or step.expect == "matches" else repr(value)
    phrase = {
        "text": f"{how if step.match else 'to have text'} {shown}",
        "contains": f"to contain {shown}",
        "matches": f"to match {shown}",
        "value": f"{how if step.match else 'to have value'} {shown}",
        "attribute": f"to have {step.name} {_compared(step.match)}{shown}",
        "class": f"to have class {shown}",
        "count": f"count {value}",
        "url": f"{how} {shown}",
        "title": f"{how} {shown}",
    }.get(step.expect or "", f"to be {step.expect}")
    if not step.negate:
        return phrase
    if phrase.startswith("to "):
        return "not " + phrase
    return phrase.replace("count ", "count not ", 1)


async def _found(page: Page, target: Locator | None, step: Step, redactions: set[str]) -> str:
    """What the page showed instead, in the expectation's terms."""
    if step.expect == "url":
        return f"found {_shown(page.url, redactions)}"
    if step.expect == "title":
        return f"found {_shown(await _probe(page.title(), ''), redactions)}"
    assert target is not None
    count = await _probe(target.count(), 0)
    if step.expect == "count":
        return f"found {count}"
    if step.expect in ("attached", "detached"):
        return "but it is attached" if count else "but it is not in the page"
    if count == 0:
        return "but no element matches"
    readers: dict[str, Callable[[], Awaitable[Any]]] = {
        "visible": target.is_visible,
        "hidden": target.is_visible,
        "checked": lambda: target.is_checked(timeout=PROBE_MS),
        "enabled": lambda: target.is_enabled(timeout=PROBE_MS),
        "disabled": lambda: target.is_enabled(timeout=PROBE_MS),
        "focused": lambda: target.evaluate("element => element === document.activeElement"),
    }
    if step.expect in readers:
        return _state(step.expect or "", await _probe(readers[step.expect](), None))
    if step.expect == "value":
        return f"found {_shown(await _probe(target.input_value(timeout=PROBE_MS), ''), redactions)}"
    if step.expect == "attribute":
        assert step.name is not None
        found = await _probe(target.get_attribute(step.name, timeout=PROBE_MS), None)
        return (
            f"but it has no {step.name}" if found is None else f"found {_shown(found, redactions)}"
        )
    if step.expect == "empty":
        content = await _probe(target.evaluate(CONTENT), "")
        return f"found {_shown(content, redactions)}"
    if step.expect == "class":
        classes = await _probe(target.get_attribute("class", timeout=PROBE_MS), None)
        return f"found class {_shown(classes or '', redactions)}"
    return f"found {await _text(target, redactions)}"


def _state(expectation: str, state: object) -> str:
    """`but it is ...` for a state expectation, from the state read (None: unreadable)."""
    if state is None:
        return "but its state could not be read"
    words = {
        "visible": ("visible", "hidden"),
        "hidden": ("visible", "hidden"),
        "checked": ("checked", "not checked"),
        "enabled": ("enabled", "disabled"),
        "disabled": ("enabled", "disabled"),
        "focused": ("focused", "not focused"),
    }[expectation]
    return f"but it is {words[0] if state else words[1]}"


async def _text(target: Locator, redactions: set[str]) -> str:
    return _shown(await _probe(target.inner_text(timeout=PROBE_MS), ""), redactions)


def _shown(text: str, redactions: set[str]) -> str:
    """Page text for a message: secrets removed before it is cut, so no part of one stays."""
    return repr(errors.cut(redact(text, redactions)))


async def _probe(awaitable: Awaitable[Any], default: Any) -> Any:
    """Read what the page shows now; `default` if it cannot be read."""
    try:
        return await awaitable
    except PlaywrightError:
        return default
