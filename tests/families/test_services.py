"""The family services: due dates, history rows, reach and concurrency."""
import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from casemgmt.core.errors import ConcurrentEditError, OutOfReachError
from casemgmt.core.models import AuditEvent
from families import services
from families.models import (
    AssessmentScale,
    CadenceRule,
    ContactAssignment,
    Family,
    FamilyStatusChange,
    RiskLevelChange,
)


def days_ago(n):
    return timezone.now() - datetime.timedelta(days=n)


def test_checkin_moves_next_due_by_risk_cadence(families, people):
    family = families["own"]
    services.checkin_record(actor=people["alice"], family=family, channel="phone", occurred_at=days_ago(2))
    family.refresh_from_db()
    assert family.next_checkin_due == timezone.localdate(days_ago(2)) + datetime.timedelta(days=30)
    # A home visit also moves the home-visit due date; a phone call does not.
    assert family.last_home_visit_at is None
    services.checkin_record(actor=people["alice"], family=family, channel="home_visit", occurred_at=days_ago(1))
    family.refresh_from_db()
    assert family.next_home_visit_due == timezone.localdate(days_ago(1)) + datetime.timedelta(days=90)
    assert family.next_checkin_due == timezone.localdate(days_ago(1)) + datetime.timedelta(days=30)


def test_first_checkin_activates_a_registered_family(families, people):
    family = families["own"]
    assert family.status == Family.Status.REGISTERED
    services.checkin_record(actor=people["alice"], family=family, channel="phone")
    family.refresh_from_db()
    assert family.status == Family.Status.ACTIVE
    assert FamilyStatusChange.objects.filter(family=family, to_status="active").exists()
    assert AuditEvent.objects.filter(event="families.checkin.recorded", family_id=family.pk).count() == 1


def test_an_older_checkin_does_not_move_the_due_date_back(families, people):
    family = families["own"]
    services.checkin_record(actor=people["alice"], family=family, channel="phone", occurred_at=days_ago(1))
    family.refresh_from_db()
    due = family.next_checkin_due
    services.checkin_record(actor=people["alice"], family=family, channel="sms", occurred_at=days_ago(20))
    family.refresh_from_db()
    assert family.next_checkin_due == due


def test_future_checkin_is_refused_with_the_field_named(families, people):
    with pytest.raises(ValidationError) as exc:
        services.checkin_record(
            actor=people["alice"], family=families["own"], channel="phone",
            occurred_at=timezone.now() + datetime.timedelta(days=1),
        )
    assert "occurred_at" in exc.value.message_dict


def test_checkin_outside_reach_is_refused(families, people):
    with pytest.raises(OutOfReachError):
        services.checkin_record(actor=people["carol"], family=families["own"], channel="phone")
    assert not families["own"].checkins.exists()


def test_region_cadence_overrides_the_default(families, people, regions):
    CadenceRule.objects.create(region=regions["zhangpu"], risk_level="green", contact_interval_days=10,
                               home_visit_interval_days=60)
    family = families["own"]
    services.checkin_record(actor=people["alice"], family=family, channel="phone", occurred_at=days_ago(0))
    family.refresh_from_db()
    assert family.next_checkin_due == timezone.localdate() + datetime.timedelta(days=10)
    # The other county keeps the default.
    other = families["outside"]
    services.checkin_record(actor=people["carol"], family=other, channel="phone", occurred_at=days_ago(0))
    other.refresh_from_db()
    assert other.next_checkin_due == timezone.localdate() + datetime.timedelta(days=30)


def test_raising_risk_brings_the_next_contact_forward_and_keeps_history(families, people):
    family = families["own"]
    services.checkin_record(actor=people["alice"], family=family, channel="phone", occurred_at=days_ago(0))
    services.family_set_risk(actor=people["alice"], family=family, level="red", reason="expressed hopelessness")
    family.refresh_from_db()
    assert family.risk_level == "red"
    assert family.next_checkin_due == timezone.localdate() + datetime.timedelta(days=7)
    change = RiskLevelChange.objects.get(family=family)
    assert (change.from_level, change.to_level, change.changed_by) == ("green", "red", people["alice"])


def test_risk_change_needs_a_reason(families, people):
    with pytest.raises(ValidationError) as exc:
        services.family_set_risk(actor=people["alice"], family=families["own"], level="red", reason="")
    assert "reason" in exc.value.message_dict


def test_assessment_score_band_sets_risk(families, people):
    scale = AssessmentScale.objects.create(code="phq9", name="PHQ-9", max_score=27,
                                           bands=[[0, "green"], [10, "yellow"], [15, "orange"], [20, "red"]])
    family = families["own"]
    assessment = services.assessment_record(actor=people["alice"], family=family, scale=scale, score=16)
    family.refresh_from_db()
    assert assessment.resulting_risk == "orange" and family.risk_level == "orange"
    assert RiskLevelChange.objects.get(family=family).assessment == assessment
    with pytest.raises(ValidationError):
        services.assessment_record(actor=people["alice"], family=family, scale=scale, score=28)


def test_status_transitions_are_enforced(families, people):
    family = families["own"]
    with pytest.raises(ValidationError) as exc:
        services.family_change_status(actor=people["alice"], family=family, status="closed", reason="")
    assert "reason" in exc.value.message_dict
    services.family_change_status(actor=people["alice"], family=family, status="deceased", reason="both parents died")
    with pytest.raises(ValidationError) as exc:
        services.family_change_status(actor=people["alice"], family=family, status="active", reason="")
    assert "status" in exc.value.message_dict
    assert list(family.status_changes.values_list("to_status", flat=True)) == ["deceased", "registered"]


def test_changing_a_contact_keeps_the_history(families, people):
    family = families["own"]
    services.assignment_set(actor=people["manager"], family=family, kind="social_worker", user=people["bob"])
    rows = ContactAssignment.objects.filter(family=family, kind="social_worker").order_by("id")
    assert [(r.user.username, r.ended_on is not None) for r in rows] == [("alice", True), ("bob", False)]


def test_contact_from_another_county_is_refused(families, people):
    with pytest.raises(ValidationError) as exc:
        services.assignment_set(actor=people["city_admin"], family=families["own"], kind="social_worker",
                                user=people["carol"])
    assert "user" in exc.value.message_dict


def test_stale_version_is_refused_and_nothing_is_written(families, people):
    family = families["own"]
    version = family.version
    services.family_update(actor=people["alice"], family=family, expected_version=version, address="新地址 1")
    stale = Family.objects.get(pk=family.pk)
    stale.version = version
    with pytest.raises(ConcurrentEditError):
        services.family_update(actor=people["bob"], family=stale, expected_version=version, address="覆盖")
    family.refresh_from_db()
    assert family.address == "新地址 1" and family.version == version + 1
