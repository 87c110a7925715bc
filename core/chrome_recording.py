"""Recordings of Chrome DevTools Recorder (the JSON user flow that `@puppeteer/replay` defines)
as test definitions: each step type mapped to ours, each step's selectors to Playwright's, and
every step that cannot be mapped reported by index and type instead of dropped silently."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

STEP_TYPES = (
    "change",
    "click",
    "close",
    "customStep",
    "doubleClick",
    "emulateNetworkConditions",
    "hover",
    "keyDown",
    "keyUp",
    "navigate",
    "scroll",
    "setViewport",
    "waitForElement",
    "waitForExpression",
)
NOT_MAPPED = {
    "waitForExpression": "it runs JavaScript in the page, which a test here cannot do: check the"
    " page with an `assert` (url, title, text, count, ...) instead",
    "close": "a test's page closes when the run ends",
    "customStep": "custom steps belong to the Recorder extension that made them",
    "emulateNetworkConditions": "network throttling is not a test setting here",
}
REQUIRED = {
    "navigate": ("url",),
    "click": ("selectors",),
    "doubleClick": ("selectors",),
    "hover": ("selectors",),
    "change": ("selectors", "value"),
    "keyDown": ("key",),
    "keyUp": ("key",),
    "setViewport": ("width", "height"),
    "waitForElement": ("selectors",),
    "waitForExpression": ("expression",),
}
NUMBER = (int, float)
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "url": (str,),
    "key": (str,),
    "value": (str,),
    "expression": (str,),
    "target": (str,),
    "button": (str,),
    "operator": (str,),
    "selectors": (list,),
    "frame": (list,),
    "assertedEvents": (list,),
    "attributes": (dict,),
    "properties": (dict,),
    "width": (int,),
    "height": (int,),
    "count": (int,),
    "visible": (bool,),
    "x": NUMBER,
    "y": NUMBER,
    "timeout": NUMBER,
}
"""The fields the mapping reads, and the JSON types the schema gives them."""
OPERATORS = (">=", "==", "<=")
ARIA = re.compile(r'^(?P<name>.*?)(?:\[role="(?P<role>[a-z]+)"\])?$', re.DOTALL)
MAX_STEPS = 500
MAX_FALLBACKS = 20


class RecordingInvalid(ValueError):
    """Not a Recorder user flow; the message names the step and the field."""


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A recording step (or part of one) that the test does not do, and why."""

    index: int
    type: str
    reason: str


@dataclass(slots=True)
class Imported:
    """The test definition made of a recording, and what of it could not be mapped."""

    definition: dict[str, Any]
    unmapped: list[Unmapped] = field(default_factory=list)


def playwright_selector(selector: object) -> str | None:
    """A Recorder selector (`aria/Name[role="button"]`, `xpath///a`, `text/Buy`, `pierce/#x`,
    CSS, or a list of those through shadow roots) in Playwright's syntax; None if unusable."""
    parts = [selector] if isinstance(selector, str) else selector
    if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
        return None
    return " >> ".join(_one_selector(part) for part in parts)


def _one_selector(selector: str) -> str:
    if selector.startswith("aria/"):
        aria = ARIA.match(selector[5:])
        assert aria is not None  # the pattern matches every string
        name = json.dumps(aria["name"])
        return f"role={aria['role']}[name={name}]" if aria["role"] else f"text={name}"
    if selector.startswith("xpath/"):
        return "xpath=" + selector[6:]
    if selector.startswith("text/"):
        return "text=" + selector[5:]
    if selector.startswith("pierce/"):
        return "css=" + selector[7:]  # Playwright's CSS goes through open shadow roots
    return selector


def import_recording(data: object, name: str | None = None) -> Imported:
    """The test of a Recorder recording (RecordingInvalid if it is none): its first navigation
    is the start URL, the rest of its steps become ours (see docs/steps.md)."""
    steps = _checked(data)
    assert isinstance(data, dict)
    mapper = _Mapper()
    for index, step in enumerate(steps):
        mapper.add(index, step)
    if mapper.start_url is None:
        raise RecordingInvalid("steps: the recording has no navigate step to start from")
    if not mapper.steps:
        raise RecordingInvalid("steps: nothing of the recording after its first navigation maps")
    definition: dict[str, Any] = {
        "name": (name or str(data["title"]))[:200],
        "start_url": mapper.start_url,
        "steps": mapper.steps,
    }
    if isinstance(data.get("timeout"), int | float) and 100 <= data["timeout"] <= 600_000:
        definition["step_timeout_ms"] = int(data["timeout"])
    if mapper.viewport is not None:
        definition["viewport"] = mapper.viewport
    return Imported(definition, mapper.unmapped)


