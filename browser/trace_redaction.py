"""Removing credentials from a saved Playwright trace, file by file inside its zip."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from core.secrets import REDACTED


def redact_trace(path: Path, forms: set[str]) -> int:
    """Rewrite the trace at `path` with every form replaced by ***; return how many files
    changed. Playwright records `fill` values, input values in DOM snapshots and request bodies;
    the login is not traced, and this catches what a later page shows or sends."""
    patterns = sorted({form.encode() for form in forms if form}, key=len, reverse=True)
    if not patterns:
        return 0
    changed = 0
    scrubbed = path.with_suffix(".redacting")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(scrubbed, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            clean = data
            for pattern in patterns:
                clean = clean.replace(pattern, REDACTED.encode())
            changed += clean != data
            target.writestr(item, clean, compress_type=zipfile.ZIP_DEFLATED)
    os.replace(scrubbed, path)
    return changed
