"""Writes of the security app. Admin actions, API views and management commands call these."""
import datetime
import io
import json
import logging

from django.conf import settings
from django.core import serializers
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from casemgmt.core import dbroles, reach
from casemgmt.core.audit import audit_log
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import AuditEvent, Notification, Role, User
from casemgmt.core.spreadsheet import text_cell

from .models import Anonymisation, BreakGlassGrant, FamilyMessage

logger = logging.getLogger(__name__)

BREAK_GLASS_ROLES = reach.BREAK_GLASS_ROLES
SUBJECT_ACCESS_ROLES = frozenset({Role.ADMIN, Role.REGION_MANAGER})
# PIPL art. 55-56: processing records are kept at least three years; nothing may shorten that.
MIN_AUDIT_RETENTION_DAYS = 3 * 365 + 1


# ---- break-the-glass ---------------------------------------------------------------------------

def may_break_glass(user):
    return bool(user and user.is_authenticated and user.is_active and (user.is_superuser or user.role in BREAK_GLASS_ROLES))


def may_decide_break_glass(user, grant):
    """Whether ``user`` approves or denies ``grant``: an administrator or region manager over the
    family, never the one who asked."""
    return bool(user and user.is_authenticated and user.is_active and user.pk != grant.user_id
                and (user.is_superuser or (user.role in (Role.ADMIN, Role.REGION_MANAGER)
                                           and reach.region_within_reach(user, grant.family.region_path))))


def _families():
    """The families a grant opens: the model its ``family`` key points at (the schema's link to the
    families app; this module imports none of the apps above it)."""
    return BreakGlassGrant._meta.get_field("family").related_model.objects


def _day_start(now):
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(now), datetime.time.min))


def breakglass_request(*, actor, reason, family_id=None, file_number=None, hours=None, ip=None, now=None):
    """``breakglass_open`` of the family named by id or file number. A family that does not exist
    is answered as ``OutOfReachError``, before anything is written — the same answer whatever the id,
    so that the door tells nothing about families the caller has not opened (the checks of the
    caller's role and request come first, for every id alike)."""
    _check_request(actor, reason, hours)
    lookup = {"pk": family_id} if family_id is not None else {"file_number": (file_number or "").strip()}
    family = _families().filter(**lookup).first() if any(lookup.values()) else None
    if family is None:
        raise OutOfReachError()
    return breakglass_open(actor=actor, family=family, reason=reason, hours=hours, ip=ip, now=now)


def _check_request(actor, reason, hours):
    if not may_break_glass(actor):
        raise PermissionDenied(_("Your role may not open families outside your reach."))
    if len((reason or "").strip()) < 10:
        raise ValidationError({"reason": _("Describe the emergency (at least 10 characters).")}, code="required")
    hours = settings.BREAK_GLASS_HOURS if hours is None else hours
    if not 0 < hours <= settings.BREAK_GLASS_MAX_HOURS:
        raise ValidationError({"hours": _("Access can be given for at most %(max)s hours.") % {
            "max": settings.BREAK_GLASS_MAX_HOURS}}, code="max_value")
    return hours


