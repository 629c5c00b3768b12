"""A caseload's day: Today shows everything due for the families, whoever holds the task, and tasks
follow the family's current assignment; notifications lead to their family; the family page starts
with what is due and the recent timeline; the volunteer's page names a family the same way twice."""
import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from casemgmt.core.models import AuditEvent, Notification, Role
from families import reminders
from families.models import CareTask, ContactAssignment, Family, FamilyMember
from families.services import assignment_set, checkin_record
from tests.conftest import add_family, make_user
from volunteers.models import Pairing, Volunteer

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
pytestmark = pytest.mark.django_db


def signed_in(user):
    client = Client(**ZH)
    client.force_login(user)
    return client


def today_of(user):
    response = signed_in(user).get(reverse("workspace:today"))
    assert response.status_code == 200
    return response


def lines_of(response):
    """{task id: TaskLine} of every work item on Today."""
    items = response.context["overdue"] + response.context["due_today"] + response.context["coming_up"]
    return {line.task.pk: line for item in items for line in item.tasks}


@pytest.fixture
def village(people, regions, families):
    """alice's family also has a village contact; the child died a few days from now, years ago."""
    family = families["own"]
    ContactAssignment.objects.create(family=family, user=people["contact"], kind="village_contact")
    soon = timezone.localdate() + datetime.timedelta(days=3)
    FamilyMember.objects.create(family=family, name="王小明", relation="child", is_deceased=True,
                                death_date=soon.replace(year=soon.year - 6) if (soon.month, soon.day) != (2, 29)
                                else datetime.date(soon.year - 4, 2, 29))
    return family


# --- Today: every task of the caseload, with whose it is ----------------------------------------------

def test_the_sweeps_anniversary_task_of_the_village_contact_is_on_the_social_workers_today(people, village):
    reminders.sensitive_dates_sweep(region_path=village.region_path)
    task = CareTask.objects.get(family=village, kind=CareTask.Kind.ANNIVERSARY)
    assert task.assignee == people["contact"]  # the village contact goes first

    alice = today_of(people["alice"])
    line = lines_of(alice)[task.pk]
    assert line.holder == people["contact"] and not line.mine and not line.moved
    html = alice.content.decode()
    assert "由 contact 负责" in html and task.description in html
    # alice was told, and the notification opens the family's page.
    note = alice.context["notifications"][0]
    assert note.notification.kind == "caretask.anniversary" and note.url == reverse("workspace:family", args=[village.pk])
    assert f'href="{note.url}"' in html

    contact = today_of(people["contact"])
    assert lines_of(contact)[task.pk].mine and "由您负责" in contact.content.decode()


def test_a_task_follows_the_family_when_its_contacts_assignment_ends(people, regions, village):
    task = CareTask.objects.create(family=village, kind=CareTask.Kind.ANNIVERSARY, description="忌日探访",
                                   assignee=people["contact"], due_on=timezone.localdate() + datetime.timedelta(days=2))
    successor = make_user("contact2", Role.CONTACT_PERSON, regions["village"], display_name="林新")
    assignment_set(actor=people["manager"], family=village, kind="village_contact", user=successor, reason="调岗")

    line = lines_of(today_of(successor))[task.pk]
    assert line.mine and line.moved
    assert task.pk not in lines_of(today_of(people["contact"]))  # no longer their family, no longer their task
    alice = today_of(people["alice"])
    assert lines_of(alice)[task.pk].holder == successor
    assert "由 林新 负责 · 已转交：原联系人的分工已结束" in alice.content.decode()
    # The successor's calendar feed carries it too: the same rule.
    from workspace.selectors import calendar_events
    assert f"task-{task.pk}" in {uid for uid, *_rest in calendar_events(user=successor)}


def test_the_successor_holds_the_same_kind_of_assignment_and_a_task_given_by_name_stays(people, regions, village):
    ahead = timezone.localdate() + datetime.timedelta(days=2)
    plan = CareTask.objects.create(family=village, kind=CareTask.Kind.FOLLOW_UP, description="心理随访",
                                   assignee=people["alice"], due_on=ahead)
    named = CareTask.objects.create(family=village, kind=CareTask.Kind.FOLLOW_UP, description="主管回访",
                                    assignee=people["manager"], due_on=ahead)
    nobody = CareTask.objects.create(family=village, kind=CareTask.Kind.FOLLOW_UP, description="无人认领",
                                     assignee=None, due_on=ahead)
    bob = people["bob"]
    assignment_set(actor=people["manager"], family=village, kind="social_worker", user=bob)

    bob_lines = lines_of(today_of(bob))
    # The social worker's task goes to the new social worker, not to the village contact (the sweep's first choice).
    assert bob_lines[plan.pk].mine and bob_lines[plan.pk].moved
    assert bob_lines[named.pk].holder == people["manager"]  # never the family's contact: a task given by name
    assert bob_lines[nobody.pk].holder == people["contact"]  # nobody held it: the contact the sweep would choose
    manager = today_of(people["manager"])
    assert set(lines_of(manager)) == {named.pk}


