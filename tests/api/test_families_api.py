"""Families API: search and filters, workflow actions through services, and constant query counts."""
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casemgmt.core.idcard import make_id_number
from families.models import CheckIn, ContactAssignment, Family, FamilyMember, FamilyTransfer
from tests.conftest import add_family


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_search_by_name_pinyin_initials_id_number_and_phone(world, client_for):
    own, colleague = world.families["own"], world.families["colleague"]
    FamilyMember.objects.create(family=colleague, name="赵丽华", relation="mother")
    client = client_for("manager")
    assert ids(client.get("/api/v1/families/", {"q": "赵丽"})) == {colleague.pk}
    assert ids(client.get("/api/v1/families/", {"q": "zhaolihua"})) == {colleague.pk}
    assert ids(client.get("/api/v1/families/", {"q": "zlh"})) == {colleague.pk}
    mother = own.members.get(relation="mother")
    assert ids(client.get("/api/v1/families/", {"q": mother.id_number})) == {own.pk}
    assert ids(client.get("/api/v1/families/", {"q": mother.id_number.lower()})) == {own.pk}
    assert ids(client.get("/api/v1/families/", {"q": mother.id_number[:17] + "0"})) == set()
    assert ids(client.get("/api/v1/families/", {"q": "13800000001"})) == {own.pk, colleague.pk}
    # Search never crosses reach: carol's family has the same phone number.
    assert world.families["outside"].pk not in ids(client.get("/api/v1/families/", {"q": "13800000001"}))