def breakglass_open(*, actor, family, reason, hours=None, ip=None, now=None):
    """Give ``actor`` read access to ``family`` (outside their reach) for a few hours; audited in
    the family's region and the family's region managers are told at once. Beyond
    ``BREAK_GLASS_DAILY_CAP`` grants a day the request waits for a manager's approval (status
    pending, no access yet); asking again for the same family returns the waiting request."""
    hours = _check_request(actor, reason, hours)
    reason = reason.strip()
    if reach.restrict(_families().filter(pk=family.pk), actor).exists():
        raise ValidationError({"family": _("This family is already within your reach.")}, code="in_reach")
    now = now or timezone.now()
    with transaction.atomic():
        # One request at a time per user: the count of today's grants and the new one agree.
        User.objects.select_for_update().filter(pk=actor.pk).first()
        waiting = BreakGlassGrant.objects.filter(user=actor, family=family, status=BreakGlassGrant.Status.PENDING).first()
        if waiting is not None:
            return waiting
        opened_today = BreakGlassGrant.objects.filter(
            user=actor, requested_at__gte=_day_start(now), status=BreakGlassGrant.Status.APPROVED,
            decided_by__isnull=True).count()
        if opened_today < settings.BREAK_GLASS_DAILY_CAP:
            grant = BreakGlassGrant.objects.create(
                user=actor, family=family, reason=reason, hours=hours, requested_at=now, granted_at=now,
                expires_at=now + datetime.timedelta(hours=hours))
            audit_log(actor=actor, event="security.break_glass.opened", obj=grant, family_id=family.pk,
                      region_path=family.region_path, reason=reason, ip=ip,
                      after={"family": family.pk, "expires_at": grant.expires_at})
        else:
            grant = BreakGlassGrant.objects.create(user=actor, family=family, reason=reason, hours=hours,
                                                   requested_at=now, granted_at=None,
                                                   status=BreakGlassGrant.Status.PENDING)
            audit_log(actor=actor, event="security.break_glass.requested", obj=grant, family_id=family.pk,
                      region_path=family.region_path, reason=reason, ip=ip,
                      after={"family": family.pk, "hours": hours, "opened_today": opened_today})
        _notify_region_managers(grant)
    return grant


def breakglass_decide(*, actor, grant, approve, ip=None, now=None):
    """Approve (its hours run from now) or deny a pending request; audited in the family's region
    and the requester is told."""
    if not may_decide_break_glass(actor, grant):
        raise OutOfReachError()
    now = now or timezone.now()
    pending = BreakGlassGrant.objects.filter(pk=grant.pk, status=BreakGlassGrant.Status.PENDING)
    with transaction.atomic():
        if approve:
            updated = pending.update(status=BreakGlassGrant.Status.APPROVED, granted_at=now, decided_by=actor,
                                     decided_at=now, expires_at=now + datetime.timedelta(hours=grant.hours))
        else:
            updated = pending.update(status=BreakGlassGrant.Status.DENIED, decided_by=actor, decided_at=now)
        if not updated:
            raise ValidationError(_("This request has been decided already."), code="decided")
        grant.refresh_from_db()
        audit_log(actor=actor, event="security.break_glass.approved" if approve else "security.break_glass.denied",
                  obj=grant, family_id=grant.family_id, region_path=grant.family.region_path, ip=ip,
                  after={"user": grant.user_id, "expires_at": grant.expires_at})
        _notify_requester(grant)
    return grant


def managers_over(path, *, exclude=None):
    """Who answers for region ``path``: the active region managers whose subtree holds it, at the
    deepest level that has any (``exclude``, a user, left out); without any, the administrators
    over it, then the national ones."""
    prefixes = [path[:n] for n in (2, 4, 6, 9, 12) if len(path) >= n]
    users = User.objects.filter(is_active=True).exclude(pk=getattr(exclude, "pk", None)).select_related("region")
    for candidates in (users.filter(role=Role.REGION_MANAGER, region__path__in=prefixes),
                       users.filter(role=Role.ADMIN, region__path__in=prefixes),
                       users.filter(Q(is_superuser=True) | Q(role=Role.ADMIN, region__isnull=True))):
        found = list(candidates)
        if found:
            deepest = max(len(user.reach_path) for user in found)
            return [user for user in found if len(user.reach_path) == deepest]
    return []


def managers_of(user):
    """The managers of ``user``: those over the user's own region (``managers_over``)."""
    return managers_over(user.reach_path, exclude=user)


def _region_managers(family):
    return managers_over(family.region_path)


