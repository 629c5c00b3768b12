"""The privacy policy on the workspace, tried from the policy itself: every role opens every page
while each governed field holds a value of its own, and no page may show a value in plaintext that
``privacy.present`` does not give that role; every audited value a page does show leaves an audit row
of that page view. Then the acts: tap-to-call, the reveal of an ID number, search by a value one
never gets, and the texts that leave the system (calendar feeds, reminders)."""
import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from casemgmt.core import privacy
from casemgmt.core.models import AuditEvent, Notification
from families.models import (
    AssistanceEnrollment,
    CareTask,
    CheckIn,
    ContactAssignment,
    Family,
    FamilyMember,
    FamilyStatusChange,
)
from families.services import checkin_record, family_set_risk
from services.models import ServiceSite
from volunteers.models import Pairing, Qualification, TrainingCourse, TrainingSession, Volunteer
from workspace.forms import CALL_REASON

pytestmark = pytest.mark.django_db

ROLES = ("alice", "contact", "coordinator", "manager", "city_admin", "volunteer_user", "auditor", "root")
MASKED_ID = re.compile(r"\d{6}\*{8}\d{3}[\dX]")


@pytest.fixture
def world(regions, people, families):
    """The own family with a value in every governed field a page could show, a contact person of
    it, a check-in by each of its two contacts, a paired volunteer and a training session."""
    family, alice, contact = families["own"], people["alice"], people["contact"]
    ContactAssignment.objects.create(family=family, user=contact, kind="village_contact")
    mother = family.members.get(relation="mother")
    father = family.members.get(relation="father")
    FamilyMember.objects.filter(pk=father.pk).update(phone="13900000002")
    FamilyMember.objects.filter(pk=mother.pk).update(
        health_conditions="SENT-health-conditions", family_doctor="SENT-family-doctor")
    checkin_record(actor=alice, family=family, channel="home_visit", mental_state="crisis",
                   needs="SENT-alice-needs", help_given="SENT-alice-help", follow_up="SENT-alice-follow-up",
                   difficulties="SENT-alice-difficulties", mental_notes="SENT-alice-mental-notes")
    checkin_record(actor=contact, family=family, channel="phone", needs="SENT-contact-needs")
    family_set_risk(actor=alice, family=family, level="orange", reason="SENT-risk-change-reason")
    Family.objects.filter(pk=family.pk).update(address="SENT-address-门牌", notes="SENT-family-notes",
                                               risk_reason="SENT-family-risk-reason")
    FamilyStatusChange.objects.create(family=family, from_status="registered", to_status="active",
                                      changed_by=alice, reason="SENT-status-change-reason")
    AssistanceEnrollment.objects.create(member=mother, family=family, status="approved", bank_name="SENT-bank-name",
                                        bank_account="6222SENTBANK0001")
    volunteer = Volunteer.objects.create(name="陈志愿", region=regions["village"], user=people["volunteer_user"],
                                         phone="13711112222")
    Pairing.objects.create(volunteer=volunteer, family=family)
    course = TrainingCourse.objects.create(title="陪伴技能", region=regions["zhangpu"])
    start = timezone.now() + datetime.timedelta(days=3)
    session = TrainingSession.objects.create(course=course, region=regions["zhangpu"], starts_at=start,
                                             ends_at=start + datetime.timedelta(hours=2), venue="县计生协", capacity=5)
    ServiceSite.objects.create(kind="warm_heart_home", name="东门暖心家园", region=regions["village"])
    family = Family.objects.get(pk=family.pk)
    return {"family": family, "mother": FamilyMember.objects.get(pk=mother.pk),
            "father": FamilyMember.objects.get(pk=father.pk), "volunteer": volunteer, "session": session}


