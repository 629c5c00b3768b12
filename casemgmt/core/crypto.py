"""Field encryption at rest and keyed blind indexes for exact lookups.

Encryption uses Fernet (AES-128-CBC + HMAC) from ``cryptography`` through ``MultiFernet``: the first
key of ``FIELD_ENCRYPTION_KEYS`` encrypts, every listed key decrypts, so keys can be rotated while
old rows stay readable. Ciphertext is randomised, so equality lookups go through a separate blind
index: an HMAC-SHA256 of the normalised value under ``BLIND_INDEX_KEY``.
"""
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "enc:"


@functools.cache
def _fernet(keys):
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty.")
    return MultiFernet([Fernet(k) for k in keys])


def fernet():
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value):
    return PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt(token):
    if not token.startswith(PREFIX):
        raise InvalidToken("value is not an encrypted token")
    return fernet().decrypt(token[len(PREFIX):].encode()).decode()


def rotate(token):
    """Re-encrypt a token under the current primary key."""
    return PREFIX + fernet().rotate(token[len(PREFIX):].encode()).decode()


def blind_index(value, purpose):
    """Deterministic keyed digest for exact matching; empty for an empty value."""
    if not value:
        return ""
    key = settings.BLIND_INDEX_KEY.encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """A text column that holds only ciphertext. Only ``isnull`` lookups make sense on it.

    ``max_length`` bounds the plaintext (forms and serializers enforce it; the ciphertext is longer)
    and, as on a ``CharField``, asks forms for a one-line input."""

    def formfield(self, **kwargs):
        if self.max_length is not None and not self.choices:
            kwargs.setdefault("widget", forms.TextInput)
        return super().formfield(**kwargs)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

    def get_lookup(self, lookup_name):
        if lookup_name not in ("isnull",):
            return None
        return super().get_lookup(lookup_name)


def hash_token(raw):
    """What is stored of a random secret handed to a user (an API token, a calendar feed's address):
    it carries 256 random bits, so a plain SHA-256 is enough (no salt or slow hash needed)."""
    return hashlib.sha256(raw.encode()).hexdigest()
