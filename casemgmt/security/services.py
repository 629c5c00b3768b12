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
from casemgmt.core.channels import send_sms_message
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import AuditEvent, Notification, Role, User
from casemgmt.core.spreadsheet import text_cell
from families.models import Family, FamilyMember

from .consent import CHANNEL_PURPOSES, consent_allows
from .models import Anonymisation, AuditPurgeWindow, BreakGlassGrant, FamilyMessage

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


def _day_start(now):
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(now), datetime.time.min))


def breakglass_request(*, actor, reason, family_id=None, file_number=None, hours=None, ip=None, now=None):
    """``breakglass_open`` of the family named by id or file number. A family that does not exist
    is answered as ``OutOfReachError``, before anything is written — the same answer whatever the id,
    so that the door tells nothing about families the caller has not opened (the checks of the
    caller's role and request come first, for every id alike)."""
    _check_request(actor, reason, hours)
    lookup = {"pk": family_id} if family_id is not None else {"file_number": (file_number or "").strip()}
    family = Family.objects.filter(**lookup).first() if any(lookup.values()) else None
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
    if reach.restrict(Family.objects.filter(pk=family.pk), actor).exists():
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


# ---- messages to families ----------------------------------------------------------------------

def family_message_send(*, actor, family, member, channel, text):
    """Send an SMS or WeChat-style message to a family member — only with their consent to that
    channel. Every attempt is recorded; a refusal raises ``PermissionDenied`` after recording."""
    if not reach.restrict(Family.objects.filter(pk=family.pk), actor).exists():
        raise OutOfReachError()
    if member is not None and member.family_id != family.pk:
        raise ValidationError({"member": _("This person is not a member of the family.")})
    if channel not in CHANNEL_PURPOSES or channel == "phone":
        raise ValidationError({"channel": _("Unknown channel.")})
    allowed = consent_allows(family=family, member=member, purpose=CHANNEL_PURPOSES[channel])
    message = FamilyMessage(family=family, member=member, channel=channel, text=text, sent_by=actor,
                            status=FamilyMessage.Status.SENT if allowed else FamilyMessage.Status.REFUSED)
    with transaction.atomic():
        message.save()
        audit_log(actor=actor, event="security.family_message.sent" if allowed else "security.family_message.refused",
                  obj=message, family_id=family.pk, region_path=family.region_path,
                  after={"channel": channel, "member": member.pk if member else None})
    if not allowed:
        raise PermissionDenied(_("The family has not consented to be contacted this way."))
    phone = member.phone if member is not None else ""
    if not phone:
        phone = next((m.phone for m in family.members.filter(is_deceased=False).order_by("id") if m.phone), "")

    def send():
        try:
            if channel == FamilyMessage.Channel.SMS:
                send_sms_message(phone=phone, text=text)
            else:
                get_wechat_backend().send(phone=phone, text=text)
        except Exception as exc:  # a provider failure is recorded, not raised into the caller's page
            logger.warning("Message %s to a family failed: %s", message.pk, type(exc).__name__)
            FamilyMessage.objects.filter(pk=message.pk).update(status=FamilyMessage.Status.FAILED, error=str(exc)[:300])

    transaction.on_commit(send)
    return message


class LoggingWeChatBackend:
    """Stands for a WeChat service-account adapter; only logs (masked), like the SMS default."""

    def send(self, *, phone, text):
        logger.info("WeChat message to %s***%s (%d characters)", phone[:3], phone[-2:], len(text))


def get_wechat_backend():
    from django.utils.module_loading import import_string

    return import_string(getattr(settings, "WECHAT_BACKEND", "casemgmt.security.services.LoggingWeChatBackend"))()


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


def subject_access_collect(*, actor, person):
    """Everything stored about one person (a ``FamilyMember`` or a ``Volunteer``), decrypted."""
    if not (actor.is_superuser or actor.role in SUBJECT_ACCESS_ROLES):
        raise PermissionDenied(_("Only administrators and region managers answer access requests."))
    if not reach.restrict(type(person)._default_manager.filter(pk=person.pk), actor).exists():
        raise OutOfReachError()
    data = {person._meta.label_lower: _serialize([person])}
    for label, rows in _rows_about(person).items():
        data[label] = _serialize(rows)
    if isinstance(person, FamilyMember):
        data["families.family"] = _serialize([person.family])
    return data


