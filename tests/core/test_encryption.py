"""Sensitive columns hold only ciphertext; exact lookups still work through the blind index."""
import datetime

from django.db import connection

from casemgmt.core.crypto import blind_index, decrypt
from casemgmt.core.idcard import make_id_number
from families.models import FamilyMember


def _raw(member, column):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM families_familymember WHERE id = %s", [member.pk])
        return cursor.fetchone()[0]


def test_raw_columns_hold_no_plaintext(families):
    number = make_id_number("350623", datetime.date(1962, 8, 15), 51)
    member = FamilyMember.objects.create(
        family=families["own"], name="孙七", relation="other", id_number=number, phone="13700001111",
        health_conditions="糖尿病", disability_certificate_number="CJZ-123456",
    )
    for column, plain in (("id_number", number), ("phone", "13700001111"), ("health_conditions", "糖尿病"),
                          ("disability_certificate_number", "CJZ-123456")):
        raw = _raw(member, column)
        assert raw.startswith("enc:"), column
        assert plain not in raw
        assert decrypt(raw) == plain
    # The blind index is a keyed digest, not the number.
    assert _raw(member, "id_number_index") == blind_index(number, "id_number") != number


def test_encryption_is_randomised(families):
    # Both mothers have the phone 13800000001 (conftest); their stored ciphertexts still differ.
    a = families["own"].members.get(relation="mother")
    b = families["colleague"].members.get(relation="mother")
    assert a.phone == b.phone == "13800000001"
    assert _raw(a, "phone") != _raw(b, "phone")
    assert _raw(a, "phone_index") == _raw(b, "phone_index")


def test_lookup_by_exact_id_number_finds_the_member(families):
    mother = families["own"].members.get(relation="mother")
    found = FamilyMember.objects.get(id_number_index=blind_index(mother.id_number, "id_number"))
    assert found == mother
    assert found.id_number == mother.id_number
    assert not FamilyMember.objects.filter(id_number_index=blind_index(mother.id_number[:17] + "0", "id_number")).exists()
