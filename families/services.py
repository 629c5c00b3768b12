"""Writes about families: every rule is here once; admin, API, tasks and commands call these."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from casemgmt.core.audit import audit_log, saved_and_logged, updated_and_logged
from casemgmt.core.errors import ConcurrentEditError, OutOfReachError
from casemgmt.core.reach import region_within_reach
from casemgmt.core.statements import CompiledStatements

from .models import (
    Assessment,
    CadenceRule,
    CheckIn,
    ContactAssignment,
    Family,
    FamilyMember,
    FamilyStatusChange,
    RiskLevelChange,
)

# Allowed status moves: a closed or moved case can be reopened; a deceased family is final.
STATUS_TRANSITIONS = {
    Family.Status.REGISTERED: {Family.Status.ACTIVE, Family.Status.CLOSED, Family.Status.MOVED, Family.Status.DECEASED},
    Family.Status.ACTIVE: {Family.Status.CLOSED, Family.Status.MOVED, Family.Status.DECEASED},
    Family.Status.CLOSED: {Family.Status.ACTIVE},
    Family.Status.MOVED: {Family.Status.ACTIVE},
    Family.Status.DECEASED: set(),
}
OPEN_STATUSES = (Family.Status.REGISTERED, Family.Status.ACTIVE)


def _check_reach(actor, path):
    if actor is not None and not region_within_reach(actor, path):
        raise OutOfReachError()


_rule_statements = CompiledStatements(size=8)
_RULE_COLUMNS = ("id", "region_id", "risk_level", "contact_interval_days", "home_visit_interval_days")
# The region path's prefixes that can be a region's own path (province to village).
_PATH_LENGTHS = (2, 4, 6, 9, 12)


def cadence_rules_for(region_path, risk_level):
    """The cadence rule that applies: the one on the deepest region containing the family. Read by
    a statement written once per process (a check-in looks it up every time)."""
    prefixes = [region_path[:n] for n in _PATH_LENGTHS if len(region_path) >= n] or [""]
    # Always five prefixes (the deepest repeated), so that every family's lookup has one shape.
    values = {f"prefix{i}": prefixes[min(i, len(prefixes) - 1)] for i in range(len(_PATH_LENGTHS))}

    def rules(risk_level, **prefixes):
        return (CadenceRule.objects.filter(risk_level=risk_level)
                .filter(Q(region__isnull=True) | Q(region__path__in=list(prefixes.values())))
                .values_list(*_RULE_COLUMNS, "region__path").order_by())

    sql, params = _rule_statements.get("cadence", rules, risk_level=str(risk_level), **values)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    if not found:
        return None
    *deepest, _path = max(found, key=lambda row: len(row[-1] or ""))
    return CadenceRule.from_db(connection.alias, _RULE_COLUMNS, deepest)


def _due_dates(family, contact_day=None, visit_day=None):
    rule = cadence_rules_for(family.region_path, family.risk_level)
    contact_days = rule.contact_interval_days if rule else 30
    visit_days = rule.home_visit_interval_days if rule else 90
    base_contact = contact_day or (family.last_checkin_at and timezone.localdate(family.last_checkin_at)) or family.registered_on
    base_visit = (
        visit_day or (family.last_home_visit_at and timezone.localdate(family.last_home_visit_at)) or family.registered_on
    )
    return base_contact + datetime.timedelta(days=contact_days), base_visit + datetime.timedelta(days=visit_days)


def family_register(*, actor, region, category, file_number, address="", residence=None, registered_on=None, notes=""):
    _check_reach(actor, region.path)
    family = Family(
        region=region,
        category=category,
        file_number=file_number,
        address=address,
        notes=notes,
        registered_on=registered_on or timezone.localdate(),
    )
    if residence:
        family.residence = residence
    elif region.urban_rural_code:
        family.residence = "rural" if region.is_rural else "urban"
    family.full_clean()
    with transaction.atomic():
        family.next_checkin_due, family.next_home_visit_due = _due_dates(family)
        family.save()
        FamilyStatusChange.objects.create(family=family, to_status=family.status, changed_by=actor, reason=_("registered"))
        audit_log(
            actor=actor,
            event="families.family.registered",
            obj=family,
            family_id=family.pk,
            region_path=family.region_path,
            after={"file_number": file_number, "category": category},
        )
    return family


def family_update(*, actor, family, expected_version, **fields):
    """Change plain fields of a family if nobody changed it since ``expected_version``."""
    allowed = {"address", "residence", "notes", "category", "file_number"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({name: _("This field cannot be changed here.") for name in unknown})
    with transaction.atomic():
        before = {name: getattr(family, name) for name in fields}
        for name, value in fields.items():
            setattr(family, name, value)
        family.full_clean()
        updated = Family.objects.filter(pk=family.pk, version=expected_version).update(
            **fields, version=F("version") + 1, updated_at=timezone.now()
        )
        if updated != 1:
            raise ConcurrentEditError()
        family.version = expected_version + 1
        audit_log(
            actor=actor,
            event="families.family.updated",
            obj=family,
            family_id=family.pk,
            region_path=family.region_path,
            before=before,
            after=fields,
        )
    return family


def family_change_status(*, actor, family, status, reason):
    if status not in STATUS_TRANSITIONS[family.status]:
        raise ValidationError(
            {
                "status": _("A family cannot move from “%(from)s” to “%(to)s”.")
                % {"from": family.get_status_display(), "to": Family.Status(status).label}
            }
        )
    if status != Family.Status.ACTIVE and not reason:
        raise ValidationError({"reason": _("Give a reason for closing the case.")})
    with transaction.atomic():
        locked = Family.objects.select_for_update().get(pk=family.pk)
        previous = locked.status
        now = timezone.now()
        Family.objects.filter(pk=family.pk).update(
            status=status, status_reason=reason, status_changed_at=now, version=F("version") + 1, updated_at=now
        )
        FamilyStatusChange.objects.create(family=family, from_status=previous, to_status=status, reason=reason, changed_by=actor)
        audit_log(
            actor=actor,
            event="families.family.status_changed",
            obj=family,
            family_id=family.pk,
            region_path=family.region_path,
            before={"status": previous},
            after={"status": status, "reason": reason},
        )
    family.refresh_from_db()
    return family


def family_set_risk(*, actor, family, level, reason, assessment=None):
    if not reason:
        raise ValidationError({"reason": _("Give a reason for the risk level.")})
    with transaction.atomic():
        locked = Family.objects.select_for_update().get(pk=family.pk)
        previous = locked.risk_level
        locked.risk_level = level
        next_due, next_visit = _due_dates(locked)
        # A higher risk can only bring the next contact forward, never push it back.
        if (
            locked.next_checkin_due
            and next_due > locked.next_checkin_due
            and previous != level
            and _rank(level) > _rank(previous)
        ):
            next_due = locked.next_checkin_due
        now = timezone.now()
        Family.objects.filter(pk=family.pk).update(
            risk_level=level,
            risk_reason=reason,
            risk_assessed_at=now,
            next_checkin_due=next_due,
            next_home_visit_due=next_visit,
            version=F("version") + 1,
            updated_at=now,
        )
        RiskLevelChange.objects.create(
            family=family, from_level=previous, to_level=level, reason=reason, assessment=assessment, changed_by=actor
        )
        audit_log(
            actor=actor,
            event="families.risk.changed",
            obj=family,
            family_id=family.pk,
            region_path=family.region_path,
            before={"risk_level": previous},
            after={"risk_level": level, "reason": reason},
        )
    family.refresh_from_db()
    return family


def _rank(level):
    return ["green", "yellow", "orange", "red"].index(level)


def member_add(*, actor, family, **fields):
    _check_reach(actor, family.region_path)
    member = FamilyMember(family=family, **fields)
    member.full_clean()
    with transaction.atomic():
        member.save()
        audit_log(
            actor=actor,
            event="families.member.added",
            obj=member,
            family_id=family.pk,
            region_path=family.region_path,
            after={"name": member.name, "relation": member.relation},
        )
    return member


def checkin_record(*, actor, family, channel, occurred_at=None, family_locked=False, **details):
    """Record a contact with a family and move its next due dates. ``family_locked``: ``family`` was
    read ``FOR UPDATE`` in the transaction this runs in, so it is the row as it is (else it is read
    again, locked)."""
    _check_reach(actor, family.region_path)
    occurred_at = occurred_at or timezone.now()
    if occurred_at > timezone.now() + datetime.timedelta(minutes=5):
        raise ValidationError({"occurred_at": _("A check-in cannot be in the future.")})
    checkin = CheckIn(family=family, recorded_by=actor, channel=channel, occurred_at=occurred_at, **details)
    # The family and the actor are rows already in hand: no query to check that they exist.
    checkin.full_clean(exclude=["family", "recorded_by"])
    # No savepoint of its own (two round trips on the hot path): nothing in here is caught and
    # retried, so an error rolls back whatever transaction it runs in, as the API's does anyway.
    with transaction.atomic(savepoint=False):
        locked = family if family_locked else Family.objects.select_for_update().get(pk=family.pk)
        day = timezone.localdate(occurred_at)
        changes = {}
        if locked.last_checkin_at is None or occurred_at >= locked.last_checkin_at:
            changes["last_checkin_at"] = occurred_at
            locked.last_checkin_at = occurred_at
        if channel == CheckIn.Channel.HOME_VISIT and (
            locked.last_home_visit_at is None or occurred_at >= locked.last_home_visit_at
        ):
            changes["last_home_visit_at"] = occurred_at
            locked.last_home_visit_at = occurred_at
        next_due, next_visit = _due_dates(locked)
        changes.update(next_checkin_due=next_due, next_home_visit_due=next_visit)
        now = timezone.now()
        update = (Family.objects.filter(pk=family.pk), {**changes, "version": F("version") + 1, "updated_at": now})
        audit = {"actor": actor, "event": "families.checkin.recorded", "family_id": family.pk,
                 "region_path": family.region_path,
                 "after": {"channel": channel, "occurred_at": occurred_at, "next_checkin_due": next_due, "day": day}}
        if locked.status == Family.Status.REGISTERED:
            # The first contact makes the case active, in a statement of its own after the check-in's
            # (not the one statement of saved_and_logged below): the report tallies' triggers
            # (reports.triggers) count a new check-in under its family's status, and move a family's
            # counted check-ins when its status changes; within one statement each trigger would see
            # the other's change already made and count the family twice.
            checkin.save()
            FamilyStatusChange.objects.create(
                family=family,
                from_status=locked.status,
                to_status=Family.Status.ACTIVE,
                reason=_("first contact recorded"),
                changed_by=actor,
            )
            changes["status"] = update[1]["status"] = Family.Status.ACTIVE
            updated_and_logged(*update, obj=checkin, **audit)
        else:
            # The check-in, the family's new dates and the audit row: one statement.
            saved_and_logged(checkin, update, **audit)
        changes.update(version=locked.version + 1, updated_at=now)
    # The caller's family as the row now is (what refresh_from_db() would read, without the query:
    # the row was locked from the read to the update).
    for field in Family._meta.concrete_fields:
        setattr(family, field.attname, changes.get(field.attname, getattr(locked, field.attname)))
    return checkin


def assignment_set(*, actor, family, kind, user, started_on=None, reason=""):
    """Make ``user`` the family's contact of ``kind``; the previous one is ended, not deleted."""
    _check_reach(actor, family.region_path)
    if user.region_id is None or not family.region_path.startswith(user.reach_path):
        raise ValidationError({"user": _("This person works outside the family's region.")})
    started_on = started_on or timezone.localdate()
    with transaction.atomic():
        current = ContactAssignment.objects.select_for_update().filter(family=family, kind=kind, ended_on__isnull=True).first()
        if current and current.user_id == user.pk:
            return current
        if current:
            current.ended_on = max(started_on, current.started_on)
            current.end_reason = reason or _("replaced")
            current.save(update_fields=["ended_on", "end_reason"])
        assignment = ContactAssignment.objects.create(
            family=family, kind=kind, user=user, started_on=started_on, assigned_by=actor
        )
        audit_log(
            actor=actor,
            event="families.assignment.changed",
            obj=assignment,
            family_id=family.pk,
            region_path=family.region_path,
            before={"user": current.user_id if current else None},
            after={"user": user.pk, "kind": kind},
        )
    return assignment


