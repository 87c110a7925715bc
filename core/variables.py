"""Variables in a test definition: `{{NAME}}` in the start URL, step values and selectors, and a
relative start URL that resolves against `BASE_URL`. Finding the references, and filling them in."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from core.egress import resolve_like_browser

if TYPE_CHECKING:
    from core.definition import Step

REFERENCE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
BASE_URL = "BASE_URL"
HAS_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
STEP_FIELDS = ("value", "selector")

Location = tuple[str | int, ...]


def is_relative(url: str) -> bool:
    """A start URL or navigation without a scheme (and not made of a variable) is relative to
    BASE_URL."""
    return not HAS_SCHEME.match(url) and not url.lstrip().startswith("{{")


def _texts(definition: Mapping[str, Any]) -> Iterator[tuple[Location, str]]:
    """Every text of a definition that may hold a reference, with where it stands."""
    yield ("start_url",), str(definition.get("start_url") or "")
    for index, step in enumerate(definition.get("steps") or []):
        for field in STEP_FIELDS:
            if isinstance(step.get(field), str):
                yield ("steps", index, field), step[field]
        for position, fallback in enumerate(step.get("fallback_selectors") or []):
            yield ("steps", index, "fallback_selectors", position), str(fallback)


def references(definition: Mapping[str, Any]) -> list[tuple[Location, str]]:
    """Each variable a definition uses, with where: a relative start URL uses BASE_URL."""
    found = [(where, m[1]) for where, text in _texts(definition) for m in REFERENCE.finditer(text)]
    if is_relative(str(definition.get("start_url") or "")):
        found.insert(0, (("start_url",), BASE_URL))
    return found


def uses_variables(definition: Mapping[str, Any]) -> bool:
    """Whether the definition needs any variable (cheap: most do not)."""
    start = str(definition.get("start_url") or "")
    return is_relative(start) or any("{{" in text for _, text in _texts(definition))


class VariableMissing(LookupError):
    """A reference that the run's variables do not define; the message names step and name."""


def missing_message(where: Location, name: str, scope: str) -> str:
    """`steps[2].value: variable 'X' is not defined by <scope>`."""
    place = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in where)
    return f"{place.lstrip('.')}: variable '{name}' is not defined by {scope}"


def substitute(
    definition: Mapping[str, Any], values: Mapping[str, str], keep: frozenset[str], scope: str
) -> dict[str, Any]:
    """The definition with every reference filled from `values`, except the names in `keep`
    (secrets, filled in only by the worker); a relative start URL or navigation resolved
    against BASE_URL. VariableMissing for the first reference that neither defines."""
    for where, name in references(definition):
        if name not in values and name not in keep:
            raise VariableMissing(missing_message(where, name, scope))

    def fill(text: str) -> str:
        return REFERENCE.sub(lambda m: m[0] if m[1] in keep else values[m[1]], text)

    filled = dict(definition)
    steps = [dict(step) for step in definition.get("steps") or []]
    base = values.get(BASE_URL)
    start = fill(str(definition["start_url"]))
    relative_start = base and is_relative(start)
    filled["start_url"] = resolve_like_browser(base, start) if relative_start else start
    for step in steps:
        for field in STEP_FIELDS:
            if isinstance(step.get(field), str):
                step[field] = fill(step[field])
        if step.get("fallback_selectors"):
            step["fallback_selectors"] = [fill(str(s)) for s in step["fallback_selectors"]]
        if base and step.get("action") == "navigate" and is_relative(step.get("value") or ""):
            step["value"] = resolve_like_browser(base, step["value"])
    filled["steps"] = steps
    return filled


def fill_secrets(text: str, secrets: Mapping[str, str]) -> str:
    """Text with the references to `secrets` filled (the worker's last step before the page)."""
    return REFERENCE.sub(lambda m: secrets.get(m[1], m[0]), text)


def with_secrets(step: Step, secrets: Mapping[str, str]) -> Step:
    """The step with its references to `secrets` filled in (value, selector, fallbacks)."""
    if not secrets:
        return step
    update: dict[str, Any] = {
        field: fill_secrets(text, secrets)
        for field in STEP_FIELDS
        if isinstance(text := getattr(step, field), str) and "{{" in text
    }
    if any("{{" in fallback for fallback in step.fallback_selectors):
        update["fallback_selectors"] = [fill_secrets(s, secrets) for s in step.fallback_selectors]
    return step.model_copy(update=update) if update else step
