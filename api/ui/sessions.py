"""Dashboard sessions: a token is exchanged once for a sealed, HttpOnly, SameSite=Strict
cookie; every form carries a CSRF token derived from that cookie.

The cookie holds the project (none for the admin), a tag of the token's hash (a rotated token
ends its sessions) and an expiry, sealed with the service's secret key: it cannot be read or
forged, and the token itself is never stored or echoed.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from api.deps import same_secret
from core.secrets import SealedDataInvalid, SecretBox

COOKIE = "ui_session"
LIFETIME_S = 8 * 3600
TAG_CHARS = 16


@dataclass(frozen=True)
class UiSession:
    """Who signed in: a project, or the admin (project_id None)."""

    project_id: int | None
    token_tag: str
    cookie: str

    @property
    def is_admin(self) -> bool:
        return self.project_id is None

    @property
    def csrf(self) -> str:
        """The token every form of this session carries."""
        return hashlib.sha256(b"csrf:" + self.cookie.encode()).hexdigest()[:32]

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and same_secret(given, self.csrf)

    def may_see(self, project_id: int) -> bool:
        return self.is_admin or self.project_id == project_id


def token_tag(token_hash: str) -> str:
    return token_hash[:TAG_CHARS]


def issue(box: SecretBox, project_id: int | None, token_hash: str) -> str:
    """A new session's cookie value."""
    expires = str(int(time.time()) + LIFETIME_S)
    project = "" if project_id is None else str(project_id)
    return box.seal({"project": project, "tag": token_tag(token_hash), "expires": expires})


def read(box: SecretBox, cookie: str | None) -> UiSession | None:
    """The session of a cookie, or None if it is missing, forged or expired."""
    if not cookie:
        return None
    try:
        fields = box.open(cookie)
    except SealedDataInvalid:  # forged, damaged, or sealed under another key
        return None
    if not fields.get("expires", "").isdigit() or int(fields["expires"]) < time.time():
        return None
    project = fields.get("project", "")
    return UiSession(int(project) if project.isdigit() else None, fields.get("tag", ""), cookie)
