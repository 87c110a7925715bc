"""Variables in a definition: found where they stand, filled in, secrets left to the worker."""

from __future__ import annotations

from typing import Any

import pytest

from core.definition import Step, parse_test
from core.variables import (
    VariableMissing,
    fill_secrets,
    references,
    substitute,
    uses_variables,
    with_secrets,
)

DEFINITION: dict[str, Any] = {
    "name": "login",
    "start_url": "/login",
    "steps": [
        {"action": "type", "selector": "#user", "value": "{{ USER }}"},
        {"action": "type", "selector": "#pass", "value": "{{PASSWORD}}"},
        {"action": "click", "selector": "[data-env={{ENV}}]", "fallback_selectors": ["#{{ENV}}"]},
        {"action": "navigate", "value": "/account"},
        {"action": "assert", "expect": "url", "match": "contains", "value": "{{ENV}}"},
    ],
}


def test_references_name_each_field_and_a_relative_start_url_needs_base_url() -> None:
    assert references(DEFINITION) == [
        (("start_url",), "BASE_URL"),
        (("steps", 0, "value"), "USER"),
        (("steps", 1, "value"), "PASSWORD"),
        (("steps", 2, "selector"), "ENV"),
        (("steps", 2, "fallback_selectors", 0), "ENV"),
        (("steps", 4, "value"), "ENV"),
    ]
    plain = {"name": "t", "start_url": "http://127.0.0.1/", "steps": [{"action": "reload"}]}
    assert references(plain) == [] and not uses_variables(plain)
    assert uses_variables(DEFINITION)


def test_substitute_fills_values_resolves_against_base_url_and_keeps_secrets() -> None:
    values = {"BASE_URL": "http://127.0.0.1:8080/app/", "USER": "bob", "ENV": "staging"}
    filled = substitute(DEFINITION, values, frozenset({"PASSWORD"}), "the project")
    assert filled["start_url"] == "http://127.0.0.1:8080/login"
    steps = filled["steps"]
    assert steps[0]["value"] == "bob"
    assert steps[1]["value"] == "{{PASSWORD}}", "a secret is filled in only by the worker"
    assert steps[2]["selector"] == "[data-env=staging]"
    assert steps[2]["fallback_selectors"] == ["#staging"]
    assert steps[3]["value"] == "http://127.0.0.1:8080/account"
    assert steps[4]["value"] == "staging"
    assert DEFINITION["steps"][0]["value"] == "{{ USER }}", "the stored definition is untouched"
    parse_test(filled)  # what the run receives is a valid definition


def test_a_missing_variable_names_the_step_the_field_and_where_it_was_looked_for() -> None:
    values = {"BASE_URL": "http://127.0.0.1:8080", "USER": "bob"}
    with pytest.raises(VariableMissing) as missing:
        substitute(DEFINITION, values, frozenset({"PASSWORD"}), "environment 'staging'")
    assert str(missing.value) == (
        "steps[2].selector: variable 'ENV' is not defined by environment 'staging'"
    )
    with pytest.raises(VariableMissing, match=r"^start_url: variable 'BASE_URL'"):
        substitute(DEFINITION, {}, frozenset(), "the project")


def test_the_worker_fills_secrets_into_value_selector_and_fallbacks() -> None:
    step = Step.model_validate(
        {
            "action": "type",
            "selector": "#{{K}}",
            "fallback_selectors": ["[name={{K}}]"],
            "value": "{{K}}!",
        }
    )
    filled = with_secrets(step, {"K": "s3cret"})
    assert (filled.selector, filled.fallback_selectors, filled.value) == (
        "#s3cret",
        ["[name=s3cret]"],
        "s3cret!",
    )
    assert with_secrets(step, {}) is step
    assert fill_secrets("a {{ K }} {{OTHER}}", {"K": "x"}) == "a x {{OTHER}}"


@pytest.mark.parametrize(
    ("start_url", "accepted"),
    [
        ("http://127.0.0.1/", True),
        ("/relative/path", True),
        ("relative.html", True),
        ("{{BASE_URL}}/x", True),
        ("ftp://x", False),
        ("javascript:alert(1)", False),
    ],
)
def test_start_url_is_absolute_relative_or_a_variable(start_url: str, accepted: bool) -> None:
    definition = {"name": "t", "start_url": start_url, "steps": [{"action": "reload"}]}
    if accepted:
        parse_test(definition)
    else:
        with pytest.raises(ValueError, match="start_url: must be an absolute http"):
            parse_test(definition)
