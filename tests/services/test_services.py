import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import AuditEvent
from families.models import Family
from services import services
from services.models import (
    Activity,
    ActivityAttendance,
    Disbursement,
    Fund,
    InsuranceClaim,
    InsurancePolicy,
    InsuredPerson,
)
from tests.concurrency import race
from tests.conftest import add_family
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db
P = InsurancePolicy
D = datetime.date


def make_activity(region, capacity=None, **extra):
    starts_at = timezone.now() - datetime.timedelta(minutes=10)  # begun: check-in opens at the start
    return Activity.objects.create(title="集体庆生会", category="birthday", region=region, starts_at=starts_at,
                                   ends_at=starts_at + datetime.timedelta(hours=2), capacity=capacity, **extra)


def make_policy(region, kind=P.ProductKind.CRITICAL_ILLNESS, status=P.Status.ACTIVE, members=(), **extra):
    policy = InsurancePolicy.objects.create(
        insurer="中国人寿", product_kind=kind, region=region, starts_on=D(2026, 1, 1),
        ends_on=D(2026, 12, 31), premium=Decimal("68000.00"), status=status, **extra)
    for member in members:
        InsuredPerson.objects.create(policy=policy, member=member, premium=Decimal("120.00"))
    return policy


# --- activities ---------------------------------------------------------------------------------

def test_checkin_once_per_person_and_within_capacity(regions, people, families):
    activity = make_activity(regions["zhangpu"], capacity=2)
    coordinator = people["coordinator"]
    mother, father = families["own"].members.order_by("id")
    neighbour = families["colleague"].members.first()
    services.activity_checkin(actor=coordinator, activity=activity, member=mother)
    with pytest.raises(ValidationError):
        services.activity_checkin(actor=coordinator, activity=activity, member=mother)
    services.activity_checkin(actor=coordinator, activity=activity, member=father)
    with pytest.raises(ValidationError) as exc:
        services.activity_checkin(actor=coordinator, activity=activity, member=neighbour)
    assert "activity" in exc.value.message_dict
    # Volunteers staffing the activity do not take a seat.
    volunteer = Volunteer.objects.create(name="林小红", region=regions["zhangpu"])
    services.activity_checkin(actor=coordinator, activity=activity, volunteer=volunteer)
    assert activity.attendance.count() == 3
    assert AuditEvent.objects.filter(event="services.activity.checked_in").count() == 3


def test_checkin_refuses_outsiders_both_or_neither(regions, people, families):
    activity = make_activity(regions["zhangpu"])
    member = families["outside"].members.first()
    with pytest.raises(OutOfReachError):
        services.activity_checkin(actor=people["coordinator"], activity=activity, member=member)
    with pytest.raises(OutOfReachError):
        services.activity_checkin(actor=people["other_manager"], activity=activity, member=families["own"].members.first())
    with pytest.raises(ValidationError):
        services.activity_checkin(actor=people["coordinator"], activity=activity)
    Activity.objects.filter(pk=activity.pk).update(status=Activity.Status.CANCELLED)
    activity.refresh_from_db()
    with pytest.raises(ValidationError):
        services.activity_checkin(actor=people["coordinator"], activity=activity, member=families["own"].members.first())
    assert not ActivityAttendance.objects.exists()


def test_checkin_by_qr_token(regions, people, families):
    activity = make_activity(regions["zhangpu"])
    volunteer = Volunteer.objects.create(name="林小红", region=regions["zhangpu"], user=people["volunteer_user"])
    attendance = services.activity_checkin_by_token(actor=people["volunteer_user"], token=activity.qr_token, volunteer=volunteer)
    assert attendance.method == ActivityAttendance.Method.QR and attendance.activity == activity
    other = Volunteer.objects.create(name="陈明", region=regions["zhangpu"])
    with pytest.raises(OutOfReachError):  # a volunteer checks in only themself
        services.activity_checkin_by_token(actor=people["volunteer_user"], token=activity.qr_token, volunteer=other)
    with pytest.raises(ValidationError):
        services.activity_checkin_by_token(actor=people["coordinator"], token="nope", volunteer=other)


# --- insurance ----------------------------------------------------------------------------------

