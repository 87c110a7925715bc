"""Recorder selectors in Playwright's syntax, and the mapping of waits for elements."""

from __future__ import annotations

import pytest

from core.chrome_recording import RecordingInvalid, import_recording, playwright_selector


@pytest.mark.parametrize(
    ("recorded", "playwright"),
    [
        ("#buy", "#buy"),
        ('aria/Buy now[role="button"]', 'role=button[name="Buy now"]'),
        ('aria/Say "hi"', 'text="Say \\"hi\\""'),
        ('xpath///*[@id="buy"]', 'xpath=//*[@id="buy"]'),
        ("text/Buy now", "text=Buy now"),
        ("pierce/#inner", "css=#inner"),
        (["#host", "#inner"], "#host >> #inner"),
        ([], None),
        (42, None),
    ],
)
def test_recorder_selectors_in_playwright_syntax(recorded: object, playwright: str | None) -> None:
    assert playwright_selector(recorded) == playwright


@pytest.mark.parametrize(
    ("wait", "ours"),
    [
        ({}, {"selector": "li", "expect": "visible"}),
        ({"visible": False}, {"selector": "li", "expect": "hidden"}),
        ({"operator": "==", "count": 2}, {"selector": "li", "expect": "count", "value": "2"}),
        ({"operator": ">=", "count": 3}, {"selector": "li >> nth=2", "expect": "attached"}),
        ({"count": 3}, {"selector": "li >> nth=2", "expect": "attached"}),
        ({"operator": "<=", "count": 3}, {"selector": "li >> nth=3", "expect": "detached"}),
    ],
)
def test_a_wait_for_elements_becomes_the_matching_expectation(wait: dict, ours: dict) -> None:
    flow = {
        "title": "t",
        "steps": [
            {"type": "navigate", "url": "http://127.0.0.1:8001/"},
            {"type": "waitForElement", "selectors": [["li"]], **wait},
        ],
    }
    [step] = import_recording(flow).definition["steps"]
    assert step == {"action": "assert", **ours}


def test_a_key_pressed_and_released_is_one_press_and_a_later_navigation_a_step() -> None:
    flow = {
        "title": "keys",
        "steps": [
            {"type": "navigate", "url": "http://127.0.0.1:8001/a"},
            {"type": "keyDown", "key": "Enter"},
            {"type": "keyUp", "key": "Enter"},
            {"type": "navigate", "url": "http://127.0.0.1:8001/b", "timeout": 2000},
        ],
    }
    imported = import_recording(flow, name="renamed")
    assert imported.definition == {
        "name": "renamed",
        "start_url": "http://127.0.0.1:8001/a",
        "steps": [
            {"action": "press", "value": "Enter"},
            {"action": "navigate", "value": "http://127.0.0.1:8001/b", "timeout_ms": 2000},
        ],
    }
    assert imported.unmapped == []


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"type": "keyDown", "key": ["Enter"]}, "steps[1].key: must be a JSON string"),
        ({"type": "click", "selectors": "#a"}, "steps[1].selectors: must be a JSON array"),
        ({"type": "scroll", "y": "far"}, "steps[1].y: must be a number"),
        (
            {"type": "waitForElement", "selectors": ["#a"], "count": True},
            "steps[1].count: must be a JSON integer",
        ),
        (
            {"type": "waitForElement", "selectors": ["#a"], "operator": "!="},
            "steps[1].operator: one of >=, ==, <=",
        ),
        ({"type": "click", "selectors": ["#a"], "assertedEvents": {}}, "assertedEvents"),
    ],
)
def test_a_field_of_the_wrong_type_is_named(step: dict, message: str) -> None:
    flow = {"title": "t", "steps": [{"type": "navigate", "url": "http://127.0.0.1:8001/"}, step]}
    with pytest.raises(RecordingInvalid) as invalid:
        import_recording(flow)
    assert message in str(invalid.value)
