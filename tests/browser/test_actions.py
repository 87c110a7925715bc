"""Step failures name their cause: a slow navigation after a click is not a missing element."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from browser.actions import StepContext, StepError, perform
from core import errors
from core.chromium import LAUNCH_ARGS, chromium_executable
from core.definition import Step


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable(None), args=LAUNCH_ARGS
        )
        yield await browser.new_page()
        await browser.close()


def context(tmp_path: Path, timeout_ms: int) -> StepContext:
    return StepContext("", timeout_ms, tmp_path / "artifacts", "step-1", tmp_path / "uploads")


async def test_a_click_whose_navigation_outlasts_the_timeout_does_not_blame_the_selector(
    page: Page, pages_url: str, tmp_path: Path
) -> None:
    await page.goto(pages_url + "form-to/slow?ms=5000")
    click = Step(action="click", selector="#send")
    with pytest.raises(StepError) as failure:  # room for the click itself on a loaded machine
        await perform(page, click, context(tmp_path, 2000))
    assert failure.value.error_type == errors.NAVIGATION_FAILED, failure.value
    assert str(failure.value) == (
        "'#send' was acted on, but the navigation it started did not finish within 2000 ms"
    )
    await page.locator("#arrived").wait_for(timeout=10_000)  # the click was real


async def test_a_missing_element_is_named_as_missing(
    page: Page, pages_url: str, tmp_path: Path
) -> None:
    await page.goto(pages_url + "form-to/slow?ms=0")
    with pytest.raises(StepError) as failure:
        await perform(page, Step(action="click", selector="#absent"), context(tmp_path, 300))
    assert failure.value.error_type == errors.SELECTOR_NOT_FOUND
    assert str(failure.value) == "no element matches '#absent' (waited 300 ms)"


async def test_a_click_whose_navigation_finishes_in_time_passes(
    page: Page, pages_url: str, tmp_path: Path
) -> None:
    await page.goto(pages_url + "form-to/slow?ms=0")
    await perform(page, Step(action="click", selector="#send"), context(tmp_path, 5000))
    await page.locator("#arrived").wait_for(timeout=5000)