def test_renewal_drafts_next_year_and_keeps_only_eligible_members(regions, people, families):
    own, colleague = families["own"], families["colleague"]
    mother, father = own.members.order_by("id")
    closed_family = add_family(regions["village"], "ZP-0009", mother_seq=40, father_seq=41)
    closed_member = closed_family.members.first()
    moved_family = add_family(regions["village2"], "ZP-0010", mother_seq=50, father_seq=51)
    moved_member = moved_family.members.first()
    kept_neighbour = colleague.members.first()
    policy = make_policy(regions["zhangpu"], members=[mother, father, closed_member, moved_member, kept_neighbour],
                         responsible=people["manager"], policy_number="P-2026-1")
    father.is_deceased, father.death_date = True, D(2026, 5, 1)
    father.save()
    Family.objects.filter(pk=closed_family.pk).update(status=Family.Status.CLOSED)
    Family.objects.filter(pk=moved_family.pk).update(region=regions["yx_village"], region_path=regions["yx_village"].path)

    renewal = services.policy_renew(actor=people["manager"], policy=policy)

    assert renewal.status == P.Status.DRAFT and renewal.renews == policy
    assert (renewal.starts_on, renewal.ends_on) == (D(2027, 1, 1), D(2027, 12, 31))
    assert (renewal.insurer, renewal.product_kind, renewal.premium) == (policy.insurer, policy.product_kind, policy.premium)
    assert renewal.policy_number == ""
    assert set(renewal.roster.values_list("member_id", flat=True)) == {mother.pk, kept_neighbour.pk}
    assert AuditEvent.objects.filter(event="services.policy.renewed", object_ids=[renewal.pk]).exists()
    with pytest.raises(ValidationError):
        services.policy_renew(actor=people["manager"], policy=policy)
    with pytest.raises(ValidationError):  # a draft is not renewed
        services.policy_renew(actor=people["manager"], policy=renewal)


def test_renewal_and_activation_respect_reach(regions, people, families):
    policy = make_policy(regions["zhangpu"], members=list(families["own"].members.all()))
    with pytest.raises(OutOfReachError):
        services.policy_renew(actor=people["other_manager"], policy=policy)
    renewal = services.policy_renew(actor=people["manager"], policy=policy)
    with pytest.raises(OutOfReachError):
        services.policy_activate(actor=people["other_manager"], policy=renewal)
    services.policy_activate(actor=people["manager"], policy=renewal)
    assert renewal.status == P.Status.ACTIVE
    with pytest.raises(ValidationError):
        services.policy_activate(actor=people["manager"], policy=renewal)


def test_activation_needs_a_roster(regions, people):
    empty = make_policy(regions["zhangpu"], status=P.Status.DRAFT)
    with pytest.raises(ValidationError):
        services.policy_activate(actor=people["manager"], policy=empty)
    empty.refresh_from_db()
    assert empty.status == P.Status.DRAFT


def test_claim_needs_roster_and_period(regions, people, families):
    mother, father = families["own"].members.order_by("id")
    policy = make_policy(regions["zhangpu"], members=[mother])
    alice = people["alice"]
    with pytest.raises(ValidationError) as exc:
        services.claim_file(actor=alice, policy=policy, member=father, incident_date=D(2026, 3, 1), amount_claimed=100)
    assert "member" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.claim_file(actor=alice, policy=policy, member=mother, incident_date=D(2027, 1, 2), amount_claimed=100)
    assert "incident_date" in exc.value.message_dict
    with pytest.raises(OutOfReachError):
        services.claim_file(actor=people["carol"], policy=policy, member=mother, incident_date=D(2026, 3, 1),
                            amount_claimed=100)
    claim = services.claim_file(actor=alice, policy=policy, member=mother, incident_date=D(2026, 3, 1),
                                amount_claimed=Decimal("5000"), diagnosis="肺炎")
    assert claim.status == InsuranceClaim.Status.FILED

    with pytest.raises(ValidationError):
        services.claim_settle(actor=alice, claim=claim, amount=Decimal("6000"))
    with pytest.raises(ValidationError):
        services.claim_settle(actor=alice, claim=claim, amount=Decimal("-1"))
    services.claim_settle(actor=alice, claim=claim, amount=Decimal("4200"))
    assert (claim.status, claim.amount_settled) == (InsuranceClaim.Status.SETTLED, Decimal("4200.00"))
    with pytest.raises(ValidationError):
        services.claim_settle(actor=alice, claim=claim, amount=Decimal("1"))


