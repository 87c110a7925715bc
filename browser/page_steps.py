"""Steps on the page as a whole: back, forward and reload through its history, and waits for a
URL, a load state or a network response. Every request they cause goes through the context's
egress gate like any other."""

from __future__ import annotations

import re

from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from browser.step_error import StepError
from core import errors
from core.definition import Step

HISTORY_STEPS = ("back", "forward", "reload")

RESPONSE_SEEN = """([source, status]) => {
  const pattern = new RegExp(source);
  const entries = [...performance.getEntriesByType("navigation"),
                   ...performance.getEntriesByType("resource")];
  return entries.some(entry => pattern.test(entry.name)
    && (!status || entry.responseStatus === status));
}"""
"""Whether the document, or any resource it loaded, has answered from a matching URL (with
the status, if one is given): a response that came before the wait began counts too."""


async def history_step(page: Page, action: str, timeout: int) -> None:
    """Back, forward or reload, waiting for the page it lands on to load (a step within the
    same document, such as a hash route, has nothing to load)."""
    go = {"back": page.go_back, "forward": page.go_forward, "reload": page.reload}[action]
    try:
        response = await go(timeout=timeout)
    except PlaywrightTimeout:
        raise StepError(
            f"{action}: the page did not load within {timeout} ms", errors.NAVIGATION_FAILED, True
        ) from None
    if response is not None and response.status >= 500:
        raise StepError(
            f"{action} to {page.url} answered HTTP {response.status}",
            errors.NAVIGATION_FAILED,
            True,
        )


async def wait_for(page: Page, step: Step, timeout: int) -> None:
    """Wait up to `timeout` ms for the URL, the load state or the response the step names."""
    value = step.value or ""
    try:
        if step.wait_for == "url":
            wanted = re.compile(value) if step.match == "regex" else value
            await page.wait_for_url(wanted, wait_until="commit", timeout=timeout)
        elif step.wait_for == "load_state":
            await page.wait_for_load_state(value, timeout=timeout)  # type: ignore[arg-type]
        else:
            source = value if step.match == "regex" else glob_to_regex(value)
            await page.wait_for_function(
                RESPONSE_SEEN, arg=[source, step.status or 0], timeout=timeout, polling=100
            )
    except PlaywrightTimeout:
        raise StepError(
            f"waited {timeout} ms for {_waited_for(step)}; the page is at {page.url}",
            errors.STEP_ERROR,
            True,
        ) from None


def _waited_for(step: Step) -> str:
    value = step.value or ""
    if step.wait_for == "url":
        return f"the URL to match {value!r}"
    if step.wait_for == "load_state":
        return f"the load state {value!r}"
    status = f" with status {step.status}" if step.status else ""
    return f"a response from {value!r}{status}"


def glob_to_regex(glob: str) -> str:
    """Playwright's URL glob as a regular expression: `**` any characters, `*` any but `/`,
    `{a,b}` either; the rest literal, and the whole URL must match."""
    out, index = ["^"], 0
    while index < len(glob):
        char = glob[index]
        if glob.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "{":
            end = glob.find("}", index)
            if end == -1:
                out.append(re.escape(char))
            else:
                options = glob[index + 1 : end].split(",")
                out.append("(?:" + "|".join(re.escape(option) for option in options) + ")")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    out.append("$")
    return "".join(out)
