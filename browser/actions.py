"""Performing one step on a page: find its element (fallbacks included), then act."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page

from browser.expectations import ExpectationFailed, check
from browser.page_steps import HISTORY_STEPS, history_step, wait_for
from browser.step_error import StepError
from core import errors
from core.definition import PAGE_EXPECTATIONS, Step, Viewport
from core.egress import refused_scheme, resolve_like_browser

POLL_INTERVAL_S = 0.1


@dataclass
class StepContext:
    """What a step may use besides the page: where artifacts and uploads live, and the
    secrets its errors must not quote."""

    start_url: str
    timeout_ms: int
    artifacts_dir: Path
    artifact_prefix: str
    uploads_dir: Path
    redactions: set[str] = field(default_factory=set)
    viewport: Viewport | None = None
    """Set on the page before the steps (the first step's attempts carry the test's)."""


@dataclass
class StepResult:
    """The selector that matched (if any) and files the step wrote."""

    selector_used: str | None
    artifacts: list[str]


async def perform(page: Page, step: Step, ctx: StepContext) -> StepResult:
    """Run `step` on `page`; raise StepError on any failure."""
    try:
        return await _perform(page, step, ctx)
    except StepError:
        raise
    except PlaywrightError as error:
        raise classify(error) from None


async def _perform(page: Page, step: Step, ctx: StepContext) -> StepResult:
    if step.action == "navigate":
        timeout_ms = step.timeout_ms or ctx.timeout_ms
        await _navigate(page, resolve_like_browser(ctx.start_url, step.value or ""), timeout_ms)
        return StepResult(selector_used=None, artifacts=[])
    if step.action in HISTORY_STEPS:
        await history_step(page, step.action, step.timeout_ms or ctx.timeout_ms)
        return StepResult(selector_used=None, artifacts=[])
    if step.action == "wait" and step.wait_for is not None:
        await wait_for(page, step, step.timeout_ms or ctx.timeout_ms)
        return StepResult(selector_used=None, artifacts=[])
    if step.action == "assert" and step.expect is not None:
        return await _expectation(page, step, ctx)
    if not step.selectors:
        return StepResult(selector_used=None, artifacts=await _page_action(page, step, ctx))
    if len(step.selectors) == 1:
        # One selector: the action's own auto-waiting finds the element (no extra round trip).
        selector, target = step.selectors[0], page.locator(step.selectors[0]).first
    else:
        selector, target = await find_element(page, step.selectors, ctx.timeout_ms)
    try:
        artifacts = await _element_action(target, step, ctx)
    except (StepError, PlaywrightError) as error:
        raise await _diagnose(error, target, selector, ctx.timeout_ms) from None
    return StepResult(selector_used=selector, artifacts=artifacts)


async def _diagnose(
    error: StepError | PlaywrightError, target: Locator, selector: str, timeout_ms: int
) -> StepError:
    """Say "no element matches" when that is why an element action failed, and say so when
    the action was done but the navigation it started did not finish in time (the old page's
    elements are gone by then, so counting them would blame the selector)."""
    failure = error if isinstance(error, StepError) else classify(error, selector)
    if failure.error_type not in (errors.STEP_ERROR, errors.ASSERTION_FAILED):
        return failure
    if isinstance(error, PlaywrightError) and NAVIGATION_PENDING_MARKER in str(error):
        return StepError(
            f"{selector!r} was acted on, but the navigation it started did not finish "
            f"within {timeout_ms} ms",
            errors.NAVIGATION_FAILED,
            True,
        )
    try:
        missing = await target.count() == 0
    except PlaywrightError as count_error:
        return classify(count_error, selector)
    if missing:
        return StepError(
            f"no element matches {selector!r} (waited {timeout_ms} ms)",
            errors.SELECTOR_NOT_FOUND,
            True,
        )
    return failure


async def _expectation(page: Page, step: Step, ctx: StepContext) -> StepResult:
    """An `assert` with `expect`: on the page, or on its selector's element(s). Expectations
    that absence can satisfy (hidden, detached, a count, a negation) read the primary selector
    as it is; the others find an element first, fallbacks included."""
    timeout = step.timeout_ms or ctx.timeout_ms
    selector, target = None, None
    if step.expect not in PAGE_EXPECTATIONS:
        selector = step.selectors[0]
        absent_ok = step.negate or step.expect in ("hidden", "detached", "count")
        if absent_ok or len(step.selectors) == 1:
            locator = page.locator(selector)
            target = locator if step.expect == "count" else locator.first
        else:
            selector, target = await find_element(page, step.selectors, timeout)
    try:
        await check(page, target, step, timeout, ctx.redactions)
    except ExpectationFailed as failed:
        raise StepError(str(failed), errors.ASSERTION_FAILED, True) from None
    except PlaywrightError as error:
        raise classify(error, selector) from None
    return StepResult(selector_used=selector, artifacts=[])


async def _navigate(page: Page, url: str, timeout: int) -> None:
    """Go to url; a server error (5xx) fails the step like a network error, retryably."""
    if refusal := refused_scheme(urlsplit(url).scheme):
        raise StepError(f"blocked by the egress policy: {refusal}", errors.EGRESS_BLOCKED, False)
    response = await page.goto(url, timeout=timeout)
    if response is not None and response.status >= 500:
        raise StepError(
            f"navigation to {url} answered HTTP {response.status}", errors.NAVIGATION_FAILED, True
        )


async def _page_action(page: Page, step: Step, ctx: StepContext) -> list[str]:
    """Actions on the whole page: a key, a scroll, a pause, a screenshot."""
    value = step.value or ""
    if step.action == "press":
        await page.keyboard.press(value)
    elif step.action == "scroll":
        await page.evaluate("(dy) => window.scrollBy(0, dy)", float(value or 0))
    elif step.action == "wait":
        await asyncio.sleep(float(value) / 1000)
    elif step.action == "screenshot":
        return [await _screenshot(page, ctx, "screenshot")]
    return []


async def _element_action(target: Locator, step: Step, ctx: StepContext) -> list[str]:
    """Actions on the element that the step's selectors found."""
    timeout, value = ctx.timeout_ms, step.value or ""
    match step.action:
        case "click":
            await target.click(timeout=timeout)
        case "doubleclick":
            await target.dblclick(timeout=timeout)
        case "rightclick":
            await target.click(button="right", timeout=timeout)
        case "hover":
            await target.hover(timeout=timeout)
        case "type":
            await target.fill(value, timeout=timeout)
        case "change":
            await _change(target, value, timeout)
        case "clear":
            await target.clear(timeout=timeout)
        case "select":
            await _select(target, value, timeout)
        case "check":
            await target.check(timeout=timeout)
        case "uncheck":
            await target.uncheck(timeout=timeout)
        case "press":
            await target.press(value, timeout=timeout)
        case "scroll":
            await target.scroll_into_view_if_needed(timeout=timeout)
        case "wait":
            await target.wait_for(state="visible", timeout=timeout)
        case "assert":
            try:
                await check(target.page, target, step, timeout, ctx.redactions)
            except ExpectationFailed as failed:
                raise StepError(str(failed), errors.ASSERTION_FAILED, True) from None
        case "screenshot":
            return [await _screenshot(target, ctx, "screenshot")]
        case "upload":
            await target.set_input_files(upload_path(ctx.uploads_dir, value), timeout=timeout)
        case _:
            raise StepError(f"unknown action '{step.action}'", errors.INVALID_STEP, False)
    return []