def governed_values(world):
    """(record, field, value) of every governed value the fixture planted: what a page could leak."""
    family, mother, father = world["family"], world["mother"], world["father"]
    values = [(family, name, getattr(family, name)) for name in ("address", "notes", "risk_reason")]
    for member in (mother, father):
        values += [(member, "id_number", member.id_number), (member, "phone", member.phone)]
    values += [(mother, "health_conditions", mother.health_conditions), (mother, "family_doctor", mother.family_doctor)]
    for checkin in CheckIn.objects.filter(family=family):
        values += [(checkin, name, getattr(checkin, name)) for name in
                   ("needs", "help_given", "follow_up", "difficulties", "mental_notes") if getattr(checkin, name)]
    # Only the planted ones: a status change's generated reason can read like the status itself.
    values += [(change, "reason", change.reason) for change in family.risk_changes.all()
               if change.reason.startswith("SENT-")]
    values += [(change, "reason", change.reason) for change in FamilyStatusChange.objects.filter(family=family)
               if change.reason.startswith("SENT-")]
    enrollment = AssistanceEnrollment.objects.get(family=family)
    values += [(enrollment, "bank_account", enrollment.bank_account), (enrollment, "bank_name", enrollment.bank_name)]
    values += [(world["volunteer"], "phone", world["volunteer"].phone)]
    return values


def pages(world):
    family, session = world["family"], world["session"]
    return [
        reverse("workspace:today"), reverse("workspace:families") + "?q=王秀英",
        reverse("workspace:family", args=[family.pk]), reverse("workspace:checkin", args=[family.pk]),
        reverse("workspace:pairing", args=[family.pk]), reverse("workspace:volunteers"),
        reverse("workspace:trainings"), reverse("workspace:training", args=[session.pk]),
        reverse("workspace:training_qr", args=[session.qr_token]), reverse("workspace:activities"),
        reverse("workspace:me"), reverse("workspace:coverage"), reverse("workspace:calendar"),
        reverse("workspace:audit"), reverse("workspace:audit") + "?format=csv",
    ]


def viewed_rows(user, obj):
    return AuditEvent.objects.filter(actor=user, event=privacy.read_event("workspace", type(obj)),
                                     object_ids__contains=[obj.pk])


@pytest.mark.parametrize("role", ROLES)
def test_no_page_shows_more_than_the_policy_and_what_it_shows_is_audited(client, people, world, role):
    user = people[role]
    client.force_login(user)
    planted = governed_values(world)
    for url in pages(world):
        before = AuditEvent.objects.count()
        response = client.get(url, follow=True)
        assert response.status_code in (200, 403, 404), (url, response.status_code)
        html = b"".join(response.streaming_content if response.streaming else [response.content]).decode()
        for obj, name, value in planted:
            shown = privacy.present(user, obj, name)
            if not shown.plaintext:
                assert value not in html, f"{role} sees {privacy.label_of(obj)}.{name} on {url}"
            elif value in html and privacy.audited_fields(obj, [name]):
                rows = viewed_rows(user, obj).filter(pk__gt=0).order_by("-pk")
                assert rows.exists() and name in rows[0].after["fields"], f"{role}: {name} on {url} not audited"
        # A page's audit rows: one per kind of record shown, never one per value or per row.
        new = list(AuditEvent.objects.order_by("pk")[before:].values_list("event", flat=True))
        assert len(new) == len(set(new)), (url, new)
        if privacy.access(user, FamilyMember, "id_number") == privacy.Access.HIDDEN:
            assert not MASKED_ID.search(html) and world["mother"].masked_id_number not in html, (role, url)
        if privacy.access(user, FamilyMember, "phone") == privacy.Access.HIDDEN:
            assert world["mother"].masked_phone not in html, (role, url)