def test_a_contact_who_left_hands_the_task_over_and_with_no_contact_left_it_stays(people, village):
    task = CareTask.objects.create(family=village, kind=CareTask.Kind.BIRTHDAY, description="生日探访",
                                   assignee=people["contact"], due_on=timezone.localdate() + datetime.timedelta(days=1))
    people["contact"].is_active = False
    people["contact"].save(update_fields=["is_active"])
    assert lines_of(today_of(people["alice"]))[task.pk].holder == people["alice"]  # the only contact left
    ContactAssignment.objects.filter(family=village).update(ended_on=timezone.localdate())
    held = CareTask.objects.annotate(holder_id=reminders.task_holder()).get(pk=task.pk).holder_id
    assert held == people["contact"].pk


def test_today_costs_the_same_queries_however_many_tasks_and_holders(people, regions, village):
    alice = people["alice"]
    client = signed_in(alice)
    ahead = timezone.localdate() + datetime.timedelta(days=2)

    def moved_task(family, n):
        gone = make_user(f"gone{n}", Role.CONTACT_PERSON, regions["village"])
        ContactAssignment.objects.create(family=family, user=gone, kind="township_contact",
                                         started_on=ahead - datetime.timedelta(days=400),
                                         ended_on=ahead - datetime.timedelta(days=10))
        CareTask.objects.create(family=family, kind=CareTask.Kind.FESTIVAL, description=f"节日探访{n}", assignee=gone,
                                due_on=ahead)

    moved_task(village, 0)
    Notification.objects.create(recipient=alice, family=village, kind="test", title="提醒", dedup_key="n0")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("workspace:today")).status_code == 200
        return len(captured)

    before = queries()
    for i in range(1, 5):
        family = add_family(regions["village"], f"ZP-2{i:03d}", owner=alice, mother_seq=200 + 2 * i, father_seq=201 + 2 * i)
        moved_task(family, i)
        CareTask.objects.create(family=family, kind=CareTask.Kind.FOLLOW_UP, description="随访", assignee=alice,
                                due_on=ahead)
        Notification.objects.create(recipient=alice, family=family, kind="test", title=f"提醒{i}", dedup_key=f"n{i}")
    assert queries() == before


def test_a_notification_leads_to_its_family_only_while_it_is_in_reach(people, families):
    alice = people["alice"]
    Notification.objects.create(recipient=alice, family=families["own"], kind="t", title="本人家庭", dedup_key="a")
    Notification.objects.create(recipient=alice, family=families["colleague"], kind="t", title="已移交家庭", dedup_key="b")
    Notification.objects.create(recipient=alice, kind="t", title="外链", link="https://example.invalid/", dedup_key="c")
    urls = {n.notification.title: n.url for n in today_of(alice).context["notifications"]}
    assert urls == {"本人家庭": reverse("workspace:family", args=[families["own"].pk]), "已移交家庭": "", "外链": ""}


# --- the family page: what is due, then the recent timeline --------------------------------------------

def test_the_family_page_starts_with_what_is_due_then_the_recent_timeline(people, village):
    alice = people["alice"]
    CareTask.objects.create(family=village, kind=CareTask.Kind.ANNIVERSARY, description="忌日探访",
                            assignee=people["contact"], due_on=timezone.localdate() + datetime.timedelta(days=3))
    for i in range(12):
        checkin_record(actor=alice, family=village, channel="phone", needs=f"需要{i:02d}",
                       occurred_at=timezone.now() - datetime.timedelta(days=12 - i))
    client = signed_in(alice)
    url = reverse("workspace:family", args=[village.pk])
    response = client.get(url)
    html = response.content.decode()
    due, timeline, members = html.index('id="due"'), html.index('id="timeline"'), html.index("王秀英")
    assert due < timeline < members
    section = html[due:timeline]
    assert "忌日探访" in section and "由 contact 负责" in section and "子女忌日（6 周年）" in section
    assert len(response.context["timeline"]) == 10 and response.context["timeline_more"]
    shown = re.findall(r"需要\d\d", html[timeline:members])  # the newest, among the newest ten entries
    assert len(shown) >= 8 and shown == [f"需要{i:02d}" for i in range(11, 11 - len(shown), -1)]
    assert 'href="?timeline=all#timeline"' in html
    whole = client.get(url, {"timeline": "all"}).content.decode()
    assert len(re.findall(r"需要\d\d", whole)) == 12 and 'href="?timeline=all' not in whole