def test_nursing_allowance_is_capped_by_days_across_the_policy_year(regions, people, families):
    mother = families["own"].members.order_by("id").first()
    policy = make_policy(regions["zhangpu"], kind=P.ProductKind.NURSING_ALLOWANCE, members=[mother],
                         daily_allowance=Decimal("100"), max_days=90)
    alice = people["alice"]
    first = services.claim_file(actor=alice, policy=policy, member=mother, incident_date=D(2026, 2, 1), hospital_days=60)
    assert first.amount_claimed == Decimal("6000")
    with pytest.raises(ValidationError) as exc:  # 30 days are left, not 40
        services.claim_file(actor=alice, policy=policy, member=mother, incident_date=D(2026, 6, 1),
                            hospital_days=40, amount_claimed=Decimal("4000"))
    assert "amount_claimed" in exc.value.message_dict
    second = services.claim_file(actor=alice, policy=policy, member=mother, incident_date=D(2026, 6, 1), hospital_days=40)
    assert second.amount_claimed == Decimal("3000")
    with pytest.raises(ValidationError):
        services.claim_file(actor=alice, policy=policy, member=mother, incident_date=D(2026, 9, 1), hospital_days=5)
    with pytest.raises(ValidationError):
        services.claim_file(actor=alice, policy=policy, member=mother, incident_date=D(2026, 9, 1), amount_claimed=10)
    # A rejected claim gives its days back.
    services.claim_reject(actor=alice, claim=second, reason="材料不全")
    third = services.claim_file(actor=alice, policy=policy, member=mother, incident_date=D(2026, 9, 1), hospital_days=10)
    assert third.amount_claimed == Decimal("1000")


# --- disbursements ------------------------------------------------------------------------------

def test_disbursement_is_recorded_within_reach_and_never_negative(regions, people, families):
    fund = Fund.objects.create(name="中秋慰问金", programme="consolation", year=2026, budget=100000, region=regions["zhangpu"])
    outside_fund = Fund.objects.create(name="慰问金", programme="consolation", year=2026, budget=1, region=regions["yunxiao"])
    manager = people["manager"]
    paid = services.disbursement_record(actor=manager, fund=fund, kind="other", amount="800", family=families["own"],
                                        period="2026中秋")
    assert paid.amount == Decimal("800") and paid.recorded_by == manager
    assert AuditEvent.objects.filter(event="services.disbursement.recorded", family_id=families["own"].pk).exists()
    with pytest.raises(ValidationError):
        services.disbursement_record(actor=manager, fund=fund, kind="other", amount="-5", family=families["own"])
    with pytest.raises(OutOfReachError):
        services.disbursement_record(actor=manager, fund=outside_fund, kind="other", amount="5", recipient_name="某人")
    with pytest.raises(OutOfReachError):
        services.disbursement_record(actor=manager, fund=fund, kind="other", amount="5", family=families["outside"])
    with pytest.raises(ValidationError):
        services.disbursement_record(actor=manager, fund=fund, kind="other", amount="5")
    with pytest.raises(ValidationError):  # member of another family
        services.disbursement_record(actor=manager, fund=fund, kind="other", amount="5", family=families["own"],
                                     member=families["colleague"].members.first())
    assert Disbursement.objects.count() == 1


# --- concurrency on PostgreSQL ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_checkins_for_the_last_seat_admit_one(regions, people, families):
    activity = make_activity(regions["zhangpu"], capacity=1)
    a, b = families["own"].members.order_by("id")
    coordinator = people["coordinator"]
    results = race(
        lambda: services.activity_checkin(actor=coordinator, activity=activity, member=a),
        lambda: services.activity_checkin(actor=coordinator, activity=activity, member=b),
    )
    assert sum(isinstance(r, ActivityAttendance) for r in results) == 1
    assert sum(isinstance(r, ValidationError) for r in results) == 1
    assert activity.attendance.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_renewals_at_once_make_one_draft(regions, people, families):
    policy = make_policy(regions["zhangpu"], members=list(families["own"].members.all()))
    results = race(
        lambda: services.policy_renew(actor=people["manager"], policy=policy),
        lambda: services.policy_renew(actor=people["city_admin"], policy=policy),
    )
    assert sum(isinstance(r, InsurancePolicy) for r in results) == 1
    assert sum(isinstance(r, ValidationError) for r in results) == 1
    assert InsurancePolicy.objects.filter(renews=policy).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_nursing_claims_do_not_exceed_max_days(regions, people, families):
    mother = families["own"].members.order_by("id").first()
    policy = make_policy(regions["zhangpu"], kind=P.ProductKind.NURSING_ALLOWANCE, members=[mother],
                         daily_allowance=Decimal("100"), max_days=90)
    results = race(*[
        (lambda: services.claim_file(actor=people["alice"], policy=policy, member=mother,
                                     incident_date=D(2026, 4, 1), hospital_days=60))
        for _ in range(2)
    ])
    assert all(isinstance(r, InsuranceClaim) for r in results)
    assert sorted(r.amount_claimed for r in results) == [Decimal("3000"), Decimal("6000")]


