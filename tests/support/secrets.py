"""The spellings a browser, a server or a page makes of a secret, for tests that look for them."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote, quote_plus


def spellings(secret: str, username: str = "user") -> dict[str, str]:
    """What a browser, a server or a page makes of a secret."""
    return {
        "plain": secret,
        "url path": quote(secret, safe=""),
        "url, Chromium's form (~ as %7E, * kept)": quote(secret, safe="*").replace("~", "%7E"),
        "form": quote_plus(secret),
        "url twice": quote(quote(secret, safe=""), safe=""),
        "url lower-case hex": quote(secret, safe="").lower(),
        "html escaped": html.escape(secret),
        "html decimal entities": "".join(f"&#{ord(c)};" for c in secret),
        "html hex entities": "".join(f"&#x{ord(c):X};" for c in secret),
        "html named entities": secret.replace("*", "&ast;").replace("~", "&#126"),
        "upper case": secret.upper(),
        "lower case": secret.lower(),
        "spaced": " ".join(secret),
        "letter-spaced with nbsp": "\u00a0".join(secret),
        "zero-width joined": "\u200b".join(secret),
        "soft hyphens": "\u00ad".join(secret),
        "json": json.dumps(secret)[1:-1],
        "json, every character escaped": "".join(f"\\u{ord(c):04x}" for c in secret),
        "js hex escapes": "".join(f"\\x{ord(c):02x}" for c in secret),
        "js code points": "".join(f"\\u{{{ord(c):x}}}" for c in secret),
        "upper case, url encoded": quote(secret.upper(), safe=""),
        "spaced, form encoded": quote_plus(" ".join(secret)),
        "base64 alone": base64.b64encode(secret.encode()).decode(),
        "basic auth header": base64.b64encode(f"{username}:{secret}".encode()).decode(),
        "base64 url-safe after a prefix": base64.urlsafe_b64encode(
            b"xy" + secret.encode()
        ).decode(),
    }
