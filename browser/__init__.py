"""Playwright and Chromium: the browser pool and the actions a step can take."""
