"""The services API: check-ins, renewal, roster, claims, disbursements, health data rules, query counts."""
import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casemgmt.core.models import AuditEvent
from families.models import Family
from services.models import (
    Activity,
    ActivityAttendance,
    ActivityInvitation,
    ConsolationVisit,
    Disbursement,
    Fund,
    HealthCheckup,
    InsuranceClaim,
    InsurancePolicy,
    InsuredPerson,
    PremiumPayment,
    ServiceSite,
)
from volunteers.models import Volunteer

D = datetime.date


def make_activity(region, capacity=None, i=0):
    # Begun a few minutes ago (check-in opens at the start); row i starts i hours later.
    starts_at = timezone.now() + datetime.timedelta(hours=i, minutes=-10)
    return Activity.objects.create(title=f"集体庆生{i}", category="birthday", region=region, starts_at=starts_at,
                                   ends_at=starts_at + datetime.timedelta(hours=2), capacity=capacity)


def make_policy(region, members=(), **extra):
    values = {"insurer": "人保", "product_kind": "critical_illness", "starts_on": D(2026, 1, 1), "ends_on": D(2026, 12, 31),
              "premium": Decimal("1000"), "status": "active", **extra}
    policy = InsurancePolicy.objects.create(region=region, **values)
    for member in members:
        InsuredPerson.objects.create(policy=policy, member=member)
    return policy


def mother(world, scope="own"):
    return world.families[scope].members.get(relation="mother")


def father(world, scope="own"):
    return world.families[scope].members.get(relation="father")


def test_activity_checkin_by_staff_and_by_qr_token(world, client_for):
    activity = make_activity(world.regions["zhangpu"], capacity=1)
    coordinator = client_for("coordinator", "en")
    first = coordinator.post(f"/api/v1/activities/{activity.pk}/checkin/", {"member": mother(world).pk}, format="json")
    assert first.status_code == 201 and first.json()["method"] == "list"
    full = coordinator.post(f"/api/v1/activities/{activity.pk}/checkin/", {"member": father(world).pk}, format="json")
    assert full.status_code == 400 and full.json()["errors"][0]["field"] == "activity"
    neither = coordinator.post(f"/api/v1/activities/{activity.pk}/checkin/", {}, format="json")
    assert neither.status_code == 400

    own = Volunteer.objects.get(user=world.people["volunteer"])
    volunteer = client_for("volunteer", "en")
    assert "qr_token" not in volunteer.get(f"/api/v1/activities/{activity.pk}/").json()
    scanned = volunteer.post("/api/v1/activities/checkin-by-token/", {"token": activity.qr_token, "volunteer": own.pk},
                             format="json")
    assert scanned.status_code == 201 and scanned.json()["method"] == "qr"
    twice = volunteer.post("/api/v1/activities/checkin-by-token/", {"token": activity.qr_token, "volunteer": own.pk},
                           format="json")
    assert twice.status_code == 400
    # A volunteer cannot check family members in, even with the token.
    member = volunteer.post("/api/v1/activities/checkin-by-token/", {"token": activity.qr_token, "member": mother(world).pk},
                            format="json")
    assert member.status_code == 400 and member.json()["errors"][0]["field"] == "member"
    assert ActivityAttendance.objects.filter(activity=activity).count() == 2
    listed = client_for("coordinator").get(f"/api/v1/activities/{activity.pk}/").json()
    assert listed["attendance_count"] == 2


def test_policy_renewal_through_the_api_carries_over_the_eligible(world, client_for):
    policy = make_policy(world.regions["zhangpu"], [mother(world), father(world), mother(world, "colleague")])
    Family.objects.filter(pk=world.families["colleague"].pk).update(status=Family.Status.CLOSED)
    manager = client_for("manager", "en")
    renewed = manager.post(f"/api/v1/insurance-policies/{policy.pk}/renew/")
    assert renewed.status_code == 201
    body = renewed.json()
    assert (body["status"], body["renews"], body["starts_on"], body["roster_size"]) == ("draft", policy.pk, "2027-01-01", 2)
    assert manager.post(f"/api/v1/insurance-policies/{policy.pk}/renew/").status_code == 400
    activated = manager.post(f"/api/v1/insurance-policies/{body['id']}/activate/")
    assert activated.status_code == 200 and activated.json()["status"] == "active"
    # Social workers read policies but do not renew them.
    assert client_for("alice").post(f"/api/v1/insurance-policies/{policy.pk}/renew/").status_code == 403


