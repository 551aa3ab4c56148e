"""Fernet encryption for secrets stored in the database (marketplace OAuth tokens).

MultiFernet encrypts with the first key of settings.FIELD_ENCRYPTION_KEYS and decrypts with any,
so keys can be rotated: https://cryptography.io/en/latest/fernet/#cryptography.fernet.MultiFernet
"""

from functools import cache, lru_cache
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str, *, max_age_s: int | None = None) -> str:
    """Raises cryptography.fernet.InvalidToken when tampered with or older than `max_age_s`."""
    return _fernet().decrypt(token.encode(), ttl=max_age_s).decode()


@lru_cache(maxsize=1024)
def _decrypt_field(token: str) -> str:
    """A field's plaintext, decrypted once per process and ciphertext (a worker reads the same
    connection's tokens with every job; Fernet's HMAC and AES cost ~2 % of a job's CPU). The
    keys are read once per process too (_fernet), so the answer cannot change; a token that
    does not decrypt raises every time (exceptions are not cached)."""
    return decrypt(token)


class EncryptedTextField(models.TextField):
    """Stores ciphertext, exposes plaintext. Not searchable or orderable, by design."""

    def from_db_value(self, value: str | None, *args: Any) -> str | None:
        if value is None or value == "":
            return value
        return _decrypt_field(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