async def _change(target: Locator, value: str, timeout: int) -> None:
    """A Recorder's change: a `<select>` chooses the option, any other field is filled."""
    tag = await target.evaluate("(element) => element.tagName", timeout=timeout)
    if tag == "SELECT":
        await _select(target, value, timeout)
    else:
        await target.fill(value, timeout=timeout)


async def _select(target: Locator, value: str, timeout: int) -> None:
    """Choose the option whose value or label is `value`."""
    try:
        await target.select_option(value, timeout=timeout)
    except PlaywrightError as error:
        if "did not find some options" in str(error):
            raise StepError(
                f"no option with value or label '{value}'", errors.SELECTOR_NOT_FOUND, True
            ) from None
        raise


async def _screenshot(subject: Page | Locator, ctx: StepContext, kind: str) -> str:
    name = f"{ctx.artifact_prefix}-{kind}.png"
    ctx.artifacts_dir.mkdir(parents=True, exist_ok=True)
    await subject.screenshot(path=ctx.artifacts_dir / name, timeout=ctx.timeout_ms)
    return name


async def failure_screenshot(page: Page, ctx: StepContext) -> list[str]:
    """Best effort: a screenshot of the page as the failed step left it."""
    try:
        return [await _screenshot(page, ctx, "failure")]
    except Exception:
        return []


def upload_path(uploads_dir: Path, name: str) -> str:
    """The file `name` inside the upload folder; anything that escapes it is refused."""
    root = uploads_dir.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or path == root:
        raise StepError(f"'{name}' is outside the upload folder", errors.UPLOAD_REJECTED, False)
    if not path.is_file():
        raise StepError(f"no uploaded file named '{name}'", errors.UPLOAD_REJECTED, False)
    return str(path)


async def find_element(page: Page, selectors: list[str], timeout_ms: int) -> tuple[str, Locator]:
    """The first selector, in order, that matches an element within the timeout.

    All selectors are polled together, so a working fallback does not wait for the primary
    selector's whole timeout.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        for selector in selectors:
            locator = page.locator(selector)
            try:
                count = await locator.count()
            except PlaywrightError as error:
                raise classify(error, selector) from None
            if count:
                return selector, locator.first
        if time.monotonic() >= deadline:
            tried = ", ".join(repr(s) for s in selectors)
            raise StepError(
                f"no element matches any of {tried} (waited {timeout_ms} ms)",
                errors.SELECTOR_NOT_FOUND,
                True,
            )
        await asyncio.sleep(POLL_INTERVAL_S)


SELECTOR_SYNTAX_MARKERS = (
    "is not a valid selector",
    "Unexpected token",
    "Unknown engine",
    "Failed to parse",
    "Unsupported token",
    "Invalid selector",
)
# Playwright's call log when an action is done and waits for the page it started loading.
NAVIGATION_PENDING_MARKER = "waiting for scheduled navigations to finish"
SESSION_LOST_MARKERS = (
    "Target page, context or browser has been closed",
    "Target closed",
    "Browser has been closed",
    "Browser closed",
    "browser has disconnected",
)


def classify(error: PlaywrightError, selector: str | None = None) -> StepError:
    """Turn a Playwright error into a typed StepError that says whether a retry can help."""
    message = str(error).split("\nCall log:")[0].strip()
    first_line = errors.cut(message.splitlines()[0]) if message else "browser error"
    if any(marker in message for marker in SELECTOR_SYNTAX_MARKERS):
        where = f"selector {selector!r}: " if selector else ""
        return StepError(
            f"invalid selector syntax: {where}{first_line}", errors.INVALID_SELECTOR, False
        )
    if any(marker in message for marker in SESSION_LOST_MARKERS):
        return StepError(f"browser session lost: {first_line}", errors.SESSION_LOST, False)
    if "net::ERR_" in message or "NS_ERROR" in message:
        return StepError(f"navigation failed: {first_line}", errors.NAVIGATION_FAILED, True)
    return StepError(first_line, errors.STEP_ERROR, True)
