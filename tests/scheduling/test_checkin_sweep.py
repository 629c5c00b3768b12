"""The daily check-in sweep: remind contacts, escalate, once per due date, in constant queries."""
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casemgmt.core.models import Notification, Role
from families import services as family_services
from families.models import ContactAssignment, Family
from families.reminders import checkin_sweep
from tests.conftest import add_family, make_user

TODAY = datetime.date(2026, 6, 10)


def due(family, day):
    Family.objects.filter(pk=family.pk).update(next_checkin_due=day)


def keys(user):
    return set(Notification.objects.filter(recipient=user).values_list("kind", "family__file_number"))


@pytest.mark.django_db
def test_due_and_overdue_families_remind_their_contacts(regions, people, families):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    ContactAssignment.objects.create(family=families["own"], user=people["contact"], kind="village_contact")
    due(families["own"], TODAY + datetime.timedelta(days=2))  # due soon
    due(families["colleague"], TODAY - datetime.timedelta(days=1))  # overdue
    due(families["outside"], TODAY + datetime.timedelta(days=10))  # not yet

    assert checkin_sweep(today=TODAY) == 3
    assert keys(alice) == {("checkin.due", "ZP-0001")}
    assert keys(people["contact"]) == {("checkin.due", "ZP-0001")}
    assert keys(bob) == {("checkin.overdue", "ZP-0002")}
    assert keys(carol) == set()
    # A second sweep the same day or the next adds nothing.
    assert checkin_sweep(today=TODAY) == 0
    assert checkin_sweep(today=TODAY + datetime.timedelta(days=1)) == 0


@pytest.mark.django_db
def test_long_overdue_escalates_to_the_deepest_manager_then_the_administrator(regions, people, families):
    town_manager = make_user("town_manager", Role.REGION_MANAGER, regions["suian"])
    due(families["own"], TODAY - datetime.timedelta(days=8))
    checkin_sweep(today=TODAY)
    assert keys(town_manager) == {("checkin.escalated.manager", "ZP-0001")}
    assert keys(people["manager"]) == set()  # the county manager is not the deepest one
    assert keys(people["city_admin"]) == set()
    checkin_sweep(today=TODAY + datetime.timedelta(days=14))
    assert keys(people["city_admin"]) == {("checkin.escalated.admin", "ZP-0001")}
    assert keys(people["other_manager"]) == set()
    assert Notification.objects.filter(recipient=town_manager).count() == 1


@pytest.mark.django_db
def test_a_recorded_checkin_moves_the_due_date_and_stops_the_reminders(regions, people, families):
    family = families["own"]
    due(family, timezone.localdate() - datetime.timedelta(days=2))
    assert checkin_sweep() == 1
    family_services.checkin_record(actor=people["alice"], family=family, channel="phone")
    family.refresh_from_db()
    assert family.next_checkin_due > timezone.localdate() + datetime.timedelta(days=3)
    assert checkin_sweep() == 0


@pytest.mark.django_db
def test_region_partition_only_sweeps_its_county(regions, people, families):
    for family in families.values():
        due(family, TODAY)
    assert checkin_sweep(today=TODAY, region_path=regions["yunxiao"].path) == 1
    assert keys(people["carol"]) == {("checkin.due", "YX-0001")}
    assert keys(people["alice"]) == set()


AT_SEVEN = timezone.make_aware(datetime.datetime.combine(TODAY, datetime.time(7)))


def _sweep_queries(regions, people, count, start):
    manager = people["manager"]
    for i in range(count):
        family = add_family(regions["village"], f"Q-{start + i:04d}", owner=people["alice"], mother_seq=100 + start + i,
                            father_seq=250 + start + i)
        ContactAssignment.objects.create(family=family, user=people["contact"], kind="village_contact")
        due(family, TODAY - datetime.timedelta(days=30 if i % 2 else 1))
    with CaptureQueriesContext(connection) as queries:
        created = checkin_sweep(today=TODAY, now=AT_SEVEN)
    with CaptureQueriesContext(connection) as again:
        assert checkin_sweep(today=TODAY, now=AT_SEVEN + datetime.timedelta(minutes=1)) == 0
    Family.objects.filter(file_number__startswith="Q-").update(status="closed")
    assert manager
    return len(queries), created, [_statement(q["sql"]) for q in again]


def _statement(sql):
    words = sql.split()
    return " ".join(words[:3]) if words[0] == "INSERT" else words[0]


@pytest.mark.django_db
def test_sweep_query_count_does_not_grow_with_families(regions, people, families):
    few, created_few, rerun_few = _sweep_queries(regions, people, 5, 0)
    many, created_many, rerun_many = _sweep_queries(regions, people, 50, 100)
    assert created_few == 5 * 2 + 2 * 2  # two contacts each; 2 long overdue → manager and admin
    assert created_many == 50 * 2 + 25 * 2
    assert few == many, (few, many)
    # A savepoint, the last notification id, the reminders, the escalations, the quiet-hours pairs,
    # the outbox rows, who is due now (the digest time of a past day has passed), the release.
    assert many == 8
    # A rerun: the two INSERT ... SELECT statements meet the unique index and stop there.
    assert rerun_few == rerun_many == [
        "SAVEPOINT", "SELECT", "INSERT INTO core_notification", "INSERT INTO core_notification", "RELEASE",
    ]
