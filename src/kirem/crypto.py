"""AES-256-GCM sealing of stored secrets (channel access tokens, webhook secrets).

A sealed value is ``<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``. Each seal uses a fresh
96-bit nonce, and the owning row's ids are bound as associated data, so a ciphertext copied into
another tenant's row fails to open. Several keys may be configured: the first seals, all open,
which is how a key is rotated.
"""

from __future__ import annotations

import base64
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kirem.config import Settings
from kirem.keyfiles import load_or_create_secret


class SealError(Exception):
    """A sealed value could not be opened (wrong key, wrong owner, or tampered)."""


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_keyring(spec: str) -> dict[str, bytes]:
    """Parse ``kid:base64key[,kid:base64key…]``; every key must be 32 bytes."""
    keys: dict[str, bytes] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        kid, sep, encoded = part.partition(":")
        if not sep or not kid or "." in kid:
            raise ValueError("KIREM_ENCRYPTION_KEY entries must look like 'kid:base64key'")
        key = _b64d(encoded.replace("+", "-").replace("/", "_"))
        if len(key) != 32:
            raise ValueError(f"encryption key {kid!r} must be 32 bytes (AES-256), got {len(key)}")
        keys[kid] = key
    if not keys:
        raise ValueError("KIREM_ENCRYPTION_KEY holds no key")
    return keys


def generate_key_spec(kid: str = "k1") -> str:
    return f"{kid}:{_b64e(secrets.token_bytes(32))}"


class Sealer:
    def __init__(self, keyring: dict[str, bytes]) -> None:
        self._keys = {kid: AESGCM(key) for kid, key in keyring.items()}
        self.current_kid = next(iter(keyring))

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        spec = settings.encryption_key
        if not spec:
            if settings.env == "production":
                raise ValueError("KIREM_ENCRYPTION_KEY must be set in production")
            spec = load_or_create_secret(settings.ensure_data_dir() / "encryption.key", generate_key_spec)
        return cls(parse_keyring(spec))

    def seal(self, plaintext: str, *associated: str) -> str:
        nonce = os.urandom(12)
        aad = "\x1f".join(associated).encode()
        ciphertext = self._keys[self.current_kid].encrypt(nonce, plaintext.encode(), aad)
        return f"{self.current_kid}.{_b64e(nonce + ciphertext)}"

    def open(self, sealed: str, *associated: str) -> str:
        kid, _, payload = sealed.partition(".")
        cipher = self._keys.get(kid)
        if cipher is None:
            raise SealError(f"no key with id {kid!r} is configured")
        raw = _b64d(payload)
        try:
            plaintext = cipher.decrypt(raw[:12], raw[12:], "\x1f".join(associated).encode())
        except InvalidTag as exc:
            raise SealError("sealed value does not open for this owner") from exc
        return plaintext.decode()