def _notify_region_managers(grant):
    from casemgmt.core.notifications import notify

    pending = grant.status == BreakGlassGrant.Status.PENDING
    for manager in _region_managers(grant.family):
        if manager.pk == grant.user_id:
            continue
        with translation.override(manager.language or None):
            # The typed reason stays with the grant (read there by the manager and the auditors):
            # a notice may leave the system as e-mail or SMS, and a reason can name a diagnosis.
            values = {"file": grant.family.file_number, "user": grant.user}
            if pending:
                title = _("%(user)s asks for emergency access to family %(file)s") % values
                body = _("They have used today's emergency accesses. Read their reason with the request, then "
                         "approve or deny it.")
            else:
                title = _("Emergency access to family %(file)s by %(user)s") % values
                body = _("Access ends at %(end)s. Their reason is kept with the grant.") % {
                    "end": timezone.localtime(grant.expires_at).strftime("%Y-%m-%d %H:%M")}
        notify(recipient=manager, kind="security.break_glass", title=title, body=body,
               level=Notification.Level.WARNING, family=grant.family,
               dedup_key=f"break-glass:{grant.pk}:{grant.status}:{manager.pk}")


def _notify_requester(grant):
    from casemgmt.core.notifications import notify

    requester = grant.user
    with translation.override(requester.language or None):
        values = {"file": grant.family.file_number, "user": grant.decided_by}
        if grant.status == BreakGlassGrant.Status.APPROVED:
            title = _("Emergency access to family %(file)s approved by %(user)s") % values
            body = _("Access ends at %(end)s.") % {
                "end": timezone.localtime(grant.expires_at).strftime("%Y-%m-%d %H:%M")}
        else:
            title = _("Emergency access to family %(file)s denied by %(user)s") % values
            body = ""
    notify(recipient=requester, kind="security.break_glass", title=title, body=body, family=grant.family,
           dedup_key=f"break-glass:{grant.pk}:{grant.status}:{requester.pk}")


def breakglass_revoke(*, actor, grant, ip=None):
    """End a grant early (its holder, or an administrator / region manager who can see the family)."""
    own = grant.user_id == actor.pk
    if not own and not (actor.is_superuser or (actor.role in (Role.ADMIN, Role.REGION_MANAGER)
                                               and reach.region_within_reach(actor, grant.family.region_path))):
        raise OutOfReachError()
    updated = BreakGlassGrant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=actor)
    if updated:
        audit_log(actor=actor, event="security.break_glass.revoked", obj=grant, family_id=grant.family_id,
                  region_path=grant.family.region_path, ip=ip)
    grant.refresh_from_db()
    return grant


# ---- data-subject access ------------------------------------------------------------------------

def _rows_about(obj):
    """Every row that points at ``obj`` (one level of reverse relations), grouped by model."""
    groups = {}
    for rel in obj._meta.related_objects:
        if not (rel.one_to_many or rel.one_to_one) or rel.related_model._meta.app_label == "security":
            continue
        rows = rel.related_model._default_manager.filter(**{rel.field.name: obj})
        found = list(rows)
        if found:
            groups.setdefault(rel.related_model._meta.label_lower, []).extend(found)
    return groups


def _serialize(objects):
    return [{"id": row["pk"], **row["fields"]} for row in serializers.serialize("python", objects)]


# The kinds of person an access request can name, declared by the apps that keep them (from their
# ``ready()``): kind -> (model, the lookups of the records the person belongs to, exported with them).
SUBJECTS = {}


def subject_declare(kind, model, *, belongs_to=()):
    """Let an access request name a ``model`` row as ``kind`` (``member``, ``volunteer``)."""
    SUBJECTS[kind] = (model, tuple(belongs_to))


def subject_access_collect(*, actor, person):
    """Everything stored about one person (a row of a declared ``SUBJECTS`` model), decrypted."""
    if not (actor.is_superuser or actor.role in SUBJECT_ACCESS_ROLES):
        raise PermissionDenied(_("Only administrators and region managers answer access requests."))
    if not reach.restrict(type(person)._default_manager.filter(pk=person.pk), actor).exists():
        raise OutOfReachError()
    data = {person._meta.label_lower: _serialize([person])}
    for label, rows in _rows_about(person).items():
        data[label] = _serialize(rows)
    belongs_to = next((lookups for model, lookups in SUBJECTS.values() if isinstance(person, model)), ())
    for lookup in belongs_to:
        whole = getattr(person, lookup)
        data[whole._meta.label_lower] = _serialize([whole])
    return data


