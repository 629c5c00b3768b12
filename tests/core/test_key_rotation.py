"""Rotating the field-encryption key: old rows decrypt during rotation, lookups work after it."""
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from casemgmt.core.crypto import blind_index
from families.models import FamilyMember


def raw_id_number(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number FROM families_familymember WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_rotation_rewrites_every_row_under_the_new_key(families, settings):
    member = FamilyMember.objects.filter(family=families["own"], relation="mother").get()
    plaintext = member.id_number
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    before = raw_id_number(member.pk)

    # Mid-way: the new key is primary, the old one still listed; un-rotated rows still read.
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert FamilyMember.objects.get(pk=member.pk).id_number == plaintext

    call_command("rotate_encryption_key", batch_size=2)
    after = raw_id_number(member.pk)
    assert after != before and after.startswith("enc:") and plaintext not in after

    # The old key can now be dropped: everything decrypts with the new key alone.
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert FamilyMember.objects.get(pk=member.pk).id_number == plaintext
    assert FamilyMember.objects.filter(id_number_index=blind_index(plaintext, "id_number")).get().pk == member.pk
    assert all(m.id_number for m in FamilyMember.objects.all())
