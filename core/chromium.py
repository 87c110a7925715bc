"""Finding and launching the Chromium that Playwright drives."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

DEBIAN_CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

PLAYWRIGHT_DISABLED_FEATURES = (
    "AimEnabled",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsFirstBalancedModeAutoEnable",
    "HttpsUpgrades",
    "LensOverlay",
    "MediaRouter",
    "NetworkTimeServiceQuerying",
    "OptimizationHints",
    "PaintHolding",
    "PreconnectToSearch",
    "TcpPortRandomizationWin",
    "ThirdPartyStoragePartitioning",
    "msEdgeUpdateLaunchServicesPreferredVersion",
    "msForceBrowserSignIn",
)
"""The features Playwright's launcher disables (its own `--disable-features` switch). Chromium
keeps only the last `--disable-features` of a command line, so ours repeats them."""

DISABLED_FEATURES = (
    *PLAYWRIGHT_DISABLED_FEATURES,
    "SpareRendererForSitePerProcess",
    # Every new window (each browser context's first page) would load the omnibox popup's
    # WebUI, about 400 script modules in a renderer of its own: about 0.5 s of CPU per context
    # that no page ever uses (Chromium 156).
    "WebUIOmniboxAimPopup",
    "WebUIOmniboxFullPopup",
    "WebUIOmniboxPopup",
)

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-features=" + ",".join(DISABLED_FEATURES),
]
"""Flags for a headless Chromium on a machine with a closed network, possibly as root."""


def chromium_executable(configured: str | None) -> str | None:
    """CHROMIUM_PATH if set, else Debian's Chromium, else None (Playwright's own browser)."""
    if configured:
        if not Path(configured).exists():
            raise FileNotFoundError(f"CHROMIUM_PATH {configured} does not exist")
        return configured
    for candidate in DEBIAN_CHROMIUM_PATHS:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


BROWSER_ENVIRONMENT = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
"""The only variables Chromium inherits: it runs tenants' pages, and the service's environment
holds its secrets (tokens, keys, database and Redis URLs)."""


def chromium_environment() -> dict[str, str | float | bool]:
    """The worker's environment reduced to what a browser needs."""
    return {name: os.environ[name] for name in BROWSER_ENVIRONMENT if name in os.environ}
