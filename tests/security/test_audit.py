"""The audit trail from the outside: the database refuses edits and deletes, only the purge
command removes rows — and only those older than three years — and denied attempts are recorded.

The application's role may not UPDATE or DELETE audit rows at all (tests/core/test_db_roles.py);
the trigger tried here holds even against the schema's owner, which the purge runs as."""
import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from casemgmt.core import dbroles
from casemgmt.core.audit import audit_log
from casemgmt.core.models import AuditEvent
from casemgmt.security.services import audit_purge


def refused(action, using="default"):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(using=using):
            action()


@pytest.mark.db_owner
def test_the_database_refuses_updates_and_deletes(people):
    event = audit_log(actor=people["alice"], event="families.family.viewed")
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(event="forged"))
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).delete())

    def raw():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM core_auditevent")

    refused(raw)
    assert AuditEvent.objects.get(pk=event.pk).event == "families.family.viewed"


@pytest.mark.django_db(transaction=True, databases="__all__")  # the owner's connection sees committed rows
def test_purge_removes_only_rows_older_than_three_years(people):
    # Rows are created "now"; give them old timestamps the only way possible: insert them old.
    now = timezone.now()
    ancient = AuditEvent.objects.create(event="old.4", at=now - datetime.timedelta(days=4 * 365))
    recent = AuditEvent.objects.create(event="old.2", at=now - datetime.timedelta(days=2 * 365))
    with pytest.raises(ValidationError):
        audit_purge(before=now - datetime.timedelta(days=365))
    deleted = audit_purge(before=now - datetime.timedelta(days=3 * 365 + 30))
    assert deleted == 1
    assert not AuditEvent.objects.filter(pk=ancient.pk).exists()
    assert AuditEvent.objects.filter(pk=recent.pk).exists()
    assert AuditEvent.objects.filter(event="security.audit.purged").latest("id").after["deleted"] == 1
    # The purge window closed with the purge: later deletes are refused again, even of old rows.
    another = AuditEvent.objects.create(event="old.5", at=now - datetime.timedelta(days=5 * 365))
    with dbroles.as_owner() as owner:
        refused(lambda: AuditEvent.objects.filter(pk=another.pk).delete(), using=owner)


@pytest.mark.db_owner
def test_the_trigger_keeps_three_years_even_inside_a_purge(people):
    recent = AuditEvent.objects.create(event="old.1", at=timezone.now() - datetime.timedelta(days=365))

    def sneak():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL casemgmt.audit_purge = 'on'")
        AuditEvent.objects.filter(pk=recent.pk).delete()

    refused(sneak)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL casemgmt.audit_purge = 'off'")


def test_purge_command_refuses_young_dates(db):
    with pytest.raises(CommandError):
        call_command("audit_purge", "--before", timezone.localdate().isoformat())


def test_denied_api_attempts_on_a_family_are_recorded(client, people, families):
    client.force_login(people["carol"])
    family = families["own"]
    assert client.get(f"/api/v1/families/{family.pk}/", REMOTE_ADDR="10.3.3.3").status_code == 404
    event = AuditEvent.objects.filter(event="security.access.denied").latest("id")
    assert event.actor == people["carol"] and event.family_id == family.pk and event.ip == "10.3.3.3"
    assert event.after == {"path": f"/api/v1/families/{family.pk}/", "method": "GET", "status": 404}
    # A refused write is recorded although the view's transaction was rolled back.
    client.force_login(people["volunteer_user"])
    assert client.post("/api/v1/regions/", {}).status_code in (403, 405)


def test_auditors_search_by_family_person_and_actor(client, people, families):
    family, other = families["own"], families["colleague"]
    mother = family.members.get(relation="mother")
    audit_log(actor=people["alice"], event="x.member", obj=mother, family_id=family.pk, region_path=family.region_path)
    audit_log(actor=people["bob"], event="x.other", obj=other, family_id=other.pk, region_path=other.region_path)
    client.force_login(people["auditor"])
    url = reverse("admin:core_auditevent_changelist")

    def events(q):
        response = client.get(url, {"q": q})
        assert response.status_code == 200
        return {e.event for e in response.context["cl"].result_list}

    assert "x.member" in events(f"family:{family.pk}") and "x.other" not in events(f"family:{family.pk}")
    assert "x.member" in events(f"member:{mother.pk}") and "x.other" not in events(f"member:{mother.pk}")
    assert events("actor:bob") == {"x.other"}
    response = client.get(url, {"at__gte": (timezone.now() + datetime.timedelta(days=1)).isoformat()})
    assert response.status_code == 200 and len(response.context["cl"].result_list) == 0
