"""casemgmt.core.audit.updated_and_logged and saved_and_logged: a write and its audit row as one
statement, with what queryset.update(), save() and audit_log() would have written separately."""
import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from casemgmt.core import audit
from casemgmt.core.audit import audit_log, updated_and_logged
from casemgmt.core.models import AuditEvent
from families.models import Family

pytestmark = pytest.mark.django_db
COLUMNS = ("actor_id", "actor_role", "event", "object_type", "object_ids", "family_id", "region_path", "before",
           "after", "reason", "ip")


def _write(separately, family, actor, event):
    kwargs = {"actor": actor, "event": event, "obj": family, "family_id": family.pk, "region_path": family.region_path,
              "before": {"notes": "旧"}, "after": {"day": datetime.date(2026, 11, 29), "due": family.next_checkin_due},
              "reason": "复核", "ip": "10.0.0.7"}
    values = {"notes": f"{event} 新", "version": F("version") + 1}
    queryset = Family.objects.filter(pk=family.pk)
    if separately:
        with transaction.atomic():
            rows = queryset.update(**values)
            audit_log(**kwargs)
        return rows
    return updated_and_logged(queryset, values, **kwargs)


def test_it_writes_what_update_and_audit_log_write(families, people):
    family, alice = families["own"], people["alice"]
    version = Family.objects.get(pk=family.pk).version
    assert _write(True, family, alice, "test.separate") == 1
    with CaptureQueriesContext(connection) as queries:
        assert _write(False, family, alice, "test.together") == 1
    assert len(queries.captured_queries) == 1
    separate, together = (AuditEvent.objects.filter(event=event).values(*COLUMNS).get()
                          for event in ("test.separate", "test.together"))
    assert {**separate, "event": None} == {**together, "event": None}
    assert together["object_ids"] == [family.pk] and together["after"]["day"] == "2026-11-29"
    family.refresh_from_db()
    assert family.version == version + 2 and family.notes == "test.together 新"


def test_no_row_updated_still_records_and_says_so(families, people):
    assert updated_and_logged(Family.objects.filter(pk=-1), {"notes": "x"}, actor=people["alice"],
                              event="test.nothing") == 0
    assert AuditEvent.objects.filter(event="test.nothing").count() == 1


def test_a_failing_update_writes_no_audit_row(families, people):
    family = families["own"]
    with pytest.raises(IntegrityError), transaction.atomic():
        updated_and_logged(Family.objects.filter(pk=family.pk), {"file_number": families["outside"].file_number},
                           actor=people["alice"], event="test.failed", obj=family)
    assert not AuditEvent.objects.filter(event="test.failed").exists()


def _checkin_and_log(family, actor, event, note, separately=False):
    from families.models import CheckIn

    checkin = CheckIn(family=family, recorded_by=actor, channel="phone", mental_notes=note, needs="米面油")
    queryset, values = Family.objects.filter(pk=family.pk), {"notes": f"{event} 新", "version": F("version") + 1}
    kwargs = {"actor": actor, "event": event, "family_id": family.pk, "region_path": family.region_path,
              "after": {"day": datetime.date(2026, 11, 29)}, "ip": "10.0.0.8"}
    if separately:
        with transaction.atomic():
            checkin.save()
            queryset.update(**values)
            audit_log(obj=checkin, **kwargs)
        return checkin
    saved = audit.saved_and_logged(checkin, (queryset, values), **kwargs)
    assert saved is checkin and checkin.pk and not checkin._state.adding
    return checkin


def test_a_new_row_its_update_and_its_audit_row_are_what_save_update_and_audit_log_write(families, people):
    """saved_and_logged: one statement, the same rows as the three written one by one."""
    from families.models import CheckIn

    family, alice = families["own"], people["alice"]
    with CaptureQueriesContext(connection) as queries:
        together = _checkin_and_log(family, alice, "test.together", "想念孩子")
    assert len(queries.captured_queries) == 1
    separate = _checkin_and_log(family, alice, "test.separate", "想念孩子", separately=True)
    columns = ("family_id", "recorded_by_id", "channel", "mental_notes", "needs", "version")
    rows = {c.pk: c for c in CheckIn.objects.filter(pk__in=[together.pk, separate.pk])}
    assert [getattr(rows[together.pk], c) for c in columns] == [getattr(rows[separate.pk], c) for c in columns]
    assert rows[together.pk].mental_notes == "想念孩子" and rows[together.pk].created_at == together.created_at
    logged = {event: AuditEvent.objects.filter(event=event).values(*COLUMNS).get() for event in ("test.together",
                                                                                                 "test.separate")}
    assert logged["test.together"]["object_ids"] == [together.pk]
    assert logged["test.separate"]["object_ids"] == [separate.pk]
    for row in logged.values():
        row.pop("event"), row.pop("object_ids")
    assert logged["test.together"] == logged["test.separate"]
    assert logged["test.together"]["object_type"] == "families.checkin"
    family.refresh_from_db()
    assert family.notes == "test.separate 新"


def test_a_failing_part_writes_nothing(families, people):
    from families.models import CheckIn

    family = families["own"]
    before = CheckIn.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        audit.saved_and_logged(CheckIn(family=family, recorded_by=people["alice"], channel="phone"),
                               (Family.objects.filter(pk=family.pk), {"file_number": families["outside"].file_number}),
                               actor=people["alice"], event="test.failed")
    assert CheckIn.objects.count() == before and not AuditEvent.objects.filter(event="test.failed").exists()
