"""Dashboard sessions: a token is exchanged once for an HttpOnly, SameSite=Strict cookie that
holds only a random session ID; the session itself lives on the server
(`store.dashboard_sessions`), so sign-out, a token's rotation and the admin end it at once.
Every form carries a CSRF token derived from the cookie.

The token itself is never stored or echoed: the session keeps a tag of the token's hash, and a
session whose project token (or admin token) changed no longer counts.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import same_secret
from store import dashboard_sessions

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
    def id_hash(self) -> str:
        return id_hash(self.cookie)

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


def id_hash(cookie: str) -> str:
    """Sessions are stored under the SHA-256 of their cookie, never the cookie itself."""
    return hashlib.sha256(cookie.encode()).hexdigest()


async def issue(db: AsyncSession, project_id: int | None, token_hash: str, user_agent: str) -> str:
    """Start a session on the server; its cookie's value."""
    cookie = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=LIFETIME_S)
    tag = token_tag(token_hash)
    await dashboard_sessions.start(db, id_hash(cookie), project_id, tag, lifetime, user_agent)
    return cookie


async def read(db: AsyncSession, cookie: str | None) -> UiSession | None:
    """The live session of a cookie, or None if it is missing, unknown, ended or expired."""
    if not cookie or len(cookie) > 200:
        return None
    row = await dashboard_sessions.live(db, id_hash(cookie))
    if row is None:
        return None
    return UiSession(row.project_id, row.token_tag, cookie)
