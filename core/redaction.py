"""Finding a secret in every spelling a browser or a page can make of it, and removing it.

A secret reaches text (a step's error, an event, a log line, a JUnit report) and files (a
trace's network log, DOM snapshots and resources) in many spellings: URL and form encoding
(once or twice), HTML entities, JSON and JavaScript string escapes, another case (a page's
`text-transform`), base64, and with whitespace or zero-width characters between its
characters (a page's letter spacing, or a deliberate split). One pattern per set of secrets
matches all of them at once: each character of a secret is an alternation of its spellings,
and a run of separators may stand between two characters.
"""

from __future__ import annotations

import base64
import functools
import html.entities
import re
from collections.abc import Iterable

REDACTED = "***"
MIN_SECRET_LENGTH = 4
"""Shorter secrets are refused at definition: their spellings would match ordinary text."""

SEPARATORS = " \t\n\r\f\v\u00a0\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
"""Characters a page can put between a secret's characters without changing how it reads."""

_ENTITY_NAMES: dict[int, set[str]] = {}
for _name, _char in html.entities.html5.items():
    if len(_char) == 1:
        _ENTITY_NAMES.setdefault(ord(_char), set()).add(_name.rstrip(";"))


def _literal(text: str, as_bytes: bool) -> str:
    """The regex source for `text` itself (its UTF-8 bytes in a bytes pattern)."""
    if as_bytes:
        return "".join(re.escape(c) if c.isascii() else _utf8(c) for c in text)
    return re.escape(text)


def _utf8(char: str) -> str:
    return "".join(f"\\x{byte:02x}" for byte in char.encode())


def _spellings(char: str, as_bytes: bool) -> list[str]:
    """Regex sources for every way one character can be written in text a browser makes."""
    code = ord(char)
    spelled = {_literal(variant, as_bytes) for variant in {char, char.upper(), char.lower()}}
    spelled.add("".join(f"%(?:25)*{byte:02x}" for byte in char.encode()))  # URL, once or twice
    if char == " ":
        spelled.add(r"\+")  # form encoding
    spelled |= {f"&#0*{code};?", f"&#x0*{code:x};?"}  # HTML numeric entities
    spelled |= {re.escape("&" + name) + ";?" for name in _ENTITY_NAMES.get(code, ())}
    if code <= 0xFFFF:
        spelled.add(f"\\\\u{code:04x}")  # JSON and JS
    else:  # a surrogate pair in JSON
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        spelled.add(f"\\\\u{high:04x}\\\\u{low:04x}")
    spelled.add(f"\\\\u\\{{0*{code:x}\\}}")  # JS code point escape
    if code <= 0xFF:
        spelled.add(f"\\\\x{code:02x}")  # JS
    if not char.isalnum():
        spelled.add("\\\\" + _literal(char, as_bytes))  # \" \\ \/ and JS identity escapes
    spelled |= {"\\\\n", "\\\\t", "\\\\r"} if char in "\n\t\r" else set()
    return sorted(spelled, key=len, reverse=True)


def _one_of(sources: Iterable[str]) -> str:
    return "(?:" + "|".join(sources) + ")"


@functools.cache
def _separator(as_bytes: bool) -> str:
    """Any run of separators, in any of their spellings."""
    sources = {source for char in SEPARATORS for source in _spellings(char, as_bytes)}
    return _one_of(sorted(sources, key=len, reverse=True)) + "*"


def _base64_cores(secret: str) -> set[str]:
    """The base64 characters that stand for the secret alone, whatever bytes come before it
    (HTTP Basic credentials, a page's btoa), in the standard and URL-safe alphabets."""
    data = secret.encode()
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data + b"\0\0").decode()
        first = -(-8 * offset // 6)  # the first character made only of the secret's bits
        last = (8 * (offset + len(data))) // 6  # one past the last such character
        core = encoded[first:last]
        if len(core) >= MIN_SECRET_LENGTH:
            cores |= {core, core.replace("+", "-").replace("/", "_")}
    return cores


def _pattern_source(secret: str, as_bytes: bool) -> str:
    between = _separator(as_bytes)
    spelled = between.join(_one_of(_spellings(char, as_bytes)) for char in secret)
    return "|".join([spelled, *(re.escape(core) for core in sorted(_base64_cores(secret)))])


class Redactor:
    """Replaces every spelling of a set of secrets with ***, in text and in bytes."""

    def __init__(self, secrets: Iterable[str]) -> None:
        chosen = sorted({secret for secret in secrets if secret}, key=len, reverse=True)
        self.secrets = frozenset(chosen)
        if chosen:
            flags = re.IGNORECASE
            self._text: re.Pattern[str] | None = re.compile(
                "|".join(_pattern_source(s, False) for s in chosen), flags
            )
            self._data: re.Pattern[bytes] | None = re.compile(
                "|".join(_pattern_source(s, True) for s in chosen).encode("ascii"), flags
            )
        else:
            self._text = self._data = None

    def text(self, text: str) -> str:
        """`text` without any spelling of the secrets."""
        return text if self._text is None else self._text.sub(REDACTED, text)

    def data(self, data: bytes) -> bytes:
        """`data` (UTF-8 or ASCII-compatible) without any spelling of the secrets."""
        return data if self._data is None else self._data.sub(REDACTED.encode(), data)


@functools.lru_cache(maxsize=64)
def redactor_for(secrets: frozenset[str]) -> Redactor:
    """The compiled redactor of a set of secrets (a session keeps using the same set)."""
    return Redactor(secrets)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every spelling of the secrets replaced by ***."""
    return redactor_for(frozenset(secrets)).text(text)
