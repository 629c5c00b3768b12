"""Keep the keys and the data they encrypt together: a fingerprint of the keys in the database.

The field-encryption keys and the blind-index key live outside the database (environment, or
``var/dev-secrets.json`` on a laptop, which settings generate when missing). A database restored
without them, or started with a fresh ``var/``, would otherwise run on new keys: every sensitive read
fails and ID-number lookups stop matching. ``core.KeyFingerprint`` records a digest of each key the
data needs (``migrate`` writes it; ``rotate_encryption_key`` narrows it to the new key), and
``verify`` refuses a start whose keys do not match, naming the key and where to restore it from.
"""
import contextlib
import contextvars
import hashlib

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from . import crypto

_skip = contextvars.ContextVar("keys_check_skipped", default=False)
RESTORE_HINT = ("Restore the key file of the backup this database came from (docs/deploy.md, \"Backup and "
                "restore\": var/dev-secrets.json, or the FIELD_ENCRYPTION_KEYS and BLIND_INDEX_KEY values kept "
                "with it) instead of starting with new keys.")


def fingerprint(key, purpose):
    """A digest that identifies a key without revealing it (the keys are random, 128 bits or more)."""
    return hashlib.sha256(f"casemgmt-key-fingerprint:{purpose}:{key}".encode()).hexdigest()


def current():
    return ([fingerprint(k, "encryption") for k in settings.FIELD_ENCRYPTION_KEYS],
            fingerprint(settings.BLIND_INDEX_KEY, "blind_index"))


@contextlib.contextmanager
def unchecked():
    """Commands that must run whatever the keys (migrate, backup, restore) switch the check off."""
    token = _skip.set(True)
    try:
        yield
    finally:
        _skip.reset(token)


def _stored():
    from .models import KeyFingerprint

    return KeyFingerprint.objects.filter(pk=1).first()


def _sample_token():
    """One stored ciphertext, if the database holds any: what a missing fingerprint is checked against."""
    from .management.commands.rotate_encryption_key import encrypted_fields

    with connection.cursor() as cursor:
        for model, fields in encrypted_fields():
            column = model._meta.get_field(fields[0]).column
            cursor.execute(f'SELECT "{column}" FROM "{model._meta.db_table}" WHERE "{column}" <> \'\' LIMIT 1')
            row = cursor.fetchone()
            if row:
                return row[0]
    return None


def problems():
    """What is wrong with the configured keys for this database: a list of messages, empty when fine
    (also when the database or its table is not there yet: migrate comes first)."""
    try:
        stored = _stored()
        token = None if stored else _sample_token()
    except Exception:  # noqa: BLE001 (no database to compare with, or none allowed here: requests will say so)
        return []
    encryption, blind = current()
    found = []
    if stored is None:
        if token is not None:
            try:
                crypto.decrypt(token)
            except InvalidToken:
                found.append("FIELD_ENCRYPTION_KEYS cannot decrypt the data in this database.")
        return found
    missing = [f for f in stored.encryption if f not in encryption]
    if missing:
        found.append(f"FIELD_ENCRYPTION_KEYS lacks {len(missing)} of the key(s) this database's data is encrypted "
                     f"with (fingerprint {', '.join(m[:12] for m in missing)}).")
    if stored.blind_index != blind:
        found.append(f"BLIND_INDEX_KEY is not the key this database's ID-number and phone lookups were built with "
                     f"(fingerprint {stored.blind_index[:12]}).")
    return found


def verify():
    """Refuse to start (``ImproperlyConfigured``) when the keys cannot read this database's data."""
    if _skip.get():
        return
    found = problems()
    if found:
        raise ImproperlyConfigured(" ".join(found) + " " + RESTORE_HINT)


def record(*, only_primary=False):
    """Write the fingerprint of the configured keys: all of them, or (after a rotation rewrote every row)
    the primary one only, so that the older keys may then be dropped."""
    from .models import KeyFingerprint

    encryption, blind = current()
    KeyFingerprint.objects.update_or_create(
        pk=1, defaults={"encryption": encryption[:1] if only_primary else encryption, "blind_index": blind})


def record_after_migrate(**kwargs):
    """After ``migrate``: a database's first fingerprint, written only if the configured keys can read
    what is already there (an existing deployment gaining the table); a new primary key (the first
    step of a rotation) is added to a known one, since rows written from now on need it."""
    if problems():
        return
    stored = _stored()
    encryption, blind = current()
    if stored is None:
        record()
    elif encryption[0] not in stored.encryption:
        stored.encryption = [encryption[0], *stored.encryption]
        stored.save(update_fields=["encryption", "updated_at"])