def assessment_record(*, actor, family, scale, score, member=None, notes="", assessed_at=None):
    """Record a psychological assessment; its score band sets the family's risk level."""
    _check_reach(actor, family.region_path)
    if score > scale.max_score:
        raise ValidationError({"score": _("The score is above the scale's maximum of %(max)s.") % {"max": scale.max_score}})
    with transaction.atomic():
        assessment = Assessment.objects.create(
            family=family,
            member=member,
            scale=scale,
            score=score,
            resulting_risk=scale.risk_for(score),
            notes=notes,
            assessed_by=actor,
            assessed_at=assessed_at or timezone.now(),
        )
        audit_log(
            actor=actor,
            event="families.assessment.recorded",
            obj=assessment,
            family_id=family.pk,
            region_path=family.region_path,
            after={"scale": scale.code, "score": score},
        )
        if assessment.resulting_risk != family.risk_level:
            family_set_risk(
                actor=actor,
                family=family,
                level=assessment.resulting_risk,
                assessment=assessment,
                reason=_("%(scale)s score %(score)s") % {"scale": scale.name, "score": score},
            )
    return assessment


def member_update(*, actor, member, expected_version, **fields):
    """Change a member's details if nobody changed them since ``expected_version``."""
    _check_reach(actor, member.family.region_path)
    with transaction.atomic():
        before = {name: getattr(member, name) for name in fields if name not in SENSITIVE_MEMBER_FIELDS}
        for name, value in fields.items():
            setattr(member, name, value)
        member.full_clean()
        claimed = FamilyMember.objects.filter(pk=member.pk, version=expected_version).update(version=F("version") + 1)
        if claimed != 1:
            raise ConcurrentEditError()
        member.version = expected_version + 1
        member.save()
        # Sensitive values never go into the audit trail, only the fact that they changed.
        audit_log(
            actor=actor,
            event="families.member.updated",
            obj=member,
            family_id=member.family_id,
            region_path=member.family.region_path,
            before=before,
            after={name: (value if name not in SENSITIVE_MEMBER_FIELDS else "changed") for name, value in fields.items()},
        )
    return member