def test_roster_add_checks_region_and_life(world, client_for):
    policy = make_policy(world.regions["zhangpu"], status="draft")
    manager = client_for("manager", "en")
    added = manager.post("/api/v1/insured-people/", {"policy": policy.pk, "member": mother(world).pk}, format="json")
    assert added.status_code == 201
    again = manager.post("/api/v1/insured-people/", {"policy": policy.pk, "member": mother(world).pk}, format="json")
    assert again.status_code == 400
    outside = manager.post("/api/v1/insured-people/", {"policy": policy.pk, "member": mother(world, "outside").pk},
                           format="json")
    assert outside.status_code == 400 and outside.json()["errors"][0]["field"] == "member"
    assert InsuredPerson.objects.filter(policy=policy).count() == 1


def test_nursing_claim_is_capped_and_settled_once(world, client_for):
    policy = make_policy(world.regions["zhangpu"], [mother(world)], product_kind="nursing_allowance",
                         daily_allowance=Decimal("100"), max_days=90)
    alice = client_for("alice", "en")
    too_much = alice.post("/api/v1/insurance-claims/", {"policy": policy.pk, "member": mother(world).pk,
                                                        "incident_date": "2026-03-01", "hospital_days": 100,
                                                        "amount_claimed": "9500"}, format="json")
    assert too_much.status_code == 400 and too_much.json()["errors"][0]["field"] == "amount_claimed"
    filed = alice.post("/api/v1/insurance-claims/", {"policy": policy.pk, "member": mother(world).pk,
                                                     "incident_date": "2026-03-01", "hospital_days": 100,
                                                     "diagnosis": "脑梗"}, format="json")
    assert filed.status_code == 201 and Decimal(filed.json()["amount_claimed"]) == Decimal("9000")
    assert filed.json()["diagnosis"] == "脑梗"  # a social worker reads health data of her caseload
    claim_id = filed.json()["id"]
    assert client_for("manager").get(f"/api/v1/insurance-claims/{claim_id}/").json()["diagnosis"] == "***"
    not_insured = alice.post("/api/v1/insurance-claims/", {"policy": policy.pk, "member": father(world).pk,
                                                           "incident_date": "2026-03-01", "hospital_days": 1}, format="json")
    assert not_insured.status_code == 400 and not_insured.json()["errors"][0]["field"] == "member"

    assert alice.post(f"/api/v1/insurance-claims/{claim_id}/settle/", {"amount": "-1"}, format="json").status_code == 400
    settled = alice.post(f"/api/v1/insurance-claims/{claim_id}/settle/", {"amount": "9000"}, format="json")
    assert settled.status_code == 200 and settled.json()["status"] == "settled"
    assert alice.post(f"/api/v1/insurance-claims/{claim_id}/settle/", {"amount": "1"}, format="json").status_code == 400
    # Bob does not work this family: the claim does not exist for him.
    assert client_for("bob").get(f"/api/v1/insurance-claims/{claim_id}/").status_code == 404


def test_health_data_is_masked_revealed_with_audit_and_never_sent_to_coordinators(world, client_for):
    checkup = HealthCheckup.objects.create(member=mother(world), date=D(2026, 4, 1), provider="县医院", findings="血压偏高")
    assert client_for("alice", "en").get(f"/api/v1/health-checkups/{checkup.pk}/").json()["findings"] == "血压偏高"
    manager = client_for("manager", "en")
    assert manager.get(f"/api/v1/health-checkups/{checkup.pk}/").json()["findings"] == "***"
    revealed = manager.post(f"/api/v1/health-checkups/{checkup.pk}/reveal/", {"names": ["findings"], "reason": "随访"},
                            format="json")
    assert revealed.status_code == 200 and revealed.json()["values"] == {"findings": "血压偏高"}
    assert AuditEvent.objects.filter(event="services.healthcheckup.revealed", family_id=world.families["own"].pk,
                                     reason="随访", region_path=world.families["own"].region_path).exists()
    for role in ("coordinator", "volunteer"):
        assert client_for(role).get("/api/v1/health-checkups/").status_code == 403
        assert client_for(role).get("/api/v1/insurance-claims/").status_code == 403


