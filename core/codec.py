"""Encryption of every payload Temporal stores (workflow inputs, results, signals, activity
arguments): AES-256-GCM, the key ID in each payload's metadata, so keys can rotate.

PAYLOAD_KEYS is `id:base64key[,id:base64key...]`: the first key encrypts, all of them decrypt
(add a new key in front, keep the old ones until the histories that use them are gone).
Without it, a key is made in the data folder on first use (one machine only)."""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from core.config import Settings
from core.key_files import read_or_create

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
KEY_FILE_NAME = "payload.keys"


class PayloadKeyError(ValueError):
    """PAYLOAD_KEYS is malformed, or a payload names a key this codec does not have."""


class EncryptionCodec(PayloadCodec):
    """AES-GCM over the whole serialized payload (metadata included)."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise PayloadKeyError("at least one payload key is needed")
        self._current_id, current = keys[0]
        self._current = AESGCM(current)
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}

    @property
    def key_id(self) -> str:
        return self._current_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(payload) for payload in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._current.encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: self._current_id.encode()},
            data=nonce + sealed,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written without the codec (e.g. `temporal workflow start`)
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        key = self._keys.get(key_id)
        if key is None:
            raise PayloadKeyError(f"payload encrypted with unknown key {key_id!r}")
        try:
            plain = key.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
        except InvalidTag:
            raise PayloadKeyError(f"payload does not decrypt with key {key_id!r}") from None
        return Payload.FromString(plain)


def parse_keys(value: str) -> list[tuple[str, bytes]]:
    """`id:base64key,...` into (id, key) pairs; keys must be 16, 24 or 32 bytes."""
    keys = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id:
            raise PayloadKeyError("PAYLOAD_KEYS entries look like id:base64key")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise PayloadKeyError(f"payload key {key_id!r} is not base64") from None
        if len(key) not in (16, 24, 32):
            raise PayloadKeyError(f"payload key {key_id!r} must be 16, 24 or 32 bytes")
        keys.append((key_id, key))
    return keys


def new_key_entry(key_id: str) -> str:
    """A fresh `id:base64key` entry with a 256-bit key."""
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


def load_codec(settings: Settings) -> EncryptionCodec:
    """The codec for PAYLOAD_KEYS, or for a key file kept in the data folder."""
    if settings.payload_keys:
        return EncryptionCodec(parse_keys(settings.payload_keys))
    path = Path(settings.data_dir) / KEY_FILE_NAME
    return EncryptionCodec(parse_keys(read_or_create(path, lambda: new_key_entry("local-1"))))
