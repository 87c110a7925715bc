"""What every process of the service does before it serves: keep its files private and refuse
to run with example or weak secrets."""

from __future__ import annotations

import os
from pathlib import Path

from core.config import Settings

MIN_TOKEN_LENGTH = 32
PLACEHOLDERS = ("change-me", "changeme")


class WeakSecret(SystemExit):
    """A secret setting still holds an example value, or a token is too short to be one."""


def restrict_new_files() -> None:
    """Files this process creates are its user's alone (0600, folders 0700): the database,
    artifacts, uploads, keys and logs hold tenants' data and the service's secrets."""
    os.umask(0o077)


def private_data_dir(settings: Settings) -> None:
    """Create the data folder 0700 (and make an existing one so)."""
    folder = Path(settings.data_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)


def weak_secrets(settings: Settings, admin_token_used: bool) -> list[str]:
    """The secret settings that cannot be used, each with why."""
    problems = []
    if admin_token_used and settings.admin_token is not None:
        if _is_placeholder(settings.admin_token):
            problems.append("ADMIN_TOKEN is the example value")
        elif len(settings.admin_token) < MIN_TOKEN_LENGTH:
            problems.append(f"ADMIN_TOKEN is shorter than {MIN_TOKEN_LENGTH} characters")
    named = {
        "SECRET_KEY": settings.secret_key,
        "PAYLOAD_KEYS": settings.payload_keys,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.effective_redis_url,
        "REDIS_PASSWORD": settings.redis_password,
    }
    for name, value in named.items():
        if value and _is_placeholder(value):
            problems.append(f"{name} holds the example value 'change-me'")
    return problems


def refuse_weak_secrets(settings: Settings, admin_token_used: bool = False) -> None:
    """Exit with a message naming every secret that must be set first."""
    problems = weak_secrets(settings, admin_token_used)
    if problems:
        raise WeakSecret("refusing to start: " + "; ".join(problems) + " (see .env.example)")


def prepare_service_process(settings: Settings, admin_token_used: bool = False) -> None:
    """Private files, a private data folder, strong secrets; call before serving anything."""
    refuse_weak_secrets(settings, admin_token_used)
    restrict_new_files()
    private_data_dir(settings)


def _is_placeholder(value: str) -> bool:
    return any(placeholder in value.lower() for placeholder in PLACEHOLDERS)
