"""The volunteers API: workflow actions through the services, field rules, filters and query counts."""
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casemgmt.core.idcard import make_id_number
from casemgmt.core.models import AuditEvent, Notification
from volunteers.models import (
    Enrollment,
    Pairing,
    Qualification,
    ServiceHours,
    Skill,
    Team,
    TrainingCourse,
    TrainingSession,
    Volunteer,
)

E = Enrollment.Status


def make_session(region, capacity=1, start_in=datetime.timedelta(days=2), **extra):
    course = TrainingCourse.objects.create(title="危机干预", region=region, qualification_name="危机干预志愿者",
                                           validity_months=24)
    starts_at = timezone.now() + start_in
    return TrainingSession.objects.create(course=course, region=region, starts_at=starts_at, capacity=capacity,
                                          ends_at=starts_at + datetime.timedelta(hours=2), venue="会议室", **extra)


@pytest.fixture
def own_volunteer(world):
    return Volunteer.objects.get(user=world.people["volunteer"])


def test_enrol_waitlist_cancel_and_promotion_through_the_api(world, client_for, own_volunteer):
    session = make_session(world.regions["zhangpu"], capacity=1)
    other = Volunteer.objects.create(name="陈明", region=world.regions["zhangpu"])
    coordinator = client_for("coordinator", "en")
    first = coordinator.post("/api/v1/training-enrollments/", {"session": session.pk, "volunteer": other.pk}, format="json")
    # The volunteer enrols themself and lands on the waiting list.
    second = client_for("volunteer", "en").post("/api/v1/training-enrollments/",
                                                {"session": session.pk, "volunteer": own_volunteer.pk}, format="json")
    assert (first.status_code, first.json()["status"]) == (201, "enrolled")
    assert (second.status_code, second.json()["status"]) == (201, "waitlisted")
    waitlist = coordinator.get("/api/v1/training-enrollments/", {"session": session.pk, "status": "waitlisted"}).json()
    assert [row["id"] for row in waitlist["results"]] == [second.json()["id"]]
    detail = coordinator.get(f"/api/v1/training-sessions/{session.pk}/").json()
    assert (detail["places_taken"], detail["waitlisted"]) == (1, 1)

    cancelled = coordinator.post(f"/api/v1/training-enrollments/{first.json()['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert Enrollment.objects.get(pk=second.json()["id"]).status == E.ENROLLED
    assert Notification.objects.filter(recipient=world.people["volunteer"], kind="training.waitlist_promoted").exists()


def test_a_volunteer_cannot_enrol_or_cancel_for_someone_else(world, client_for, own_volunteer):
    session = make_session(world.regions["zhangpu"], capacity=3)
    other = Volunteer.objects.create(name="陈明", region=world.regions["zhangpu"])
    client = client_for("volunteer", "en")
    response = client.post("/api/v1/training-enrollments/", {"session": session.pk, "volunteer": other.pk}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "volunteer"
    theirs = Enrollment.objects.create(session=session, volunteer=other)
    assert client.post(f"/api/v1/training-enrollments/{theirs.pk}/cancel/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == E.ENROLLED


def test_double_booking_is_a_400_naming_the_session(world, client_for, own_volunteer):
    one = make_session(world.regions["zhangpu"], capacity=3)
    same_time = make_session(world.regions["zhangpu"], capacity=3)
    client = client_for("coordinator", "en")
    assert client.post("/api/v1/training-enrollments/", {"session": one.pk, "volunteer": own_volunteer.pk},
                       format="json").status_code == 201
    response = client.post("/api/v1/training-enrollments/", {"session": same_time.pk, "volunteer": own_volunteer.pk},
                           format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "session"
    assert not Enrollment.objects.filter(session=same_time).exists()


def test_qr_checkin_attendance_and_completion_grant_a_qualification(world, client_for, own_volunteer):
    session = make_session(world.regions["zhangpu"], capacity=3)
    absent = Volunteer.objects.create(name="陈明", region=world.regions["zhangpu"])
    Enrollment.objects.create(session=session, volunteer=own_volunteer)
    absent_enrollment = Enrollment.objects.create(session=session, volunteer=absent)
    TrainingSession.objects.filter(pk=session.pk).update(starts_at=timezone.now() - datetime.timedelta(minutes=5))
    volunteer = client_for("volunteer", "en")
    # Volunteers do not receive the token: they scan it on the spot.
    assert "qr_token" not in volunteer.get(f"/api/v1/training-sessions/{session.pk}/").json()
    scanned = volunteer.post("/api/v1/training-enrollments/checkin/",
                             {"token": session.qr_token, "volunteer": own_volunteer.pk}, format="json")
    assert scanned.status_code == 200 and scanned.json()["status"] == "attended"
    bad = volunteer.post("/api/v1/training-enrollments/checkin/", {"token": "x", "volunteer": own_volunteer.pk},
                         format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "token"

    coordinator = client_for("coordinator", "en")
    marked = coordinator.post(f"/api/v1/training-enrollments/{absent_enrollment.pk}/attend/", {"attended": False},
                              format="json")
    assert marked.json()["status"] == "no_show"
    completed = coordinator.post(f"/api/v1/training-sessions/{session.pk}/complete/")
    assert completed.status_code == 200
    assert [q["volunteer"] for q in completed.json()] == [own_volunteer.pk]
    assert Qualification.objects.get(volunteer=own_volunteer).expires_on is not None


def test_pairing_create_and_end(world, client_for):
    volunteer = Volunteer.objects.create(name="陈明", region=world.regions["zhangpu"])
    client = client_for("coordinator", "en")
    family = world.families["colleague"]
    created = client.post("/api/v1/pairings/", {"volunteer": volunteer.pk, "family": family.pk}, format="json")
    assert created.status_code == 201
    again = client.post("/api/v1/pairings/", {"volunteer": volunteer.pk, "family": family.pk}, format="json")
    assert again.status_code == 400 and again.json()["errors"][0]["field"] == "family"
    outside = client.post("/api/v1/pairings/", {"volunteer": volunteer.pk, "family": world.families["outside"].pk},
                          format="json")
    assert outside.status_code == 400 and outside.json()["errors"][0]["field"] == "family"
    ended = client.post(f"/api/v1/pairings/{created.json()['id']}/end/", {"reason": "搬家"}, format="json")
    assert ended.status_code == 200 and ended.json()["ended_on"] == timezone.localdate().isoformat()
    assert AuditEvent.objects.filter(event="volunteers.pairing.ended", family_id=family.pk).exists()


def test_hours_logged_by_the_volunteer_and_approved_by_the_coordinator(world, client_for, own_volunteer):
    volunteer = client_for("volunteer", "en")
    logged = volunteer.post("/api/v1/service-hours/", {
        "volunteer": own_volunteer.pk, "date": timezone.localdate().isoformat(), "hours": "2.5",
        "description": "陪同就医", "family": world.families["own"].pk}, format="json")
    assert logged.status_code == 201 and logged.json()["status"] == "pending"
    pk = logged.json()["id"]
    assert volunteer.post(f"/api/v1/service-hours/{pk}/approve/").status_code == 403
    approved = client_for("coordinator", "en").post(f"/api/v1/service-hours/{pk}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["reviewed_by"] == world.people["coordinator"].pk
    assert client_for("manager").post(f"/api/v1/service-hours/{pk}/reject/").status_code == 400


def test_a_coordinator_cannot_approve_their_own_hours(world, client_for):
    mine = Volunteer.objects.create(name="协调员", region=world.regions["zhangpu"], user=world.people["coordinator"])
    entry = ServiceHours.objects.create(volunteer=mine, date=timezone.localdate(), hours=3, description="活动")
    response = client_for("coordinator", "en").post(f"/api/v1/service-hours/{entry.pk}/approve/")
    assert response.status_code == 400
    entry.refresh_from_db()
    assert entry.status == ServiceHours.Status.PENDING


def test_volunteer_id_numbers_reach_neither_coordinators_nor_volunteers(world, client_for, own_volunteer):
    id_number = make_id_number("350623", datetime.date(1990, 1, 2), 15)
    own_volunteer.id_number, own_volunteer.phone = id_number, "13912345678"
    own_volunteer.save()
    for role in ("coordinator", "volunteer"):
        body = client_for(role).get(f"/api/v1/volunteers/{own_volunteer.pk}/").json()
        assert "id_number" not in body
        assert id_number not in str(client_for(role).get("/api/v1/volunteers/").json())
    manager = client_for("manager").get(f"/api/v1/volunteers/{own_volunteer.pk}/").json()
    assert manager["id_number"] != id_number and manager["id_number"].endswith(id_number[-4:])
    assert manager["phone"] != "13912345678"
    # Nor can a coordinator probe for an ID number through the search.
    found = client_for("coordinator").get("/api/v1/volunteers/", {"q": id_number}).json()["results"]
    assert found == []
    assert [r["id"] for r in client_for("manager").get("/api/v1/volunteers/", {"q": id_number}).json()["results"]] == [
        own_volunteer.pk]


def test_volunteer_filters_region_subtree_status_and_pinyin(world, client_for, own_volunteer):
    suian = Volunteer.objects.create(name="黄丽", region=world.regions["suian"])
    Volunteer.objects.create(name="停用者", region=world.regions["village2"], status="inactive")
    client = client_for("coordinator")

    def ids(**params):
        return {row["id"] for row in client.get("/api/v1/volunteers/", params).json()["results"]}

    assert ids(region_id=world.regions["suian"].pk, status="active") == {suian.pk}
    assert ids(region=world.regions["suian"].code[:9]) == {suian.pk, Volunteer.objects.get(name="停用者").pk}
    assert ids(q="hl") == {suian.pk}
    assert ids(q="黄") == {suian.pk}
    assert own_volunteer.pk in ids(status="active")


def test_team_region_must_be_within_reach(world, client_for):
    client = client_for("coordinator", "en")
    outside = client.post("/api/v1/teams/", {"name": "外县队", "region": world.regions["yunxiao"].pk}, format="json")
    assert outside.status_code == 400 and outside.json()["errors"][0]["field"] == "region"
    inside = client.post("/api/v1/teams/", {"name": "绥安队", "region": world.regions["suian"].pk}, format="json")
    assert inside.status_code == 201
    assert AuditEvent.objects.filter(event="volunteers.team.created", object_ids=[inside.json()["id"]]).exists()


# --- a list costs the same for 1 row and for many -------------------------------------------------

def _volunteer(world, i):
    return Volunteer.objects.create(name=f"志愿者{i}", region=world.regions["village"], team=_team(world))


def _team(world):
    return Team.objects.get_or_create(name="东门队", region=world.regions["village"])[0]


def _session(world, i):
    return make_session(world.regions["village"], start_in=datetime.timedelta(days=10 + i))


def _enrollment(world, i):
    return Enrollment.objects.create(session=_session(world, i), volunteer=_volunteer(world, i))


def _with_skills(world, i):
    volunteer = _volunteer(world, i)
    volunteer.skills.set([Skill.objects.get_or_create(code=f"s{i % 3}", defaults={"name": f"技能{i}"})[0]])
    return volunteer


ROW_FACTORIES = {
    "/api/v1/volunteers/": _with_skills,
    "/api/v1/teams/": lambda world, i: Team.objects.create(name=f"队{i}", region=world.regions["village"]),
    "/api/v1/skills/": lambda world, i: Skill.objects.create(code=f"k{i}", name=f"技能{i}"),
    "/api/v1/training-courses/": lambda world, i: _session(world, i).course,
    "/api/v1/training-sessions/": _session,
    "/api/v1/training-enrollments/": _enrollment,
    "/api/v1/qualifications/": lambda world, i: Qualification.objects.create(
        volunteer=_volunteer(world, i), name="证书", granted_on=datetime.date(2026, 1, 1)),
    "/api/v1/pairings/": lambda world, i: Pairing.objects.create(volunteer=_volunteer(world, i), family=world.families["own"]),
    "/api/v1/service-hours/": lambda world, i: ServiceHours.objects.create(
        volunteer=_volunteer(world, i), date=datetime.date(2026, 1, 1), hours=1, description="x"),
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