def test_reads_of_family_records_are_audited_with_the_family(world, client_for):
    HealthCheckup.objects.create(member=mother(world), date=D(2026, 4, 1), provider="县医院")
    client_for("alice").get("/api/v1/health-checkups/")
    event = AuditEvent.objects.filter(event="api.services.healthcheckup.list").latest("id")
    assert event.family_id == world.families["own"].pk and event.actor == world.people["alice"]


def test_disbursement_refuses_negative_amounts_and_funds_outside_reach(world, client_for):
    values = {"programme": "consolation", "year": 2026, "budget": 10000}
    fund = Fund.objects.create(name="中秋慰问金", region=world.regions["zhangpu"], **values)
    outside = Fund.objects.create(name="慰问金", region=world.regions["yunxiao"], **values)
    manager = client_for("manager", "en")
    body = {"fund": fund.pk, "kind": "other", "amount": "800", "family": world.families["own"].pk}
    created = manager.post("/api/v1/disbursements/", body, format="json")
    assert created.status_code == 201 and created.json()["recorded_by"] == world.people["manager"].pk
    negative = manager.post("/api/v1/disbursements/", {**body, "amount": "-1"}, format="json")
    assert negative.status_code == 400 and negative.json()["errors"][0]["field"] == "amount"
    far = manager.post("/api/v1/disbursements/", {**body, "fund": outside.pk}, format="json")
    assert far.status_code == 400 and far.json()["errors"][0]["field"] == "fund"
    assert Disbursement.objects.count() == 1
    spent = client_for("coordinator").get(f"/api/v1/funds/{fund.pk}/").json()["spent"]
    assert Decimal(spent) == Decimal("800")


def test_activity_plan_invite_and_attendance_through_the_same_services(world, client_for):
    coordinator = client_for("coordinator", "en")
    site = ServiceSite.objects.create(kind="warm_heart_home", name="绥安暖心家园", region=world.regions["suian"])
    start = timezone.now() + datetime.timedelta(days=2)
    body = {"title": "心理健康讲座", "category": "lecture", "site": site.pk, "region": world.regions["zhangpu"].pk,
            "starts_at": start.isoformat(), "ends_at": (start + datetime.timedelta(hours=2)).isoformat(), "capacity": 1}
    past = coordinator.post("/api/v1/activities/", {**body, "starts_at": "2020-01-01T09:00:00+08:00",
                                                    "ends_at": "2020-01-01T11:00:00+08:00"}, format="json")
    assert past.status_code == 400 and past.json()["errors"][0]["field"] == "starts_at"
    planned = coordinator.post("/api/v1/activities/", body, format="json")
    assert planned.status_code == 201, planned.json()
    activity = Activity.objects.get(pk=planned.json()["id"])
    assert (activity.region, activity.organiser, activity.status) == (world.regions["suian"], world.people["coordinator"],
                                                                      "planned")

    url = f"/api/v1/activities/{activity.pk}/"
    volunteer = Volunteer.objects.get(user=world.people["volunteer"])
    invite = {"members": [mother(world).pk], "volunteers": [volunteer.pk], "notify": True}
    first = coordinator.post(url + "invite/", invite, format="json")
    assert first.status_code == 201 and len(first.json()) == 2
    again = coordinator.post(url + "invite/", invite, format="json")
    assert again.status_code == 201 and again.json() == []  # inviting again changes nothing
    full = coordinator.post(url + "invite/", {"members": [father(world).pk]}, format="json")
    assert full.status_code == 400 and full.json()["errors"][0]["field"] == "member"
    outside = coordinator.post(url + "invite/", {"members": [mother(world, "outside").pk]}, format="json")
    assert outside.status_code == 400 and outside.json()["errors"][0]["field"].startswith("members")
    listed = coordinator.get("/api/v1/activity-invitations/", {"activity": activity.pk}).json()["results"]
    assert {(row["member"], row["volunteer"]) for row in listed} == {(mother(world).pk, None), (None, volunteer.pk)}

    early = coordinator.post(url + "attendance/", {"members": [mother(world).pk]}, format="json")
    assert early.status_code == 400 and early.json()["errors"][0]["field"] == "activity"
    assert "once the activity has started" in early.json()["errors"][0]["message"]
    begun = timezone.now() - datetime.timedelta(minutes=5)
    Activity.objects.filter(pk=activity.pk).update(starts_at=begun, ends_at=begun + datetime.timedelta(hours=2))
    taken = coordinator.post(url + "attendance/", {"members": [mother(world).pk], "volunteers": [volunteer.pk]},
                             format="json")
    assert taken.status_code == 200 and len(taken.json()) == 2
    assert coordinator.get(url).json()["attendance_count"] == 2


