"""Encrypt the plaintext already stored in the columns that 0009 made encrypted text.

The encryption is frozen here, not imported from ``casemgmt.core.crypto``, so that this migration
keeps doing what it did whatever that module becomes: Fernet (through ``MultiFernet``) under the
first key of ``settings.FIELD_ENCRYPTION_KEYS``, the token behind an ``enc:`` prefix. Rows are read
and written with SQL rather than through the historical models, whose encrypted fields would try to
decrypt the plaintext they are about to meet.

A value that already carries the prefix is left alone, so the migration can run again after an
interruption, and rows written by the new code in between are not encrypted twice. Backwards, it
decrypts (with any listed key) what 0009's reversal turns back into plain text columns.
"""
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import migrations

PREFIX = "enc:"
BATCH = 1000
COLUMNS = {
    "families_family": ("status_reason", "risk_reason", "notes"),
    "families_familymember": ("family_doctor", "family_doctor_institution"),
    "families_familystatuschange": ("reason",),
    "families_risklevelchange": ("reason",),
    "families_checkin": ("difficulties", "needs", "help_given", "follow_up"),
    "families_careplan": ("summary",),
    "families_careplangoal": ("description",),
    "families_annualreview": ("note",),
}


def _fernet():
    return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])


def _rewrite(schema_editor, *, pending, change):
    """Rewrite, table by table and in batches of ids, every value ``pending`` (an SQL condition on
    a column, ``{c}``) selects, with ``change(value)``."""
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, columns in COLUMNS.items():
            names = [quote(c) for c in columns]
            where = " OR ".join(f"({pending.format(c=name)})" for name in names)
            last = 0
            while True:
                cursor.execute(f"SELECT id, {', '.join(names)} FROM {quote(table)} WHERE id > %s AND ({where}) "
                               f"ORDER BY id LIMIT {BATCH}", [last])
                rows = cursor.fetchall()
                if not rows:
                    break
                cursor.executemany(
                    f"UPDATE {quote(table)} SET {', '.join(f'{name} = %s' for name in names)} WHERE id = %s",
                    [[change(value) for value in values] + [pk] for pk, *values in rows],
                )
                last = rows[-1][0]


def encrypt_plaintext(apps, schema_editor):
    fernet = _fernet()

    def encrypt(value):
        if not value or value.startswith(PREFIX):
            return value
        return PREFIX + fernet.encrypt(value.encode()).decode()

    _rewrite(schema_editor, pending="{c} <> '' AND substr({c}, 1, 4) <> 'enc:'", change=encrypt)


def decrypt_ciphertext(apps, schema_editor):
    fernet = _fernet()

    def decrypt(value):
        if not value or not value.startswith(PREFIX):
            return value
        return fernet.decrypt(value[len(PREFIX):].encode()).decode()

    _rewrite(schema_editor, pending="substr({c}, 1, 4) = 'enc:'", change=decrypt)


class Migration(migrations.Migration):

    dependencies = [
        ("families", "0009_notes_and_reasons_as_encrypted_text"),
    ]

    operations = [
        migrations.RunPython(encrypt_plaintext, decrypt_ciphertext, elidable=False),
    ]
