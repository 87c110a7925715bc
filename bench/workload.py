"""The test that benchmarks run, and the same test as a plain Playwright script."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

TWENTY_STEPS = [
    {"action": "navigate", "value": "shop.html"},
    {"action": "click", "selector": "#buy"},
    {"action": "assert", "selector": "#total", "value": "42"},
    {"action": "doubleclick", "selector": "#dbl"},
    {"action": "assert", "selector": "#dbl", "value": "double clicked"},
    {"action": "hover", "selector": "#hover"},
    {"action": "assert", "selector": "#hover", "value": "hovered"},
    {"action": "type", "selector": "#email", "value": "a@b.c"},
    {"action": "assert", "selector": "#echo", "value": "a@b.c"},
    {"action": "clear", "selector": "#name"},
    {"action": "select", "selector": "#color", "value": "g"},
    {"action": "assert", "selector": "#picked", "value": "picked g"},
    {"action": "uncheck", "selector": "#agree"},
    {"action": "check", "selector": "#news"},
    {"action": "assert", "selector": "#agreed", "value": "news=true"},
    {"action": "press", "selector": "#keys", "value": "Enter"},
    {"action": "assert", "selector": "#lastkey", "value": "key Enter"},
    {"action": "scroll", "selector": "#bottom"},
    {"action": "navigate", "value": "second.html"},
    {"action": "assert", "selector": "#title", "value": "Second page"},
]


TWENTY_STEPS_EXPECTING = [
    {"action": "navigate", "value": "shop.html"},
    {"action": "click", "selector": "#buy"},
    {"action": "assert", "selector": "#total", "expect": "text", "value": "Total: 42"},
    {"action": "doubleclick", "selector": "#dbl"},
    {"action": "assert", "selector": "#dbl", "expect": "contains", "value": "double clicked"},
    {"action": "hover", "selector": "#hover"},
    {"action": "assert", "selector": "#hover", "expect": "text", "match": "regex", "value": "^hov"},
    {"action": "type", "selector": "#email", "value": "a@b.c"},
    {"action": "assert", "selector": "#email", "expect": "value", "value": "a@b.c"},
    {"action": "clear", "selector": "#name"},
    {"action": "select", "selector": "#color", "value": "g"},
    {"action": "assert", "selector": "#later", "expect": "hidden"},
    {"action": "uncheck", "selector": "#agree"},
    {"action": "check", "selector": "#news"},
    {"action": "assert", "selector": "#news", "expect": "checked"},
    {"action": "press", "selector": "#keys", "value": "Enter"},
    {"action": "assert", "selector": "#agree", "expect": "checked", "not": True},
    {"action": "scroll", "selector": "#bottom"},
    {"action": "navigate", "value": "second.html"},
    {"action": "assert", "expect": "title", "value": "Second"},
]
"""The same 20 steps, its assertions written with the expectations of `assert`."""


def twenty_step_test(base_url: str, expectations: bool = False) -> dict:
    """The benchmark test definition against the demo site at base_url."""
    steps = TWENTY_STEPS_EXPECTING if expectations else TWENTY_STEPS
    return {"name": "twenty steps", "start_url": base_url, "steps": steps}


async def plain_playwright(page: Page, base_url: str) -> None:
    """The same 20 steps as a person would write them with Playwright directly."""
    await page.goto(base_url + "shop.html")
    await page.click("#buy")
    await expect(page.locator("#total")).to_contain_text("42")
    await page.dblclick("#dbl")
    await expect(page.locator("#dbl")).to_contain_text("double clicked")
    await page.hover("#hover")
    await expect(page.locator("#hover")).to_contain_text("hovered")
    await page.fill("#email", "a@b.c")
    await expect(page.locator("#echo")).to_contain_text("a@b.c")
    await page.fill("#name", "")
    await page.select_option("#color", "g")
    await expect(page.locator("#picked")).to_contain_text("picked g")
    await page.uncheck("#agree")
    await page.check("#news")
    await expect(page.locator("#agreed")).to_contain_text("news=true")
    await page.press("#keys", "Enter")
    await expect(page.locator("#lastkey")).to_contain_text("key Enter")
    await page.locator("#bottom").scroll_into_view_if_needed()
    await page.goto(base_url + "second.html")
    await expect(page.locator("#title")).to_contain_text("Second page")


async def plain_playwright_expecting(page: Page, base_url: str) -> None:
    """The expectations' variant as a person would write it with Playwright directly."""
    await page.goto(base_url + "shop.html")
    await page.click("#buy")
    await expect(page.locator("#total")).to_have_text("Total: 42")
    await page.dblclick("#dbl")
    await expect(page.locator("#dbl")).to_contain_text("double clicked")
    await page.hover("#hover")
    await expect(page.locator("#hover")).to_have_text(re.compile("^hov"))
    await page.fill("#email", "a@b.c")
    await expect(page.locator("#email")).to_have_value("a@b.c")
    await page.fill("#name", "")
    await page.select_option("#color", "g")
    await expect(page.locator("#later")).to_be_hidden()
    await page.uncheck("#agree")
    await page.check("#news")
    await expect(page.locator("#news")).to_be_checked()
    await page.press("#keys", "Enter")
    await expect(page.locator("#agree")).not_to_be_checked()
    await page.locator("#bottom").scroll_into_view_if_needed()
    await page.goto(base_url + "second.html")
    await expect(page).to_have_title("Second")