SENSITIVE_MEMBER_FIELDS = {"id_number", "phone", "health_conditions", "disability_certificate_number"}


def family_close(*, actor, family, status=Family.Status.CLOSED, reason):
    """Close a case (closed, moved away or deceased), with its reason kept in the status history."""
    _check_reach(actor, family.region_path)
    if status == Family.Status.ACTIVE:
        raise ValidationError({"status": _("Closing cannot make a case active; reopen it instead.")})
    return family_change_status(actor=actor, family=family, status=status, reason=reason)


def family_reopen(*, actor, family, reason=""):
    _check_reach(actor, family.region_path)
    return family_change_status(actor=actor, family=family, status=Family.Status.ACTIVE, reason=reason)


def family_transfer_request(*, actor, family, to_region, reason):
    """Ask to move a family to another region; its receiving region manager decides."""
    from .models import FamilyTransfer

    _check_reach(actor, family.region_path)
    if not reason:
        raise ValidationError({"reason": _("Give a reason for the transfer.")})
    if to_region.pk == family.region_id:
        raise ValidationError({"to_region": _("The family already lives in this region.")})
    if family.status not in OPEN_STATUSES:
        raise ValidationError({"family": _("Only an open case can be transferred.")})
    if FamilyTransfer.objects.filter(family=family, status=FamilyTransfer.Status.REQUESTED).exists():
        raise ValidationError({"family": _("This family already has a transfer waiting for a decision.")})
    with transaction.atomic():
        transfer = FamilyTransfer.objects.create(
            family=family, from_region=family.region, to_region=to_region, reason=reason, requested_by=actor
        )
        audit_log(
            actor=actor,
            event="families.transfer.requested",
            obj=transfer,
            family_id=family.pk,
            region_path=family.region_path,
            after={"to_region": to_region.code, "reason": reason},
        )
    return transfer