def _checked(data: object) -> list[Mapping[str, Any]]:
    """The recording's steps, if it is a user flow of known step types with their fields."""
    if not isinstance(data, dict):
        raise RecordingInvalid("a recording is a JSON object with `title` and `steps`")
    if not isinstance(data.get("title"), str) or not data["title"].strip():
        raise RecordingInvalid("title: a recording needs a title")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise RecordingInvalid("steps: a recording needs a list of steps")
    if len(steps) > MAX_STEPS:
        raise RecordingInvalid(f"steps: at most {MAX_STEPS} steps")
    for index, step in enumerate(steps):
        kind = step.get("type") if isinstance(step, dict) else None
        if kind not in STEP_TYPES:
            raise RecordingInvalid(
                f"steps[{index}].type: unknown step type {json.dumps(kind)}"
                f" (a Recorder step is one of {', '.join(STEP_TYPES)})"
            )
        for needed in REQUIRED.get(kind, ()):
            if step.get(needed) in (None, "", []):
                raise RecordingInvalid(f"steps[{index}].{needed}: a {kind} step needs {needed}")
        _check_types(index, step)
    return steps


def _check_types(index: int, step: Mapping[str, Any]) -> None:
    """Each field the mapping reads has its schema's type."""
    for name, types in FIELD_TYPES.items():
        given = step.get(name)
        if given is None:
            continue
        wrong_bool = isinstance(given, bool) and bool not in types
        if wrong_bool or not isinstance(given, types):
            kind = "a number" if types == NUMBER else f"a JSON {_JSON_NAMES[types[0]]}"
            raise RecordingInvalid(f"steps[{index}].{name}: must be {kind}")
    if step.get("operator") not in (None, *OPERATORS):
        raise RecordingInvalid(f"steps[{index}].operator: one of {', '.join(OPERATORS)}")


_JSON_NAMES = {str: "string", list: "array", dict: "object", int: "integer", bool: "boolean"}


