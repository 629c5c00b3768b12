"""Citizen ID numbers (GB 11643-1999): validation, derived facts and masking."""
import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


@dataclass(frozen=True)
class IdInfo:
    number: str
    address_code: str
    birth_date: datetime.date
    sex: str  # "M" or "F"


def normalize_id_number(value):
    return (value or "").strip().replace(" ", "").upper()


def check_char(first17):
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def parse_id_number(value):
    """Return the facts an ID number carries, or raise ValidationError saying what is wrong."""
    number = normalize_id_number(value)
    if len(number) != 18 or not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise ValidationError(
            _("An ID number has 17 digits followed by a digit or X."), code="id_format"
        )
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(_("The birth date in this ID number does not exist."), code="id_birth_date") from None
    if birth.year < 1900 or birth > datetime.date.today():
        raise ValidationError(_("The birth date in this ID number is out of range."), code="id_birth_date")
    if check_char(number[:17]) != number[17]:
        raise ValidationError(_("The check digit of this ID number is wrong."), code="id_checksum")
    sex = "M" if int(number[16]) % 2 else "F"
    return IdInfo(number=number, address_code=number[:6], birth_date=birth, sex=sex)


def validate_id_number(value):
    parse_id_number(value)


def make_id_number(address_code, birth_date, sequence):
    """Build a valid ID number; used by demo data and tests."""
    first17 = f"{address_code}{birth_date.year:04d}{birth_date.month:02d}{birth_date.day:02d}{sequence:03d}"
    return first17 + check_char(first17)


def mask_id_number(value):
    """Keep the region and the last four characters, as public lists (公示) do."""
    if not value:
        return ""
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_phone(value):
    if not value:
        return ""
    return value[:3] + "****" + value[-4:] if len(value) >= 11 else "*" * len(value)


def mask_name(value):
    """张三丰 → 张*丰, 李四 → 李*."""
    if not value:
        return ""
    if len(value) <= 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]