def subject_access_export(*, actor, person, fmt="json", reason="", ip=None):
    """(file name, bytes) of a person's full record for an access request (PIPL art. 45); audited."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Name the access request (e.g. its reference).")}, code="required")
    data = subject_access_collect(actor=actor, person=person)
    family_id = getattr(person, "family_id", None)
    audit_log(actor=actor, event="security.subject_access.exported", obj=person, family_id=family_id,
              reason=reason, ip=ip, after={"format": fmt, "tables": sorted(data)})
    name = f"{person._meta.model_name}-{person.pk}"
    if fmt == "json":
        return f"{name}.json", json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode()
    if fmt == "xlsx":
        return f"{name}.xlsx", _workbook(data)
    raise ValidationError({"format": _("Choose json or xlsx.")})


def _workbook(data):
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for label, rows in data.items():
        sheet = book.create_sheet(label.split(".")[-1][:31])
        headings = sorted({key for row in rows for key in row})
        sheet.append(headings)
        for row in rows:
            sheet.append([_safe(sheet, _cell(row.get(h))) for h in headings])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _safe(sheet, value):
    return text_cell(sheet, value) if isinstance(value, str) else value


def _cell(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, datetime.date):
        return value
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


# ---- anonymisation ------------------------------------------------------------------------------

# How each app clears a family's personal data, declared from its ``ready()``: functions of the
# family, run in one transaction, each giving the number of people whose names it replaced.
ERASERS = []


def eraser_declare(erase):
    ERASERS.append(erase)
    return erase


def family_anonymise(*, actor, family, reason):
    """Replace a family's personal data by placeholders, keeping what statistics count: the rows,
    dates, categories, levels and amounts (what each app clears is its ``ERASERS`` function).
    Done once; audited in the family's region."""
    if actor is not None and not (actor.is_superuser or actor.role == Role.ADMIN):
        raise PermissionDenied(_("Only administrators anonymise records."))
    if Anonymisation.objects.filter(family=family).exists():
        return 0
    with transaction.atomic():
        people = sum(erase(family) for erase in ERASERS)
        FamilyMessage.objects.filter(family=family).update(text="")
        Anonymisation.objects.create(family=family, done_by=actor, reason=reason)
        audit_log(actor=actor, event="security.family.anonymised", obj=family, family_id=family.pk,
                  region_path=family.region_path, reason=reason, after={"members": people})
    return people


# ---- audit retention ----------------------------------------------------------------------------

def audit_retention_days():
    return max(settings.AUDIT_RETENTION_DAYS, MIN_AUDIT_RETENTION_DAYS)


def audit_purge(*, actor=None, before, now=None):
    """Delete audit rows older than ``before`` — the only path that may, and never younger than the
    retention period (the database trigger enforces three years on its own too). The trigger is
    opened only inside this transaction, on the owner's connection (``DATABASE_OWNER_URL``): the
    application's role may not delete audit rows at all. The purge and its own audit row are one
    transaction."""
    now = now or timezone.now()
    oldest_allowed = now - datetime.timedelta(days=audit_retention_days())
    if before > oldest_allowed:
        raise ValidationError({"before": _("Audit events are kept %(days)s days; choose a date before %(date)s.") % {
            "days": audit_retention_days(), "date": timezone.localtime(oldest_allowed).date()}})
    with dbroles.as_owner() as using, transaction.atomic(using=using):
        with connections[using].cursor() as cursor:
            cursor.execute("SET LOCAL casemgmt.audit_purge = 'on'")
            deleted, _rows = AuditEvent.objects.filter(at__lt=before).delete()
            cursor.execute("SET LOCAL casemgmt.audit_purge = 'off'")
        audit_log(actor=actor, event="security.audit.purged", after={"before": before, "deleted": deleted})
    return deleted
