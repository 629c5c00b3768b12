"""Rules the database itself holds, so they survive concurrency and code that forgets them."""
import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from casemgmt.core.idcard import make_id_number
from families.models import ContactAssignment, FamilyMember
from services.models import Disbursement, Fund, InsuranceClaim, InsurancePolicy


def _member(family, number, **extra):
    return FamilyMember.objects.create(family=family, name="赵六", relation="other", id_number=number, **extra)


def test_id_number_unique_among_living_people(families):
    number = make_id_number("350623", datetime.date(1960, 5, 5), 41)
    _member(families["own"], number)
    with pytest.raises(IntegrityError), transaction.atomic():
        _member(families["colleague"], number)
    # A deceased person with the same number may stay on record (e.g. a duplicate file of the dead child).
    _member(families["colleague"], number, is_deceased=True, death_date=datetime.date(2020, 1, 1))
    assert FamilyMember.objects.filter(id_number_index=FamilyMember.objects.get(
        family=families["own"], relation="other").id_number_index).count() == 2


def test_members_without_id_number_do_not_collide(families):
    FamilyMember.objects.create(family=families["own"], name="甲", relation="other")
    FamilyMember.objects.create(family=families["own"], name="乙", relation="other")
    assert FamilyMember.objects.filter(family=families["own"], id_number_index="").count() == 2


def test_one_active_assignment_per_family_and_kind(families, people):
    own = families["own"]  # alice is its active social worker (conftest)
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactAssignment.objects.create(family=own, user=people["bob"], kind="social_worker")
    ContactAssignment.objects.filter(family=own, kind="social_worker").update(ended_on=datetime.date.today())
    ContactAssignment.objects.create(family=own, user=people["bob"], kind="social_worker")
    # Another kind at the same time is fine.
    ContactAssignment.objects.create(family=own, user=people["contact"], kind="village_contact")
    assert ContactAssignment.objects.filter(family=own, ended_on__isnull=True).count() == 2


def _policy(region, **extra):
    values = {"insurer": "人保", "product_kind": "accident", "region": region, "starts_on": datetime.date(2025, 1, 1),
              "ends_on": datetime.date(2025, 12, 31), "premium": Decimal("10")}
    return InsurancePolicy.objects.create(**{**values, **extra})


def test_policy_ends_after_it_starts(regions):
    with pytest.raises(IntegrityError), transaction.atomic():
        _policy(regions["zhangpu"], ends_on=datetime.date(2024, 12, 31))
    with pytest.raises(IntegrityError), transaction.atomic():
        _policy(regions["zhangpu"], ends_on=datetime.date(2025, 1, 1))
    assert _policy(regions["zhangpu"]).pk


def test_amounts_are_not_negative(regions, families):
    with pytest.raises(IntegrityError), transaction.atomic():
        _policy(regions["zhangpu"], premium=Decimal("-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Fund.objects.create(name="x", programme="other", year=2025, budget=Decimal("-0.01"), region=regions["zhangpu"])
    fund = Fund.objects.create(name="x", programme="other", year=2025, budget=Decimal("0"), region=regions["zhangpu"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Disbursement.objects.create(fund=fund, kind="grant", amount=Decimal("-5"), family=families["own"],
                                    paid_on=datetime.date.today())
    policy = _policy(regions["zhangpu"])
    member = families["own"].members.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        InsuranceClaim.objects.create(policy=policy, member=member, incident_date=datetime.date.today(),
                                      amount_claimed=Decimal("-100"))
    assert Disbursement.objects.create(fund=fund, kind="grant", amount=Decimal("0"), family=families["own"],
                                       paid_on=datetime.date.today()).pk