class _Mapper:
    """Recording steps to ours, one at a time (a keyUp folds into its keyDown's press)."""

    def __init__(self) -> None:
        self.start_url: str | None = None
        self.viewport: dict[str, int] | None = None
        self.steps: list[dict[str, Any]] = []
        self.unmapped: list[Unmapped] = []
        self._keys_down: set[str] = set()
        self._handlers: dict[str, Callable[[int, Mapping[str, Any]], list[dict[str, Any]]]] = {
            "navigate": self._navigate,
            "click": self._click,
            "doubleClick": self._targeted("doubleclick"),
            "hover": self._targeted("hover"),
            "change": self._targeted("change"),
            "keyDown": self._key_down,
            "keyUp": self._key_up,
            "scroll": self._scroll,
            "setViewport": self._set_viewport,
            "waitForElement": self._wait_for_element,
        }

    def add(self, index: int, step: Mapping[str, Any]) -> None:
        kind = step["type"]
        if kind in NOT_MAPPED:
            return self._skip(index, kind, NOT_MAPPED[kind])
        if step.get("frame"):
            return self._skip(index, kind, "steps inside frames are not supported")
        if step.get("target", "main") != "main":
            return self._skip(index, kind, "steps in another tab or window are not supported")
        try:
            ours = self._handlers[kind](index, step)
        except _NotMapped as why:
            return self._skip(index, kind, str(why))
        timeout = step.get("timeout")
        for mapped in ours:
            if isinstance(timeout, int | float) and 100 <= timeout <= 600_000:
                mapped.setdefault("timeout_ms", int(timeout))
        self.steps += ours
        self.steps += self._asserted_events(step)
        return None

    def _skip(self, index: int, kind: str, reason: str) -> None:
        self.unmapped.append(Unmapped(index, kind, reason))

    def _navigate(self, index: int, step: Mapping[str, Any]) -> list[dict[str, Any]]:
        if self.start_url is None and not self.steps:
            self.start_url = str(step["url"])
            return []
        return [{"action": "navigate", "value": str(step["url"])}]

    def _click(self, index: int, step: Mapping[str, Any]) -> list[dict[str, Any]]:
        button = step.get("button", "primary")
        if button not in ("primary", "secondary"):
            raise _NotMapped(f"a click of the {button} button")
        action = "rightclick" if button == "secondary" else "click"
        return self._targeted(action)(index, step)

    def _targeted(self, action: str) -> Callable[[int, Mapping[str, Any]], list[dict[str, Any]]]:
        def mapped(index: int, step: Mapping[str, Any]) -> list[dict[str, Any]]:
            ours = {"action": action, **_selectors(step)}
            if action == "change":
                ours["value"] = str(step["value"])
            return [ours]

        return mapped

    def _key_down(self, index: int, step: Mapping[str, Any]) -> list[dict[str, Any]]:
        self._keys_down.add(step["key"])
        return [{"action": "press", "value": str(step["key"])}]

    def _key_up(self, index: int, step: Mapping[str, Any]) -> list[dict[str, Any]]:
        if step["key"] not in self._keys_down:
            raise _NotMapped("a key released that the recording never pressed")
        self._keys_down.discard(step["key"])
        return []  # its keyDown's press released it

    def _scroll(self, index: int, step: Mapping[str, Any]) -> list[dict[str, Any]]:
        if step.get("selectors"):
            return [{"action": "scroll", **_selectors(step)}]
        return [{"action": "scroll", "value": str(int(step.get("y") or 0))}]

    def _set_viewport(self, index: int, step: Mapping[str, Any]) -> list[dict[str, Any]]:
        size = {"width": int(step["width"]), "height": int(step["height"])}
        if self.viewport is not None and size != self.viewport:
            raise _NotMapped("the viewport is a test setting: only the first size is kept")
        self.viewport = size
        return []

    def _wait_for_element(self, index: int, step: Mapping[str, Any]) -> list[dict[str, Any]]:
        selectors = _selectors(step)
        visible = step.get("visible", True)
        count, operator = step.get("count"), step.get("operator", ">=")
        if count is None or (operator == ">=" and count == 1):
            ours = [{"action": "assert", **selectors, "expect": "visible" if visible else "hidden"}]
        elif operator == "==":
            ours = [{"action": "assert", **selectors, "expect": "count", "value": str(count)}]
        else:  # >= n: the n-th element exists; <= n: the (n+1)-th does not
            nth = count - 1 if operator == ">=" else count
            expect = "attached" if operator == ">=" else "detached"
            ours = [{"action": "assert", **_nth(selectors, nth), "expect": expect}]
        for attribute, value in (step.get("attributes") or {}).items():
            ours.append(
                {
                    "action": "assert",
                    **selectors,
                    "expect": "attribute",
                    "name": attribute,
                    "value": str(value),
                }
            )
        if step.get("properties"):
            names = ", ".join(sorted(step["properties"]))
            self._skip(index, "waitForElement", f"its properties ({names}) are not checked")
        return ours

    @staticmethod
    def _asserted_events(step: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A navigation the step caused: a wait for its URL, and its title checked."""
        ours: list[dict[str, Any]] = []
        for event in step.get("assertedEvents") or []:
            if not isinstance(event, dict) or event.get("type") != "navigation":
                continue
            if event.get("url"):
                pattern = f"^{re.escape(str(event['url']))}$"
                ours.append({"action": "wait", "for": "url", "match": "regex", "value": pattern})
            if event.get("title"):
                ours.append({"action": "assert", "expect": "title", "value": str(event["title"])})
        return ours


class _NotMapped(Exception):
    """Why one recording step has no counterpart here."""


def _selectors(step: Mapping[str, Any]) -> dict[str, Any]:
    """A step's selectors as our primary selector and fallbacks (duplicates dropped)."""
    converted: list[str] = []
    for selector in step.get("selectors") or []:
        mapped = playwright_selector(selector)
        if mapped and mapped not in converted:
            converted.append(mapped)
    if not converted:
        raise _NotMapped("none of its selectors can be used")
    ours: dict[str, Any] = {"selector": converted[0]}
    if fallbacks := converted[1 : MAX_FALLBACKS + 1]:
        ours["fallback_selectors"] = fallbacks
    return ours


def _nth(selectors: dict[str, Any], nth: int) -> dict[str, Any]:
    """The selectors of the nth match (0-based)."""
    ours: dict[str, Any] = {"selector": f"{selectors['selector']} >> nth={nth}"}
    if fallbacks := selectors.get("fallback_selectors"):
        ours["fallback_selectors"] = [f"{s} >> nth={nth}" for s in fallbacks]
    return ours