def family_page(client, user, world):
    client.force_login(user)
    response = client.get(reverse("workspace:family", args=[world["family"].pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_social_worker_sees_notes_and_health_and_the_page_view_is_one_audited_row_per_kind(client, people, world):
    alice, family = people["alice"], world["family"]
    html = family_page(client, alice, world)
    assert "SENT-alice-needs" in html and "SENT-contact-needs" in html and "SENT-risk-change-reason" in html
    checkin_rows = AuditEvent.objects.filter(actor=alice, event="workspace.families.checkin.viewed")
    assert checkin_rows.count() == 1
    row = checkin_rows.get()
    assert sorted(row.object_ids) == sorted(CheckIn.objects.filter(family=family).values_list("pk", flat=True))
    assert {"needs", "help_given", "follow_up", "difficulties", "mental_state"} <= set(row.after["fields"])
    assert row.family_id == family.pk and row.region_path == family.region_path
    assert "SENT" not in str(row.after)
    risk = AuditEvent.objects.get(actor=alice, event="workspace.families.risklevelchange.viewed")
    assert risk.after == {"fields": ["reason"]}
    family_page(client, alice, world)
    assert AuditEvent.objects.filter(actor=alice, event="workspace.families.checkin.viewed").count() == 2


def test_contact_person_sees_own_notes_only_no_health_and_a_masked_id_number(client, people, world):
    contact, mother = people["contact"], world["mother"]
    html = family_page(client, contact, world)
    assert "SENT-contact-needs" in html and "SENT-alice-needs" not in html
    assert "SENT-risk-change-reason" not in html and "SENT-status-change-reason" not in html
    assert mother.masked_id_number in html and mother.id_number not in html
    assert f'action="{reverse("workspace:member_reveal", args=[world["family"].pk, mother.pk])}"' in html
    assert 'name="field" value="id_number"' not in html  # no reveal of an ID number offered
    row = AuditEvent.objects.get(actor=contact, event="workspace.families.checkin.viewed")
    assert row.object_ids == [CheckIn.objects.get(recorded_by=contact).pk] and row.after == {"fields": ["needs"]}
    response = client.post(reverse("workspace:member_reveal", args=[world["family"].pk, mother.pk]),
                           {"field": "id_number", "reason": "核对身份"})
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(event="families.familymember.revealed").exists()


def test_manager_sees_health_masked_and_no_audit_row_for_what_stayed_masked(client, people, world):
    manager = people["manager"]
    html = family_page(client, manager, world)
    assert "SENT-risk-change-reason" not in html and "SENT-alice-needs" in html  # health reveal, notes show
    assert not AuditEvent.objects.filter(actor=manager, event="workspace.families.risklevelchange.viewed").exists()
    assert AuditEvent.objects.filter(actor=manager, event="workspace.families.checkin.viewed").exists()


@pytest.mark.parametrize("role", ["alice", "contact"])
def test_tap_to_call_reveals_the_phone_with_an_audited_reason_and_gives_a_tel_link(client, people, world, role):
    user, family, mother = people[role], world["family"], world["mother"]
    html = family_page(client, user, world)
    assert mother.phone not in html and mother.masked_phone in html
    assert 'name="reason" value="电话联系"' in html and "tel:" not in html
    url = reverse("workspace:member_reveal", args=[family.pk, mother.pk])
    response = client.post(url, {"field": "phone", "reason": "电话联系"}, HTTP_HX_REQUEST="true")  # the one tap
    assert f'href="tel:{mother.phone}"' in response.content.decode()
    event = AuditEvent.objects.get(event="families.familymember.revealed", actor=user)
    assert event.reason == "电话联系" and event.after == {"fields": ["phone"], "surface": "workspace"}
    assert event.object_ids == [mother.pk] and event.family_id == family.pk and event.region_path == family.region_path
    # Without HTMX: the whole page again, the number as a call link.
    page = client.post(url, {"field": "phone", "reason": "约定上门时间"}).content.decode()
    assert f'href="tel:{mother.phone}"' in page
    assert AuditEvent.objects.filter(event="families.familymember.revealed", actor=user).count() == 2
    # No reason, no number.
    client.post(url, {"field": "phone", "reason": ""})
    assert AuditEvent.objects.filter(event="families.familymember.revealed", actor=user).count() == 2


def test_coordinator_can_neither_call_nor_reveal(client, people, world):
    family, mother = world["family"], world["mother"]
    html = family_page(client, people["coordinator"], world)
    assert mother.masked_phone not in html and "tel:" not in html and "member_reveal" not in html
    url = reverse("workspace:member_reveal", args=[family.pk, mother.pk])
    assert client.post(url, {"field": "phone", "reason": str(CALL_REASON)}).status_code == 403
    assert not AuditEvent.objects.filter(event="families.familymember.revealed").exists()


def test_search_by_a_value_one_never_gets_finds_nothing(client, people, world):
    mother = world["mother"]
    client.force_login(people["coordinator"])
    for q in (mother.id_number, mother.phone):
        assert "ZP-0001" not in client.get("/families/", {"q": q}).content.decode(), q
    assert "ZP-0001" in client.get("/families/", {"q": "王秀英"}).content.decode()
    client.force_login(people["alice"])
    assert "ZP-0001" in client.get("/families/", {"q": mother.id_number}).content.decode()


# --- texts that leave the system -------------------------------------------------------------------

def forbidden(world):
    """What no text that leaves the system may carry: ID numbers, phones, full names, health, notes."""
    mother, father = world["mother"], world["father"]
    return [mother.id_number, father.id_number, mother.phone, father.phone, world["volunteer"].phone,
            mother.name, father.name, world["volunteer"].name, "SENT-"]


def test_calendar_feeds_carry_file_numbers_and_no_personal_data(client, people, world):
    family = world["family"]
    Family.objects.filter(pk=family.pk).update(next_checkin_due=timezone.localdate())
    CareTask.objects.create(family=family, kind="follow_up", description="SENT-task 王秀英 13800000001 复诊",
                            assignee=people["alice"], due_on=timezone.localdate() + datetime.timedelta(days=2))
    texts = {}
    for role in ("alice", "contact", "coordinator", "volunteer_user", "manager"):
        client.force_login(people[role])
        token = client.post("/calendar/", {"action": "create"}).context["feed_url"].rsplit("/", 1)[1]
        client.logout()
        texts[role] = client.get(f"/calendar/{token}").content.decode()
    assert "ZP-0001" in texts["alice"] and "ZP-0001" in texts["contact"]
    assert "陪伴技能" in texts["coordinator"]
    for role, text in texts.items():
        unfolded = text.replace("\r\n ", "")
        for value in forbidden(world):
            assert value not in unfolded, (role, value)
        assert not MASKED_ID.search(unfolded)


def test_reminders_carry_masked_names_and_no_phone_id_or_health(people, regions, world):
    from families.reminders import annual_review_open, checkin_sweep, sensitive_dates_sweep
    from services.birthdays import birthday_lists_send
    from volunteers.reminders import training_sweep

    today = timezone.localdate()
    family, mother, father = world["family"], world["mother"], world["father"]
    Family.objects.filter(pk=family.pk).update(next_checkin_due=today - datetime.timedelta(days=30))
    soon = today + datetime.timedelta(days=3)
    FamilyMember.objects.filter(pk=father.pk).update(birth_date=father.birth_date.replace(month=soon.month, day=soon.day))
    sensitive_dates_sweep(today=today)
    checkin_sweep(today=today)
    annual_review_open(year=mother.birth_date.year + 49 - 1)  # the mother turns 49 next year
    ServiceSite.objects.filter(name="东门暖心家园").update(coordinator=people["coordinator"])
    birthday_lists_send(today=(father.birth_date.replace(year=today.year) - datetime.timedelta(days=40)).replace(day=1))
    Qualification.objects.create(volunteer=world["volunteer"], name="心理咨询", granted_on=today - datetime.timedelta(days=300),
                                 expires_on=today + datetime.timedelta(days=20))
    training_sweep(today=today)
    notes = list(Notification.objects.all())
    kinds = {n.kind for n in notes}
    assert {"caretask.birthday", "checkin.overdue", "review.turning_49", "birthdays.monthly_list",
            "training.qualification_expiring"} <= kinds, kinds
    texts = [f"{n.title}\n{n.body}" for n in notes]
    texts += list(CareTask.objects.values_list("description", flat=True))  # mailed within reminders, shown in feeds
    for text in texts:
        for value in forbidden(world):
            assert value not in text, (value, text)
        assert not MASKED_ID.search(text)
    joined = "\n".join(texts)
    assert "李*国" in joined and "王*英" in joined and "陈*愿" in joined and "ZP-0001" in joined