def test_activity_filters(world, client_for):
    in_village = make_activity(world.regions["village"])
    lecture = make_activity(world.regions["zhangpu"], i=1)
    Activity.objects.filter(pk=lecture.pk).update(category="lecture", title="心理健康讲座")
    client = client_for("coordinator")

    def ids(**params):
        return {row["id"] for row in client.get("/api/v1/activities/", params).json()["results"]}

    assert ids(region_id=world.regions["suian"].pk) == {in_village.pk}
    assert ids(category="lecture") == {lecture.pk}
    assert ids(q="讲座") == {lecture.pk}
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    next_week = (timezone.localdate() + datetime.timedelta(days=7)).isoformat()
    assert ids(starts_after=yesterday, starts_before=next_week) == {in_village.pk, lecture.pk}
    assert ids(starts_after=next_week) == set()


# --- a list costs the same for 1 row and for many -------------------------------------------------

def _fund(world, i):
    return Fund.objects.create(name=f"基金{i}", programme="consolation", year=2026, budget=1000, region=world.regions["village"])


def _member(world, i):
    """A member of alice's family for row i (the family gets more members as rows grow)."""
    if i == 0:
        return mother(world)
    from families.models import FamilyMember

    return FamilyMember.objects.create(family=world.families["own"], name=f"亲属{i}", relation="other")


def _claim(world, i):
    member = _member(world, i)
    policy = make_policy(world.regions["village"], [member])
    return InsuranceClaim.objects.create(policy=policy, member=member, incident_date=D(2026, 3, 1), amount_claimed=10)


def _premium(world, i):
    member = _member(world, i)
    return PremiumPayment.objects.create(policy=make_policy(world.regions["village"], [member]), member=member,
                                         paid_on=D(2026, 1, 1), amount=1)


ROW_FACTORIES = {
    "/api/v1/service-sites/": lambda world, i: ServiceSite.objects.create(kind="warm_heart_home", name=f"家园{i}",
                                                                          region=world.regions["village"]),
    "/api/v1/activities/": lambda world, i: make_activity(world.regions["village"], i=i),
    "/api/v1/activity-attendance/": lambda world, i: ActivityAttendance.objects.create(
        activity=make_activity(world.regions["village"], i=i), member=_member(world, i)),
    "/api/v1/activity-invitations/": lambda world, i: ActivityInvitation.objects.create(
        activity=make_activity(world.regions["village"], i=i), member=_member(world, i)),
    "/api/v1/funds/": _fund,
    "/api/v1/insurance-policies/": lambda world, i: make_policy(world.regions["village"], [_member(world, i)]),
    "/api/v1/insured-people/": lambda world, i: make_policy(world.regions["village"], [_member(world, i)]).roster.get(),
    "/api/v1/insurance-claims/": _claim,
    "/api/v1/disbursements/": lambda world, i: Disbursement.objects.create(
        fund=_fund(world, i), kind="other", amount=1, member=_member(world, i), family=world.families["own"],
        paid_on=D(2026, 1, 1)),
    "/api/v1/premium-payments/": _premium,
    "/api/v1/consolation-visits/": lambda world, i: ConsolationVisit.objects.create(
        family=world.families["own"], member=_member(world, i), visited_on=D(2026, 1, 1), cash=1, visiting_party="县计生协"),
    "/api/v1/health-checkups/": lambda world, i: HealthCheckup.objects.create(member=_member(world, i), date=D(2026, 1, 1),
                                                                              provider="医院", findings="x"),
}


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.json()["count"]


