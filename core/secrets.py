"""Sealing secrets (auth-flow credentials) so that they travel and rest only as ciphertext."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from core.config import Settings
from core.definition import Credentials
from core.key_files import read_or_create

KEY_FILE_NAME = "secret.key"


class SecretBox:
    """Authenticated encryption (Fernet: AES-128-CBC with HMAC-SHA256) under one key."""

    def __init__(self, key: bytes | str) -> None:
        self._fernet = Fernet(key)

    def seal(self, data: dict[str, str]) -> str:
        """Encrypt a small JSON object into an opaque token."""
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def open(self, token: str) -> dict[str, str]:
        """Decrypt a token made by `seal`; raise SealedDataInvalid if it was not."""
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError):
            raise SealedDataInvalid("sealed data cannot be opened with this key") from None

    def seal_credentials(self, credentials: Credentials) -> str:
        """Seal an auth flow's username and password."""
        return self.seal(credentials.model_dump())

    def open_credentials(self, token: str) -> Credentials:
        """Open sealed credentials."""
        return Credentials.model_validate(self.open(token))


class SealedDataInvalid(ValueError):
    """The token was tampered with or sealed under another key."""


def load_secret_box(settings: Settings) -> SecretBox:
    """The box for SECRET_KEY, or for a key file kept in the data folder (made on first use)."""
    if settings.secret_key:
        return SecretBox(settings.secret_key)
    path = Path(settings.data_dir) / KEY_FILE_NAME
    return SecretBox(read_or_create(path, lambda: Fernet.generate_key().decode()))


def credential_secrets(credentials: Credentials) -> set[str]:
    """The values that must never leave the login (see `core.redaction` for their spellings)."""
    return {value for value in (credentials.password, credentials.username) if value}