def family_transfer_decide(*, actor, transfer, accept, note=""):
    """The receiving region's manager accepts (the family moves; contacts who work outside the new
    region stop being its contacts) or rejects a requested transfer."""
    from casemgmt.core.models import Role

    from .models import FamilyTransfer

    with transaction.atomic():
        transfer = FamilyTransfer.objects.select_for_update().select_related("family", "to_region").get(pk=transfer.pk)
        if actor is not None and not (
            actor.is_superuser
            or (actor.role in (Role.REGION_MANAGER, Role.ADMIN) and region_within_reach(actor, transfer.to_region.path))
        ):
            raise PermissionDenied(_("Only a manager of the receiving region decides a transfer."))
        if transfer.status != FamilyTransfer.Status.REQUESTED:
            raise ValidationError({"status": _("This transfer was already decided.")})
        now = timezone.now()
        transfer.status = FamilyTransfer.Status.ACCEPTED if accept else FamilyTransfer.Status.REJECTED
        transfer.decided_by, transfer.decided_at, transfer.decision_note = actor, now, note
        transfer.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        family = transfer.family
        old_path = family.region_path
        if accept:
            new_path = transfer.to_region.path
            Family.objects.filter(pk=family.pk).update(
                region=transfer.to_region, region_path=new_path, version=F("version") + 1, updated_at=now
            )
            outside = ContactAssignment.objects.filter(family=family, ended_on__isnull=True).select_related("user__region")
            for assignment in outside:
                if not new_path.startswith(assignment.user.reach_path) or assignment.user.region_id is None:
                    assignment.ended_on = max(timezone.localdate(), assignment.started_on)
                    assignment.end_reason = _("family transferred to another region")
                    assignment.save(update_fields=["ended_on", "end_reason"])
        audit_log(
            actor=actor,
            event=f"families.transfer.{'accepted' if accept else 'rejected'}",
            obj=transfer,
            family_id=family.pk,
            region_path=transfer.to_region.path,
            before={"region_path": old_path},
            after={"to_region": transfer.to_region.code, "note": note},
        )
    family.refresh_from_db()
    return transfer
