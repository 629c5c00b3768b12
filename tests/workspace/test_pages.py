"""The workspace pages through Django's test client: each page for the people who use it, scoping
(alice's family is a 404 for carol), the writes they make, and the query counts of the hot pages."""
import datetime
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from casemgmt.core.models import AuditEvent, Notification
from families.models import CareTask, CheckIn, Family
from services.models import ServiceSite
from tests.conftest import PASSWORD, add_family
from volunteers.models import Enrollment, Pairing, Skill, TrainingCourse, TrainingSession, Volunteer
from workspace import ical
from workspace.models import CalendarFeed, CheckinSubmission

ID_LIKE = re.compile(r"\d{17}[\dX]|\d{6}\*{8}\d{3}[\dX]")


def page(client, user, url, **kwargs):
    client.force_login(user)
    return client.get(url, **kwargs)


def make_overdue(family, days=3):
    Family.objects.filter(pk=family.pk).update(next_checkin_due=timezone.localdate() - datetime.timedelta(days=days))


@pytest.fixture
def training(regions, people):
    skill = Skill.objects.create(code="psych", name="心理疏导", is_professional=True)
    course = TrainingCourse.objects.create(title="心理慰藉基础", region=regions["zhangpu"], skill=skill,
                                           qualification_name="心理慰藉志愿者", validity_months=24)
    start = timezone.now() + datetime.timedelta(days=2)
    session = TrainingSession.objects.create(course=course, region=regions["zhangpu"], starts_at=start,
                                             ends_at=start + datetime.timedelta(hours=2), venue="县计生协", capacity=1)
    volunteers = [Volunteer.objects.create(name=name, region=region) for name, region in
                  (("陈志愿", regions["village"]), ("林志愿", regions["suian"]), ("黄志愿", regions["zhangpu"]))]
    volunteers[0].skills.add(skill)
    return {"skill": skill, "course": course, "session": session, "volunteers": volunteers}