@pytest.mark.parametrize("url", list(ROW_FACTORIES))
def test_list_query_count_does_not_grow_with_rows(world, client_for, url):
    client = client_for("manager")
    ROW_FACTORIES[url](world, 0)
    few, rows_few = _count_queries(client, url)
    for i in range(1, 8):
        ROW_FACTORIES[url](world, i)
    many, rows_many = _count_queries(client, url)
    assert rows_many >= rows_few + 7
    assert many == few, f"{url}: {few} queries for {rows_few} rows, {many} for {rows_many}"
    assert few <= 8


@pytest.mark.parametrize("url", list(ROW_FACTORIES))
def test_detail_query_count_is_small(world, client_for, url, django_assert_max_num_queries):
    row = ROW_FACTORIES[url](world, 0)
    client = client_for("manager")
    with django_assert_max_num_queries(8):
        response = client.get(f"{url}{row.pk}/")
    assert response.status_code == 200 and response.json()["id"] == row.pk


def test_consolation_visits_through_the_api(world, client_for):
    own = world.families["own"]
    alice = client_for("alice", "en")
    body = {"family": own.pk, "visited_on": "2026-02-10", "visiting_party": "县计生协", "goods": "米油", "goods_value": "120.50"}
    created = alice.post("/api/v1/consolation-visits/", body, format="json")
    assert created.status_code == 201, created.json()
    visit = created.json()
    assert (visit["cash"], visit["goods_value"], visit["recorded_by"]) == ("0.00", "120.50", world.people["alice"].pk)
    again = alice.post("/api/v1/consolation-visits/", body, format="json")
    assert again.status_code == 400
    no_goods = alice.post("/api/v1/consolation-visits/", {**body, "visited_on": "2026-02-11", "goods": ""}, format="json")
    assert no_goods.status_code == 400 and no_goods.json()["errors"][0]["field"] == "goods"
    by_herself = alice.post("/api/v1/consolation-visits/", {"family": own.pk, "visited_on": "2026-02-12"}, format="json")
    assert by_herself.status_code == 201 and by_herself.json()["visitor"] == world.people["alice"].pk
    carols = client_for("carol", "en").post("/api/v1/consolation-visits/", body, format="json")
    assert carols.status_code == 400 and carols.json()["errors"][0]["field"] == "family"
    url = f"/api/v1/consolation-visits/{visit['id']}/"
    etag = alice.get(url)["ETag"]
    changed = alice.patch(url, {"cash": "200", "family": world.families["colleague"].pk}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200 and changed.json()["cash"] == "200.00" and changed.json()["family"] == own.pk
    assert AuditEvent.objects.filter(event="services.consolation.changed", family_id=own.pk).exists()
    stale = alice.patch(url, {"cash": "1"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412


def test_premium_payments_through_the_api_use_the_roster_premium(world, client_for):
    member = mother(world)
    policy = make_policy(world.regions["village"], [member])
    policy.roster.update(premium=Decimal("66.00"))
    manager = client_for("manager", "en")
    paid = manager.post("/api/v1/premium-payments/", {"policy": policy.pk, "member": member.pk, "paid_on": "2026-03-01"},
                        format="json")
    assert paid.status_code == 201 and paid.json()["amount"] == "66.00"
    twice = manager.post("/api/v1/premium-payments/", {"policy": policy.pk, "member": member.pk, "paid_on": "2026-03-01"},
                         format="json")
    assert twice.status_code == 400 and twice.json()["errors"][0]["field"] == "paid_on"
    whole = manager.post("/api/v1/premium-payments/", {"policy": policy.pk, "paid_on": "2026-03-01"}, format="json")
    assert whole.status_code == 400 and whole.json()["errors"][0]["field"] == "amount"
    assert PremiumPayment.objects.count() == 1