def subject_access_export(*, actor, person, fmt="json", reason="", ip=None):
    """(file name, bytes) of a person's full record for an access request (PIPL art. 45); audited."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Name the access request (e.g. its reference).")}, code="required")
    data = subject_access_collect(actor=actor, person=person)
    family_id = getattr(person, "family_id", None)
    audit_log(actor=actor, event="security.subject_access.exported", obj=person, family_id=family_id,
              region_path=getattr(person, "family", None) and person.family.region_path or "",
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

def family_anonymise(*, actor, family, reason):
    """Replace a family's personal data by placeholders, keeping what statistics count: the rows,
    dates, categories, levels and amounts. Names become masked placeholders; ID numbers, phones,
    health details, bank accounts, free text and the blind indexes are cleared; a birth date keeps
    only its year (ages still group)."""
    from families.models import Assessment, AssistanceEnrollment, CheckIn
    from services.models import HealthCheckup, InsuranceClaim

    if actor is not None and not (actor.is_superuser or actor.role == Role.ADMIN):
        raise PermissionDenied(_("Only administrators anonymise records."))
    if Anonymisation.objects.filter(family=family).exists():
        return 0
    with transaction.atomic():
        members = list(FamilyMember.objects.select_for_update().filter(family=family))
        for member in members:
            placeholder = _("Anonymised %(n)s") % {"n": member.pk}
            birth = member.birth_date and datetime.date(member.birth_date.year, 7, 1)
            FamilyMember.objects.filter(pk=member.pk).update(
                name=placeholder[:50], name_pinyin="", name_initials="", id_number="", id_number_index="",
                phone="", phone_index="", health_conditions="", disability_certificate_number="",
                family_doctor="", family_doctor_institution="", birth_date=birth, lunar_birth_month=None,
                lunar_birth_day=None, updated_at=timezone.now(),
            )
        AssistanceEnrollment.objects.filter(family=family).update(bank_account="", bank_name="")
        CheckIn.objects.filter(family=family).update(mental_notes="", difficulties="", needs="", help_given="",
                                                     follow_up="")
        Assessment.objects.filter(family=family).update(notes="")
        InsuranceClaim.objects.filter(member__family=family).update(diagnosis="")
        HealthCheckup.objects.filter(member__family=family).update(findings="")
        FamilyMessage.objects.filter(family=family).update(text="")
        Family.objects.filter(pk=family.pk).update(address="", notes="", status_reason="", risk_reason="")
        Anonymisation.objects.create(family=family, done_by=actor, reason=reason)
        audit_log(actor=actor, event="security.family.anonymised", obj=family, family_id=family.pk,
                  region_path=family.region_path, reason=reason, after={"members": len(members)})
    return len(members)


def families_anonymise_expired(*, actor=None, now=None, dry_run=False):
    """Anonymise every family closed (or deceased, or moved away) longer ago than the retention
    period ``FAMILY_RETENTION_YEARS``; returns the families concerned."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=365 * settings.FAMILY_RETENTION_YEARS)
    due = list(Family.objects.filter(status__in=(Family.Status.CLOSED, Family.Status.DECEASED, Family.Status.MOVED),
                                     status_changed_at__lt=cutoff, anonymisation__isnull=True).order_by("id"))
    if not dry_run:
        for family in due:
            family_anonymise(actor=actor, family=family,
                             reason=_("retention of %(years)s years ended") % {"years": settings.FAMILY_RETENTION_YEARS})
    return due


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
        connection = connections[using]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL casemgmt.audit_purge = 'on'")
        else:
            window = AuditPurgeWindow.objects.create()
        deleted, _rows = AuditEvent.objects.filter(at__lt=before).delete()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL casemgmt.audit_purge = 'off'")
        else:
            window.delete()
        audit_log(actor=actor, event="security.audit.purged", after={"before": before, "deleted": deleted})
    return deleted


def audit_filter_person(queryset, *, member=None, volunteer=None):
    """Audit rows about one person: the rows naming them, and for a member their family's rows."""
    if member is not None:
        return queryset.filter(
            Q(object_type="families.familymember", object_ids__contains=[member.pk]) | Q(family_id=member.family_id))
    if volunteer is not None:
        return queryset.filter(object_type="volunteers.volunteer", object_ids__contains=[volunteer.pk])
    return queryset
