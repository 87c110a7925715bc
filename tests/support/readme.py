"""Code the README shows, run as the README shows it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_function(name: str) -> Callable[..., Any]:
    """The function `name` defined by one of the README's Python blocks, as written there."""
    for block in re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL):
        if f"def {name}(" in block:
            scope: dict[str, Any] = {}
            exec(compile(block, str(README), "exec"), scope)  # noqa: S102 (our own README)
            return scope[name]  # type: ignore[no-any-return]
    raise LookupError(f"the README defines no {name}()")