# --- consolation visits and premium payments ----------------------------------------------------

def test_consolation_visit_is_a_visit_whatever_was_given(regions, people, families):
    own, alice = families["own"], people["alice"]
    mother = own.members.get(relation="mother")
    day = datetime.date(2026, 2, 10)
    nothing = services.consolation_visit_record(actor=alice, family=own, visited_on=day, visitor=alice, occasion="春节")
    assert (nothing.cash, nothing.goods_value, nothing.recorded_by) == (0, 0, alice)
    goods = services.consolation_visit_record(actor=alice, family=own, member=mother, visited_on=day,
                                              visiting_party="县计生协", goods="米油", goods_value="120.50")
    assert goods.goods_value == Decimal("120.50")
    assert AuditEvent.objects.filter(event="services.consolation.recorded", family_id=own.pk).count() == 2
    problems = [
        ({"visited_on": day, "visitor": alice}, "visited_on"),  # the same visit again
        ({"visited_on": day, "visiting_party": "镇政府", "goods_value": "50"}, "goods"),
        ({"visited_on": day}, "visiting_party"),
        ({"visited_on": day, "visitor": alice, "cash": "-1"}, "cash"),
        ({"visited_on": day, "visitor": alice, "member": families["colleague"].members.first()}, "member"),
    ]
    for values, field in problems:
        with pytest.raises(ValidationError) as error:
            services.consolation_visit_record(actor=alice, family=own, **{"visited_on": day, **values})
        assert field in error.value.message_dict or field == "visited_on", (field, error.value)
    with pytest.raises(OutOfReachError):
        services.consolation_visit_record(actor=alice, family=families["outside"], visited_on=day, visitor=alice)
    changed = services.consolation_visit_change(actor=alice, visit=nothing, cash="300")
    assert changed.cash == Decimal("300")
    event = AuditEvent.objects.filter(event="services.consolation.changed").get()
    assert (Decimal(event.before["cash"]), Decimal(event.after["cash"])) == (0, 300)
    with pytest.raises(ValidationError):
        services.consolation_visit_change(actor=alice, visit=nothing, family=families["colleague"])


def test_premium_payment_per_policy_or_per_person_at_the_roster_premium(regions, people, families):
    manager = people["manager"]
    mother = families["own"].members.get(relation="mother")
    father = families["own"].members.get(relation="father")
    policy = make_policy(regions["zhangpu"], members=[mother])
    policy.roster.filter(member=mother).update(premium=Decimal("88.00"))
    whole = services.premium_payment_record(actor=manager, policy=policy, paid_on=datetime.date(2026, 1, 5), amount="500")
    person = services.premium_payment_record(actor=manager, policy=policy, member=mother, paid_on=datetime.date(2026, 1, 5))
    assert (whole.amount, person.amount) == (Decimal("500"), Decimal("88.00"))
    assert AuditEvent.objects.filter(event="services.premium.paid").count() == 2
    for values, field in (
        ({"member": mother}, "paid_on"),  # recorded already
        ({"member": father}, "member"),  # not insured by it
        ({"amount": "500"}, "paid_on"),  # the policy's payment of that day is recorded already
        ({"paid_on": datetime.date(2026, 2, 1)}, "amount"),  # a policy payment needs its amount
        ({"paid_on": datetime.date(2026, 2, 1), "amount": "-1"}, "amount"),
    ):
        with pytest.raises(ValidationError) as error:
            services.premium_payment_record(actor=manager, policy=policy, **{"paid_on": datetime.date(2026, 1, 5), **values})
        assert field in error.value.message_dict
    draft = make_policy(regions["zhangpu"], status=P.Status.DRAFT, members=[mother])
    with pytest.raises(ValidationError):
        services.premium_payment_record(actor=manager, policy=draft, paid_on=datetime.date(2026, 1, 5), amount="1")
    with pytest.raises(OutOfReachError):
        services.premium_payment_record(actor=manager, policy=make_policy(regions["yunxiao"]),
                                        paid_on=datetime.date(2026, 1, 5), amount="1")
