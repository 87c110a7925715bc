"""A dashboard page signed in with a token."""

from __future__ import annotations

from playwright.async_api import Browser, Page


async def signed_in(browser: Browser, base_url: str, token: str) -> Page:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{base_url}/ui/")
    await page.fill("#token", token)
    await page.click("button:has-text('Sign in')")
    return page