def test_the_family_page_audits_only_the_notes_it_showed_and_its_queries_do_not_grow(people, village):
    alice = people["alice"]
    client = signed_in(alice)
    url = reverse("workspace:family", args=[village.pk])
    for i in range(3):
        checkin_record(actor=alice, family=village, channel="phone", needs="需要陪诊",
                       occurred_at=timezone.now() - datetime.timedelta(days=30 - i))

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    before = queries()
    for i in range(15):
        checkin_record(actor=alice, family=village, channel="phone", needs="需要陪诊",
                       occurred_at=timezone.now() - datetime.timedelta(days=20 - i))
        CareTask.objects.create(family=village, kind=CareTask.Kind.FOLLOW_UP, description=f"随访{i}",
                                assignee=people["contact"], due_on=timezone.localdate())
    assert queries() == before
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    timeline = client.get(url).context["timeline"]
    viewed = AuditEvent.objects.get(event="workspace.families.checkin.viewed", actor=alice, id__gt=last)
    with translation.override("zh-hans"):
        shown = [e for e in timeline if e.kind == gettext("check-in")]
    assert 8 <= len(viewed.object_ids) == len(shown) < 18  # the check-ins shown, not the eighteen recorded


def test_the_contact_person_sees_the_anniversary_and_no_pairing_button(people, village):
    html = signed_in(people["contact"]).get(reverse("workspace:family", args=[village.pk])).content.decode()
    assert "子女忌日" in html and reverse("workspace:checkin", args=[village.pk]) in html
    assert reverse("workspace:pairing", args=[village.pk]) not in html


# --- the volunteer's page ---------------------------------------------------------------------------

def test_the_volunteers_hours_form_names_families_as_the_list_does_and_the_page_names_the_header_person(
        people, regions, families):
    user = people["volunteer_user"]
    user.display_name = "黄丽华"
    user.save(update_fields=["display_name"])
    volunteer = Volunteer.objects.create(name="黄丽华", region=regions["zhangpu"], user=user)
    Pairing.objects.create(volunteer=volunteer, family=families["own"])
    response = signed_in(user).get(reverse("workspace:me"))
    html = response.content.decode()
    label = "李建国 王秀英 · 东门村"
    assert dict(response.context["form"].fields["family"].choices)[families["own"].pk] == label
    assert f">{label}</option>" in html and f"<li class=\"item\">{label} " in html
    assert "ZP-0001" not in html
    assert re.search(r"<h1>\s*黄丽华\s*</h1>", html) and "(黄丽华)" in html  # the header's name


# --- search by the last digits -------------------------------------------------------------------------

def test_a_contact_person_searching_by_last_digits_outside_their_families_is_told_how_to_search(people, families,
                                                                                               village):
    colleague = families["colleague"].members.get(relation="mother").id_number
    page = signed_in(people["contact"]).get(reverse("workspace:families"), {"q": colleague[-4:]})
    html = page.content.decode()
    assert list(page.context["page"].object_list) == []
    assert "没有找到与“" in html and "后 4 至 6 位" in html and 'role="status"' in html


def test_the_search_box_on_today_mentions_the_last_digits_for_a_caseload(people, families):
    assert "身份证号码后 4–6 位" in today_of(people["contact"]).content.decode()


def test_a_closed_familys_tasks_leave_today(people, village):
    """A closed family's task is nobody's work on Today."""
    CareTask.objects.create(family=village, kind=CareTask.Kind.FOLLOW_UP, description="结案前随访",
                            assignee=people["alice"], due_on=timezone.localdate())
    Family.objects.filter(pk=village.pk).update(status=Family.Status.CLOSED)
    assert lines_of(today_of(people["alice"])) == {}