# --- login, language ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_login_page_logs_in_and_sends_each_role_home(client, people):
    assert client.get("/today/").status_code == 302
    response = client.get("/login/")
    assert response.status_code == 200 and 'name="viewport"' in response.content.decode()
    from casemgmt.security.totp import totp_device_create, totp_token

    code = totp_token(totp_device_create(user=people["alice"]))
    response = client.post("/login/", {"username": "alice", "password": PASSWORD, "otp_token": code}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("workspace:today")
    for name, target in (("coordinator", "trainings"), ("manager", "coverage"), ("volunteer_user", "me")):
        client.force_login(people[name])
        assert client.get("/")["Location"] == reverse(f"workspace:{target}")


@pytest.mark.django_db
def test_chinese_by_default_and_language_switch(client, people):
    assert "今天" in page(client, people["alice"], "/today/").content.decode() or \
        'lang="zh-hans"' in client.get("/today/").content.decode()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/today/"})
    assert response.status_code == 302
    assert 'lang="en"' in client.get("/today/").content.decode()


# --- Today ----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_today_lists_my_overdue_family_with_reasons_and_notifications(client, people, families, django_assert_max_num_queries):
    alice = people["alice"]
    make_overdue(families["own"])
    CareTask.objects.create(family=families["own"], kind=CareTask.Kind.ANNIVERSARY, description="忌日探访",
                            assignee=alice, due_on=timezone.localdate() + datetime.timedelta(days=2))
    Notification.objects.create(recipient=alice, kind="test", title="三户家庭逾期未联系", dedup_key="t1")
    Notification.objects.create(recipient=people["bob"], kind="test", title="bob's own", dedup_key="t2")
    client.force_login(alice)
    with django_assert_max_num_queries(12):
        response = client.get("/today/")
    text = response.content.decode()
    assert "ZP-0001" in text and "ZP-0002" not in text and "YX-0001" not in text
    assert "忌日探访" in text
    assert "三户家庭逾期未联系" in text and "bob's own" not in text
    assert response.context["overdue"][0].family == families["own"]


@pytest.mark.django_db
def test_today_query_count_does_not_grow_with_families(client, regions, people, families):
    alice = people["alice"]
    client.force_login(alice)
    make_overdue(families["own"])
    with CaptureQueriesContext(connection) as small:
        client.get("/today/")
    for i in range(6):
        family = add_family(regions["village"], f"ZP-1{i:03d}", owner=alice, mother_seq=100 + 2 * i, father_seq=101 + 2 * i)
        make_overdue(family)
    with CaptureQueriesContext(connection) as large:
        response = client.get("/today/")
    assert len(response.context["overdue"]) == 7
    assert len(large.captured_queries) == len(small.captured_queries)


# --- family page, scoping, reveal ----------------------------------------------------------------

@pytest.mark.django_db
def test_family_page_scoped_to_caseload(client, people, families):
    url = reverse("workspace:family", args=[families["own"].pk])
    assert page(client, people["alice"], url).status_code == 200
    assert page(client, people["bob"], url).status_code == 404  # colleague, not his case
    assert page(client, people["carol"], url).status_code == 404  # another county
    assert page(client, people["manager"], url).status_code == 200
    assert page(client, people["other_manager"], url).status_code == 404
    assert page(client, people["volunteer_user"], url).status_code == 403


@pytest.mark.django_db
def test_family_page_masks_ids_and_shows_timeline_in_few_queries(client, people, families, django_assert_max_num_queries):
    alice, family = people["alice"], families["own"]
    from families.services import checkin_record, family_set_risk

    checkin_record(actor=alice, family=family, channel="phone", needs="需要陪诊")
    family_set_risk(actor=alice, family=family, level="orange", reason="情绪低落")
    client.force_login(alice)
    # 23 reads (two of them the due renewals and annual reviews), and the page's audit rows: one per
    # kind of record shown in plaintext (check-ins, risk reasons…).
    with django_assert_max_num_queries(26):
        response = client.get(reverse("workspace:family", args=[family.pk]))
    text = response.content.decode()
    full = family.members.get(relation="mother").id_number
    assert full not in text and full[:6] + "********" + full[-4:] in text
    assert "需要陪诊" in text and "情绪低落" in text and "王秀英" in text


@pytest.mark.django_db
def test_reveal_needs_a_reason_and_an_entitled_role_and_is_audited(client, people, families):
    family = families["own"]
    member = family.members.get(relation="mother")
    url = reverse("workspace:member_reveal", args=[family.pk, member.pk])
    client.force_login(people["alice"])
    client.post(url, {"reason": ""})
    assert not AuditEvent.objects.filter(event="families.familymember.revealed").exists()
    response = client.post(url, {"reason": "办理保险理赔"}, HTTP_HX_REQUEST="true")
    assert member.id_number in response.content.decode()
    # The same event as a reveal through the API: one act, one name.
    event = AuditEvent.objects.get(event="families.familymember.revealed")
    assert event.actor == people["alice"] and event.reason == "办理保险理赔" and event.family_id == family.pk
    assert event.after == {"fields": ["id_number"], "surface": "workspace"}
    client.force_login(people["coordinator"])
    assert client.post(url, {"reason": "想看"}).status_code == 403
    client.force_login(people["carol"])
    assert client.post(url, {"reason": "想看"}).status_code == 404
    assert AuditEvent.objects.filter(event="families.familymember.revealed").count() == 1


@pytest.mark.django_db
def test_coordinator_sees_no_id_number_on_the_family_page(client, people, families):
    response = page(client, people["coordinator"], reverse("workspace:family", args=[families["own"].pk]))
    assert response.status_code == 200
    assert "王秀英" in response.content.decode() and not ID_LIKE.search(response.content.decode())


# --- check-in --------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_checkin_moves_the_due_date_and_a_resent_form_stores_one(client, people, families):
    alice, family = people["alice"], families["own"]
    make_overdue(family, days=10)
    url = reverse("workspace:checkin", args=[family.pk])
    form = page(client, alice, url)
    assert form.status_code == 200 and 'name="key"' in form.content.decode()
    key = str(uuid.uuid4())
    data = {"key": key, "channel": "home_visit", "physical_state": "fair", "mental_state": "low", "needs": "买药",
            "help_given": "代购药品", "follow_up": "下周回访"}
    first = client.post(url, data)
    assert first.status_code == 302 and first["Location"] == reverse("workspace:family", args=[family.pk])
    family.refresh_from_db()
    assert family.next_checkin_due > timezone.localdate()
    assert client.post(url, data).status_code == 302  # the same draft sent again when back online
    assert CheckIn.objects.filter(family=family).count() == 1
    assert CheckinSubmission.objects.filter(key=key).count() == 1
    checkin = CheckIn.objects.get(family=family)
    assert checkin.channel == "home_visit" and checkin.help_given == "代购药品" and checkin.recorded_by == alice


@pytest.mark.django_db
def test_checkin_out_of_reach_is_404(client, people, families):
    url = reverse("workspace:checkin", args=[families["own"].pk])
    client.force_login(people["carol"])
    assert client.get(url).status_code == 404
    assert client.post(url, {"key": str(uuid.uuid4()), "channel": "phone"}).status_code == 404
    assert not CheckIn.objects.exists()


# --- search ----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_search_by_name_initials_and_id_number_within_reach(client, people, families):
    client.force_login(people["manager"])
    own_id = families["own"].members.get(relation="mother").id_number
    outside_id = families["outside"].members.get(relation="mother").id_number
    for q in ("王秀英", "wxy", own_id):
        text = client.get("/families/", {"q": q}).content.decode()
        assert "ZP-0001" in text, q
        assert "YX-0001" not in text
    assert "YX-0001" not in client.get("/families/", {"q": outside_id}).content.decode()
    partial = client.get("/families/", {"q": "wxy"}, HTTP_HX_REQUEST="true").content.decode()
    assert "ZP-0001" in partial and "<html" not in partial


# --- coordinators ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_training_calendar_schedule_enrol_past_capacity_and_attendance(client, people, training):
    coordinator = people["coordinator"]
    client.force_login(coordinator)
    for view in ("month", "week"):
        response = client.get("/trainings/", {"view": view, "date": timezone.localdate() + datetime.timedelta(days=2)})
        assert "心理慰藉基础" in response.content.decode()
    start = timezone.localtime() + datetime.timedelta(days=5)
    response = client.post("/trainings/new/", {
        "course": training["course"].pk, "starts_at": start.strftime("%Y-%m-%dT09:00"),
        "ends_at": start.strftime("%Y-%m-%dT11:00"), "venue": "绥安镇文化站", "capacity": 2})
    session = TrainingSession.objects.get(venue="绥安镇文化站")
    assert response["Location"] == reverse("workspace:training", args=[session.pk])
    assert AuditEvent.objects.filter(event="volunteers.session.scheduled").exists()
    url = reverse("workspace:training", args=[session.pk])
    client.post(url, {"action": "enrol", "volunteer": [v.pk for v in training["volunteers"]]})
    statuses = sorted(Enrollment.objects.filter(session=session).values_list("status", flat=True))
    assert statuses == ["enrolled", "enrolled", "waitlisted"]
    detail = client.get(url).content.decode()
    assert "<svg" in detail and session.qr_token in detail
    placed = Enrollment.objects.filter(session=session, status="enrolled").first()
    assert 'id="attendance-closed"' in detail and "<fieldset disabled>" in detail
    assert 'value="complete"' not in detail
    refused = client.post(url, {"action": "attendance", "present": [placed.pk]}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "Attendance can be taken once the session has started" in refused.content.decode()
    placed.refresh_from_db()
    assert placed.status == "enrolled"
    begun = timezone.now() - datetime.timedelta(minutes=5)
    TrainingSession.objects.filter(pk=session.pk).update(starts_at=begun, ends_at=begun + datetime.timedelta(hours=2))
    assert 'id="attendance-closed"' not in client.get(url).content.decode()
    client.post(url, {"action": "attendance", "present": [placed.pk]})
    placed.refresh_from_db()
    assert placed.status == "attended"


@pytest.mark.django_db
def test_training_of_another_county_is_404_and_volunteers_cannot_coordinate(client, people, regions, training):
    session = training["session"]
    TrainingSession.objects.filter(pk=session.pk).update(region=regions["yunxiao"])
    assert page(client, people["coordinator"], reverse("workspace:training", args=[session.pk])).status_code == 404
    assert page(client, people["volunteer_user"], "/trainings/").status_code == 403
    assert page(client, people["alice"], "/volunteers/").status_code == 403


@pytest.mark.django_db
def test_volunteer_directory_shows_skills_qualifications_and_load(client, people, training, django_assert_max_num_queries):
    from volunteers.models import Qualification

    v = training["volunteers"][0]
    Qualification.objects.create(volunteer=v, name="急救证", granted_on=datetime.date(2024, 1, 1),
                                 expires_on=datetime.date(2025, 1, 1))
    client.force_login(people["coordinator"])
    with django_assert_max_num_queries(10):
        text = client.get("/volunteers/").content.decode()
    assert "心理疏导" in text and "急救证" in text and "2025-01-01" in text


@pytest.mark.django_db
def test_pairing_suggestions_rank_skills_then_nearness_then_load(client, people, families, training):
    family = families["own"]
    near, township, county = training["volunteers"]
    client.force_login(people["coordinator"])
    url = reverse("workspace:pairing", args=[family.pk])
    response = client.get(url, {"skills": [training["skill"].pk]})
    ranked = [v for v, _reasons in response.context["suggestions"]]
    assert ranked == [near, township, county]
    assert "心理疏导" in " ".join(response.context["suggestions"][0][1])
    client.post(url, {"volunteer": township.pk})
    assert Pairing.objects.filter(volunteer=township, family=family, ended_on__isnull=True).count() == 1
    response = client.get(url)
    assert township not in [v for v, _r in response.context["suggestions"]]  # no double pairing
    assert page(client, people["coordinator"], reverse("workspace:pairing", args=[families["outside"].pk])).status_code == 404


@pytest.mark.django_db
def test_birthday_list_becomes_a_celebration_in_one_step(client, people, regions, families):
    from services.models import Activity

    next_month = (timezone.localdate().replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    member = families["own"].members.get(relation="mother")
    member.birth_date = member.birth_date.replace(month=next_month.month, day=10)
    member.id_number = ""
    member.save()
    site = ServiceSite.objects.create(kind=ServiceSite.Kind.WARM_HEART_HOME, name="绥安暖心家园", region=regions["suian"])
    client.force_login(people["coordinator"])
    response = client.get("/activities/", {"site": site.pk})
    assert "王秀英" in response.content.decode()
    client.post("/activities/", {"site": site.pk})
    activity = Activity.objects.get(category="birthday")
    assert "王秀英" in activity.description and activity.site == site


# --- volunteers ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_volunteer_page_enrol_and_log_hours(client, people, families, training):
    user = people["volunteer_user"]
    volunteer = training["volunteers"][1]
    volunteer.user = user
    volunteer.save()
    Pairing.objects.create(volunteer=volunteer, family=families["own"])
    client.force_login(user)
    text = client.get("/me/").content.decode()
    assert "心理慰藉基础" in text and "王秀英" in text and "东门村" in text
    assert "ZP-0002" not in text and not ID_LIKE.search(text)
    client.post("/me/", {"action": "enrol", "session": training["session"].pk})
    assert Enrollment.objects.get(volunteer=volunteer).status == "enrolled"
    client.post("/me/", {"action": "hours", "date": timezone.localdate().isoformat(), "hours": "2.5",
                         "description": "陪同就医", "family": families["own"].pk})
    hours = volunteer.service_hours.get()
    assert hours.hours == 2.5 and hours.family == families["own"] and hours.status == "pending"


# --- region managers ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_coverage_counts_subtree_and_drills_down_in_constant_queries(client, people, regions, families):
    from families.services import checkin_record

    manager = people["manager"]
    make_overdue(families["colleague"])
    client.force_login(manager)
    with CaptureQueriesContext(connection) as before_q:
        before = client.get("/coverage/")
    assert before.context["total"] == 2 and before.context["contacted"] == 0  # yunxiao's family not counted
    checkin_record(actor=people["alice"], family=families["own"], channel="phone")
    for i in range(5):
        add_family(regions["village2"], f"ZP-2{i:03d}", mother_seq=200 + 2 * i, father_seq=201 + 2 * i)
    with CaptureQueriesContext(connection) as after_q:
        after = client.get("/coverage/")
    assert after.context["contacted"] == 1 and after.context["share"] == round(100 / 7)
    assert len(after_q.captured_queries) == len(before_q.captured_queries)
    assert {row["user__username"]: row["n"] for row in after.context["by_contact"]} == {"bob": 1}
    drill = client.get("/coverage/", {"region": regions["suian"].code})
    assert drill.status_code == 200 and drill.context["total"] == 7
    assert client.get("/coverage/", {"region": regions["yunxiao"].code}).status_code == 404
    assert page(client, people["alice"], "/coverage/").status_code == 403


# --- calendar feed -----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_calendar_feed_is_valid_ical_and_revocable(client, people, families):
    alice = people["alice"]
    client.force_login(alice)
    response = client.post("/calendar/", {"action": "create"})
    feed_url = response.context["feed_url"]
    token = feed_url.rsplit("/", 1)[1].removesuffix(".ics")
    assert CalendarFeed.objects.get(user=alice).token_hash != token  # only the hash is kept
    client.logout()
    body = client.get(f"/calendar/{token}.ics")
    assert body["Content-Type"].startswith("text/calendar")
    text = body.content.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "ZP-0001" in text and "王秀英" not in text and "ZP-0002" not in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    client.force_login(alice)
    client.post("/calendar/", {"action": "revoke"})
    client.logout()
    assert client.get(f"/calendar/{token}.ics").status_code == 404


def test_ical_escapes_and_folds_long_lines():
    start = datetime.date(2026, 4, 4)
    text = ical.render([("x", start, start + datetime.timedelta(days=1), True, "清明, 探访; 王\\李\n" * 8, "")],
                       name="n", now=timezone.now())
    lines = text.split("\r\n")
    assert "DTSTART;VALUE=DATE:20260404" in lines
    summary = "".join(line[1:] if line.startswith(" ") else line for line in
                      text.split("\r\n")).split("SUMMARY:")[1].split("END:VEVENT")[0]
    assert "\\,  探访\\; 王\\\\李\\n" not in summary and "清明\\, 探访\\; 王\\\\李\\n" in summary
    assert all(len(line.encode()) <= 75 for line in lines)
