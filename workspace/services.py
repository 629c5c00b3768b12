"""Writes the workspace makes on its own records (feeds, form keys) or thin wrappers that add what
only a web form needs (an idempotency key) around the apps' services."""
import secrets

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from casemgmt.core import privacy
from casemgmt.core.audit import audit_log
from casemgmt.core.crypto import hash_token
from families.services import checkin_record

from .models import CalendarFeed, CheckinSubmission
from .selectors import SURFACE


def checkin_submit(*, actor, family, key, **fields):
    """``checkin_record`` once per form key: returns (check-in, created). A resent form (a double
    tap, or an offline draft sent when the connection came back) finds the first one instead.

    The key row is written in the same transaction as the check-in; if two copies race, the unique
    key makes the second roll back whole, check-in included."""
    existing = CheckinSubmission.objects.filter(key=key).select_related("checkin").first()
    if existing is not None:
        if existing.user_id != actor.pk:
            raise PermissionDenied()
        return existing.checkin, False
    try:
        with transaction.atomic():
            checkin = checkin_record(actor=actor, family=family, **fields)
            CheckinSubmission.objects.create(key=key, user=actor, checkin=checkin)
    except IntegrityError:
        existing = CheckinSubmission.objects.filter(key=key, user=actor).select_related("checkin").first()
        if existing is None:
            raise
        return existing.checkin, False
    return checkin, True


def member_reveal(*, actor, member, names, reason, ip=None):
    """{field: plaintext} of fields ``names`` of ``member`` (in the actor's reach already) when the
    policy lets the actor reveal them, with the reason in the audit trail: ``privacy.reveal``, the
    one act whatever the surface. ``PermissionDenied`` for a field the actor may not reveal (a
    contact person's ID number), ``ValidationError`` without a reason."""
    return privacy.reveal(actor=actor, obj=member, names=names, reason=reason, surface=SURFACE, ip=ip)


def calendar_feed_create(*, actor):
    """A new secret feed address for ``actor``; an earlier one stops working. Returns the token,
    which is shown once: only its hash is kept."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        CalendarFeed.objects.filter(user=actor, revoked_at__isnull=True).update(revoked_at=timezone.now())
        feed = CalendarFeed.objects.create(user=actor, token_hash=hash_token(token))
        audit_log(actor=actor, event="workspace.calendar_feed.created", obj=feed)
    return token


def calendar_feed_revoke(*, actor):
    with transaction.atomic():
        revoked = CalendarFeed.objects.filter(user=actor, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if revoked:
            audit_log(actor=actor, event="workspace.calendar_feed.revoked", after={"revoked": revoked})
    return revoked


def calendar_feed_user(token):
    """The active user behind a feed token, or None."""
    feed = CalendarFeed.objects.filter(token_hash=hash_token(token or ""), revoked_at__isnull=True).select_related(
        "user__region").first()
    if feed is None or not feed.user.is_active:
        return None
    CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=timezone.now())
    return feed.user
