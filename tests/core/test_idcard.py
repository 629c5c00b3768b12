"""Citizen ID numbers (GB 11643): validation, derived birth date and sex, masking."""
import datetime

import pytest
from django.core.exceptions import ValidationError

from casemgmt.core.idcard import (
    check_char,
    make_id_number,
    mask_id_number,
    mask_phone,
    parse_id_number,
)
from families.models import FamilyMember

# The standard's own example: 11010519491231002X (female, born 1949-12-31).
VALID_X = "11010519491231002X"


def test_valid_number_is_parsed():
    info = parse_id_number(VALID_X)
    assert info.number == VALID_X
    assert info.address_code == "110105"
    assert info.birth_date == datetime.date(1949, 12, 31)
    assert info.sex == "F"


def test_lowercase_x_and_spaces_are_normalised():
    assert parse_id_number(" 110105 19491231002x ").number == VALID_X


def test_wrong_checksum_is_refused():
    wrong = VALID_X[:17] + "1"
    with pytest.raises(ValidationError) as exc:
        parse_id_number(wrong)
    assert exc.value.code == "id_checksum"


def test_impossible_birth_date_is_refused():
    first17 = "35062319990230001"  # 30 February 1999
    with pytest.raises(ValidationError) as exc:
        parse_id_number(first17 + check_char(first17))
    assert exc.value.code == "id_birth_date"


def test_future_birth_date_is_refused():
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as exc:
        parse_id_number(make_id_number("350623", tomorrow, 1))
    assert exc.value.code == "id_birth_date"


@pytest.mark.parametrize("value", ["", "123", "35062319680305002", "3506231968030500211", "35062319680305002Y",
                                   "3506231968O305002X"])
def test_bad_format_is_refused(value):
    with pytest.raises(ValidationError) as exc:
        parse_id_number(value)
    assert exc.value.code == "id_format"


@pytest.mark.parametrize(("sequence", "sex"), [(1, "M"), (2, "F"), (13, "M"), (24, "F")])
def test_sex_follows_the_sequence_parity(sequence, sex):
    assert parse_id_number(make_id_number("350623", datetime.date(1970, 1, 1), sequence)).sex == sex


def test_member_derives_birth_date_and_sex_on_save(families):
    number = make_id_number("350623", datetime.date(1958, 11, 2), 7)
    member = FamilyMember.objects.create(family=families["own"], name=" 张大山 ", relation="other", id_number=number.lower())
    member.refresh_from_db()
    assert member.birth_date == datetime.date(1958, 11, 2)
    assert member.sex == "M"
    assert member.id_number == number.upper()
    assert member.name == "张大山" and member.name_initials == "zds"


def test_member_clean_reports_the_bad_id_on_its_field(families):
    member = FamilyMember(family=families["own"], name="张三", relation="other", id_number=VALID_X[:17] + "1")
    with pytest.raises(ValidationError) as exc:
        member.full_clean()
    assert "id_number" in exc.value.message_dict


def test_masking_keeps_region_and_last_four():
    assert mask_id_number(VALID_X) == "110105********002X"
    assert mask_phone("13800000001") == "138****0001"
    assert mask_id_number("") == "" and mask_phone("") == ""
