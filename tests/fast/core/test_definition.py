"""The test definition format: what is accepted, and what is rejected with which message."""

from __future__ import annotations

import pytest

from core.definition import ACTIONS, InvalidDefinition, RetrySettings, parse_test


def definition(*steps: dict, **fields: object) -> dict:
    return {"name": "t", "start_url": "http://127.0.0.1:8000/shop", "steps": list(steps), **fields}


def test_the_spec_example_is_valid_with_defaults() -> None:
    test = parse_test(
        definition(
            {"action": "click", "selector": "#buy", "fallback_selectors": ["text=Buy now"]},
            {"action": "type", "selector": "#email", "value": "a@b.c"},
            {"action": "assert", "selector": "#total", "value": "42"},
        )
    )
    assert test.timeout_s == 300
    assert test.retry == RetrySettings(max_attempts=3, initial_interval_s=2, backoff_coefficient=2)
    assert test.steps[0].selectors == ["#buy", "text=Buy now"]


def test_there_are_sixteen_actions() -> None:
    assert len(ACTIONS) == 16


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"action": "teleport"}, "steps[1].action: Input should be 'navigate'"),
        ({"action": "click"}, "steps[1]: selector: action 'click' needs a selector"),
        ({"action": "type", "selector": "#a"}, "steps[1]: value: action 'type' needs a value"),
        ({"action": "navigate"}, "steps[1]: value: action 'navigate' needs a value"),
        ({"action": "wait"}, "steps[1]: value: 'wait' needs milliseconds"),
        ({"action": "wait", "value": "soon"}, "steps[1]: value: 'wait' needs milliseconds"),
        ({"action": "scroll", "value": "down"}, "steps[1]: value: 'scroll' takes pixels"),
        ({"action": "upload", "selector": "#f", "value": "../etc/passwd"}, "plain file name"),
        ({"action": "click", "selector": "#a", "colour": "red"}, "steps[1].colour: Extra inputs"),
        ({"action": "press", "fallback_selectors": ["#a"], "value": "Enter"}, "without a primary"),
    ],
)
def test_invalid_steps_name_the_step_index_and_the_field(step: dict, message: str) -> None:
    with pytest.raises(InvalidDefinition) as raised:
        parse_test(definition({"action": "click", "selector": "#ok"}, step))
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start_url": "ftp://x"}, "start_url: must be an absolute http(s) URL"),
        ({"timeout_s": 0}, "timeout_s: Input should be greater than or equal to 1"),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts"),
        ({"steps": []}, "steps: List should have at least 1 item"),
    ],
)
def test_invalid_test_fields_are_named(fields: dict, message: str) -> None:
    with pytest.raises(InvalidDefinition) as raised:
        parse_test(definition({"action": "click", "selector": "#ok"}, **fields))
    assert message in str(raised.value)


def test_numbers_are_accepted_where_text_is_expected() -> None:
    test = parse_test(
        definition({"action": "wait", "value": 500}, {"action": "scroll", "value": 300})
    )
    assert [s.value for s in test.steps] == ["500", "300"]


def test_backoff_is_exponential_and_capped() -> None:
    policy = RetrySettings(
        max_attempts=6, initial_interval_s=2, backoff_coefficient=2, max_interval_s=10
    )
    assert [policy.wait_before(n) for n in range(2, 7)] == [2, 4, 8, 10, 10]
