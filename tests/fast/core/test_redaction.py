"""Redaction: every spelling a browser or a page can make of a secret is removed."""

from __future__ import annotations

import html
import json
from urllib.parse import quote

import pytest

from core.definition import AuthFlowDefinition
from core.redaction import Redactor, redact
from tests.support.secrets import spellings

PASSWORD = "Tr0ub4dor*3~"
USERNAME = "alice-ops"


@pytest.mark.parametrize("name,spelled", sorted(spellings(PASSWORD, USERNAME).items()))
def test_every_spelling_of_a_password_is_removed_from_text_and_bytes(
    name: str, spelled: str
) -> None:
    redactor = Redactor({PASSWORD, USERNAME})
    text = f"u={USERNAME}&p={spelled}&next=1"
    cleaned = redactor.text(text)
    assert "***" in cleaned and "next=1" in cleaned, cleaned
    for form in spellings(PASSWORD, USERNAME).values():
        assert form not in cleaned
    assert USERNAME not in cleaned
    assert b"***" in redactor.data(text.encode())
    assert PASSWORD.encode() not in redactor.data(text.encode())


def test_non_ascii_secrets_in_their_utf8_spellings() -> None:
    secret = "pässwörd€😀"
    redactor = Redactor({secret})
    for spelled in (
        secret,
        quote(secret),
        json.dumps(secret)[1:-1],
        secret.upper(),
        html.escape(secret),
    ):
        assert redactor.text(f"[{spelled}]") == "[***]", spelled
        assert redactor.data(f"[{spelled}]".encode()) == b"[***]", spelled


def test_ordinary_text_stays_as_it_was() -> None:
    text = "Welcome back! Your order Tr0ub total is 42.00 EUR; alice ops on call."
    assert redact(text, {PASSWORD, USERNAME}) == text
    assert redact(text, set()) == text


def test_secrets_shorter_than_four_characters_are_refused_at_definition() -> None:
    flow = {
        "name": "login",
        "login_url": "http://127.0.0.1:8001/login.html",
        "steps": [{"action": "type", "selector": "#p", "value": "{{password}}"}],
        "credentials": {"username": "alice", "password": "abc"},
    }
    with pytest.raises(ValueError, match="credentials.password: must be at least 4"):
        AuthFlowDefinition.model_validate(flow)
    flow["credentials"] = {"username": "al", "password": "long-enough"}
    with pytest.raises(ValueError, match="credentials.username: must be at least 4"):
        AuthFlowDefinition.model_validate(flow)
    flow["credentials"] = {"username": "alice", "password": "abcd"}
    assert AuthFlowDefinition.model_validate(flow).credentials.password == "abcd"