def test_filters_region_subtree_status_risk_due_and_overdue(world, client_for):
    own, colleague = world.families["own"], world.families["colleague"]
    today = timezone.localdate()
    Family.objects.filter(pk=own.pk).update(next_checkin_due=today - datetime.timedelta(days=3), risk_level="red")
    Family.objects.filter(pk=colleague.pk).update(next_checkin_due=today + datetime.timedelta(days=10))
    client = client_for("manager")
    assert ids(client.get("/api/v1/families/", {"region": "350623100201"})) == {own.pk}
    assert ids(client.get("/api/v1/families/", {"region": "350623"})) == {own.pk, colleague.pk}
    assert ids(client.get("/api/v1/families/", {"region_id": world.regions["village2"].pk})) == {colleague.pk}
    assert ids(client.get("/api/v1/families/", {"region": "350622"})) == set()  # outside reach stays empty
    assert ids(client.get("/api/v1/families/", {"risk_level": "red"})) == {own.pk}
    assert ids(client.get("/api/v1/families/", {"overdue": "true"})) == {own.pk}
    assert ids(client.get("/api/v1/families/", {"due_before": str(today)})) == {own.pk}
    assert ids(client.get("/api/v1/families/", {"due_after": str(today)})) == {colleague.pk}
    ordered = client.get("/api/v1/families/", {"ordering": "-next_checkin_due"}).json()["results"]
    assert [row["id"] for row in ordered] == [colleague.pk, own.pk]
    everything = client.get("/api/v1/families/", {"page_size": 1000}).json()  # capped at 200, one page
    assert len(everything["results"]) == 2 and everything["next"] is None and "count" not in everything
    bad = client.get("/api/v1/families/", {"risk_level": "purple"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "risk_level"


def test_checkin_records_through_the_service_and_moves_next_due(world, client_for):
    family = world.families["own"]
    Family.objects.filter(pk=family.pk).update(next_checkin_due=timezone.localdate() - datetime.timedelta(days=5))
    response = client_for("alice").post("/api/v1/checkins/", {"family": family.pk, "channel": "home_visit",
                                                              "mental_state": "low", "mental_notes": "想念孩子"},
                                        format="json")
    assert response.status_code == 201
    # The policy (core.privacy): a social worker reads mental-state notes; a manager reveals them.
    assert response.json()["mental_notes"] == "想念孩子"
    checkin_id = response.json()["id"]
    assert client_for("manager").get(f"/api/v1/checkins/{checkin_id}/").json()["mental_notes"] == "***"
    family.refresh_from_db()
    assert family.status == "active" and family.next_checkin_due > timezone.localdate() and family.last_home_visit_at
    assert CheckIn.objects.get().recorded_by == world.people["alice"]


def test_assessment_sets_risk_and_reassess_action(world, client_for, scale):
    family = world.families["own"]
    client = client_for("alice", "en")
    response = client.post("/api/v1/assessments/", {"family": family.pk, "scale": scale.pk, "score": 13}, format="json")
    assert response.status_code == 201 and response.json()["resulting_risk"] == "red"
    family.refresh_from_db()
    assert family.risk_level == "red"
    too_high = client.post("/api/v1/assessments/", {"family": family.pk, "scale": scale.pk, "score": 99}, format="json")
    assert too_high.status_code == 400 and too_high.json()["errors"][0]["field"] == "score"
    reassessed = client.post(f"/api/v1/families/{family.pk}/reassess-risk/", {"level": "yellow", "reason": "better"},
                             format="json")
    assert reassessed.status_code == 200 and reassessed.json()["risk_level"] == "yellow"
    history = client.get(f"/api/v1/families/{family.pk}/risk-history/").json()
    assert [(h["from_level"], h["to_level"]) for h in history] == [("red", "yellow"), ("green", "red")]


def test_assign_keeps_history_and_only_managers_assign(world, client_for):
    family = world.families["own"]
    body = {"kind": "social_worker", "user": world.people["bob"].pk, "reason": "alice on leave"}
    assert client_for("alice").post(f"/api/v1/families/{family.pk}/assign/", body, format="json").status_code == 403
    response = client_for("manager").post(f"/api/v1/families/{family.pk}/assign/", body, format="json")
    assert response.status_code == 200 and response.json()["user"]["username"] == "bob"
    rows = ContactAssignment.objects.filter(family=family, kind="social_worker").order_by("id")
    assert [(r.user.username, r.ended_on is not None) for r in rows] == [("alice", True), ("bob", False)]
    assert client_for("alice").get(f"/api/v1/families/{family.pk}/").status_code == 404
    assert client_for("bob").get(f"/api/v1/families/{family.pk}/").status_code == 200
    carol = {"kind": "social_worker", "user": world.people["carol"].pk}
    assert client_for("manager").post(f"/api/v1/families/{family.pk}/assign/", carol,
                                      format="json").status_code == 400


def test_close_and_reopen_keep_status_history(world, client_for):
    family = world.families["own"]
    client = client_for("alice", "en")
    no_reason = client.post(f"/api/v1/families/{family.pk}/close/", {}, format="json")
    assert no_reason.status_code == 400 and no_reason.json()["errors"][0]["field"] == "reason"
    assert client.post(f"/api/v1/families/{family.pk}/close/", {"reason": "moved in with relatives", "status": "moved"},
                       format="json").json()["status"] == "moved"
    assert client.post(f"/api/v1/families/{family.pk}/reopen/", {"reason": "back"}, format="json").json()["status"] == \
        "active"
    history = client.get(f"/api/v1/families/{family.pk}/status-history/").json()
    assert [h["to_status"] for h in history] == ["active", "moved", "registered"]


def test_transfer_is_accepted_by_the_receiving_manager_only(world, client_for, people):
    family = world.families["own"]
    requested = client_for("alice").post(f"/api/v1/families/{family.pk}/transfer/",
                                         {"to_region": "350622100201", "reason": "moved to Yunxiao"}, format="json")
    assert requested.status_code == 201, requested.content
    transfer_id = requested.json()["id"]
    # The sending manager cannot decide; the receiving one sees the request and accepts.
    assert client_for("manager").post(f"/api/v1/transfers/{transfer_id}/accept/", {}, format="json").status_code == 403
    from rest_framework.test import APIClient

    receiving = APIClient()
    receiving.force_authenticate(people["other_manager"])
    assert receiving.get(f"/api/v1/transfers/{transfer_id}/").status_code == 200
    assert receiving.get(f"/api/v1/families/{family.pk}/").status_code == 404
    accepted = receiving.post(f"/api/v1/transfers/{transfer_id}/accept/", {"note": "ok"}, format="json")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    family.refresh_from_db()
    assert family.region_path == "350622100201"
    assert not ContactAssignment.objects.filter(family=family, ended_on__isnull=True).exists()
    assert receiving.get(f"/api/v1/families/{family.pk}/").status_code == 200
    assert client_for("alice").get(f"/api/v1/families/{family.pk}/").status_code == 404
    again = receiving.post(f"/api/v1/transfers/{transfer_id}/reject/", {}, format="json")
    assert again.status_code == 400
    assert FamilyTransfer.objects.get().status == "accepted"


def test_member_update_validates_and_bumps_version(world, client_for):
    member = world.families["own"].members.get(relation="mother")
    client = client_for("alice", "en")
    url = f"/api/v1/family-members/{member.pk}/"
    etag = client.get(url)["ETag"]
    bad = client.patch(url, {"id_number": "350623196803050000"}, format="json", HTTP_IF_MATCH=etag)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "id_number"
    good_id = make_id_number("350623", datetime.date(1968, 3, 5), 88)
    ok = client.patch(url, {"id_number": good_id, "family": world.families["outside"].pk}, format="json",
                      HTTP_IF_MATCH=etag)
    assert ok.status_code == 200 and ok.json()["version"] == member.version + 1
    member.refresh_from_db()
    assert member.id_number == good_id and member.family_id == world.families["own"].pk


# ---- the families list is paged by cursor ---------------------------------------------------------

def _walk(client, url, params=None, link="next"):
    """Every page from ``url`` following ``link``: the ids in list order, and the pages."""
    pages = [client.get(url, params).json()]
    while pages[-1][link]:
        assert len(pages) < 50, "the links loop"
        pages.append(client.get(pages[-1][link]).json())
    in_order = pages if link == "next" else pages[::-1]
    return [row["id"] for page in in_order for row in page["results"]], pages


@pytest.fixture
def caseload(world):
    """Twelve families of alice's: due dates with ties, and two without a due date at all."""
    today = timezone.localdate()
    dues = [3, 1, 1, 1, None, 2, 2, 5, None, 0, 1, 4]
    rows = [world.families["own"]]
    for i in range(len(dues) - 1):
        rows.append(add_family(world.regions["village"], f"C-{i:03d}", owner=world.people["alice"],
                               mother_seq=300 + 2 * i, father_seq=301 + 2 * i))
    for family, days in zip(rows, dues, strict=True):
        due = None if days is None else today + datetime.timedelta(days=days)
        Family.objects.filter(pk=family.pk).update(next_checkin_due=due)
    return {family.pk: (None if days is None else today + datetime.timedelta(days=days))
            for family, days in zip(rows, dues, strict=True)}


def test_caseload_pages_follow_the_due_date_without_gaps_or_repeats(world, client_for, caseload):
    client = client_for("alice")
    far = datetime.date.max
    expected = sorted(caseload, key=lambda pk: (caseload[pk] or far, pk))
    served, pages = _walk(client, "/api/v1/families/", {"ordering": "next_checkin_due", "page_size": 5})
    assert served == expected and len(pages) == 3
    assert pages[0]["previous"] is None and pages[-1]["next"] is None
    assert all(set(page) == {"next", "previous", "results"} for page in pages)
    # Back from the last page by the previous links: the same rows, page by page.
    back, _ = _walk(client, pages[-1]["previous"], link="previous")
    assert back == expected[:10]
    # Descending: the families without a due date first (as PostgreSQL sorts NULLs), then the latest.
    served, _ = _walk(client, "/api/v1/families/", {"ordering": "-next_checkin_due", "page_size": 4})
    assert served == sorted(caseload, key=lambda pk: (caseload[pk] is not None, -(caseload[pk] or far).toordinal(),
                                                      -pk))
    # The default order is by file number.
    served, _ = _walk(client, "/api/v1/families/", {"page_size": 5})
    assert served == list(Family.objects.filter(pk__in=caseload).order_by("file_number").values_list("pk", flat=True))


def test_a_check_in_between_pages_moves_the_family_to_its_new_place_and_skips_nobody(world, client_for, caseload):
    client = client_for("alice")
    first = client.get("/api/v1/families/", {"ordering": "next_checkin_due", "page_size": 3}).json()
    seen = [row["id"] for row in first["results"]]
    assert client.post("/api/v1/checkins/", {"family": seen[0], "channel": "phone"}, format="json").status_code == 201
    rest, _ = _walk(client, first["next"])
    # Due again in weeks: after every dated family of the caseload, before the two without a date.
    assert rest.index(seen[0]) == len(rest) - 3
    assert sorted(seen + rest) == sorted([*caseload, seen[0]])


def test_a_cursor_is_checked_and_belongs_to_its_ordering(world, client_for, caseload):
    client = client_for("alice", "en")
    first = client.get("/api/v1/families/", {"ordering": "next_checkin_due", "page_size": 2}).json()
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    for bad in ("not-a-cursor", "e30=", cursor[:-4]):
        response = client.get("/api/v1/families/", {"ordering": "next_checkin_due", "cursor": bad})
        assert response.status_code == 404 and response.json()["errors"][0]["code"] == "not_found", bad
    other_order = client.get("/api/v1/families/", {"ordering": "file_number", "cursor": cursor})
    assert other_order.status_code == 404


# ---- query counts: 1 row and 50 rows cost the same ------------------------------------------------

def _grow(world, n, start=0):
    from families.models import AnnualReview, AssistanceEnrollment, CarePlan, CarePlanGoal, CareTask, ConsentRecord

    manager = world.people["manager"]
    for i in range(start, start + n):
        family = add_family(world.regions["village"], f"Q-{i:03d}", owner=world.people["alice"],
                            mother_seq=100 + 2 * i, father_seq=101 + 2 * i)
        CheckIn.objects.create(family=family, recorded_by=manager, channel="phone", mental_notes="x")
        plan = CarePlan.objects.create(family=family, title="p", owner=manager)
        CarePlanGoal.objects.create(plan=plan, description="g")
        CareTask.objects.create(family=family, plan=plan, description="t", due_on=datetime.date(2026, 1, 1),
                                assignee=manager)
        enrollment = AssistanceEnrollment.objects.create(member=family.members.first(), family=family)
        AnnualReview.objects.create(enrollment=enrollment, year=2025, reviewer=manager)
        ConsentRecord.objects.create(family=family, purpose="case_management", recorded_by=manager)
        FamilyTransfer.objects.create(family=family, from_region=family.region, to_region=world.regions["village2"],
                                      reason="r", requested_by=manager)


LIST_URLS = ["families", "family-members", "assignments", "checkins", "assessments", "care-plans", "care-plan-goals",
             "care-tasks", "enrollments", "annual-reviews", "consents", "transfers", "regions", "audit-events"]


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return len(ctx.captured_queries)


@pytest.mark.parametrize("route", LIST_URLS)
def test_list_and_detail_query_count_does_not_grow(route, world, client_for, scale):
    from families.services import assessment_record

    role = "auditor" if route == "audit-events" else "manager"
    client = client_for(role)
    _grow(world, 1)
    assessment_record(actor=world.people["manager"], family=Family.objects.first(), scale=scale, score=1)
    client.get(f"/api/v1/{route}/")  # warm the user's permission cache, as a real session would per request
    small = _count(client, f"/api/v1/{route}/")
    first_id = client.get(f"/api/v1/{route}/").json()["results"][0]["id"]
    detail_small = _count(client, f"/api/v1/{route}/{first_id}/")
    _grow(world, 49, start=1)
    for family in Family.objects.all()[:49]:
        assessment_record(actor=world.people["manager"], family=family, scale=scale, score=1)
    large = _count(client, f"/api/v1/{route}/")
    body = client.get(f"/api/v1/{route}/").json()
    if route == "families":  # paged by cursor, never counted
        assert len(body["results"]) == 50 and body["next"]
    elif route != "regions":
        assert body["count"] >= 50
    assert large == small, f"{route}: {small} queries with 1 row, {large} with 50"
    assert detail_small <= 12
    assert small <= 12
