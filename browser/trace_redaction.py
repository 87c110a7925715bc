"""Removing credentials from a saved Playwright trace, file by file inside its zip."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from core.redaction import redactor_for


def redact_trace(path: Path, secrets: set[str]) -> int:
    """Rewrite the trace at `path` with every spelling of the secrets replaced by ***; return
    how many files changed. Playwright records `fill` values, input values in DOM snapshots,
    request bodies and headers; the login is not traced, and this catches what a later page
    shows or sends."""
    if not secrets:
        return 0
    redactor = redactor_for(frozenset(secrets))
    changed = 0
    scrubbed = path.with_suffix(".redacting")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(scrubbed, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            clean = redactor.data(data)
            changed += clean != data
            target.writestr(item, clean, compress_type=zipfile.ZIP_DEFLATED)
    os.replace(scrubbed, path)
    return changed
