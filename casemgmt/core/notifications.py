"""Notifications: the in-app inbox row, then one outbox row per channel, sent once.

Storage is deduplicated by a unique key in the database, so calling ``notify`` twice for the same
reminder stores (and sends) it once. Sending happens after commit: the outbox rows are written in
the caller's transaction, a Celery task is enqueued from ``on_commit``, and a periodic dispatcher
sends whatever is due, so a lost broker message only delays a message, never loses it.

Reminders from the daily sweeps are due at the digest time, so everything one person gets on one
day goes out as one message per channel. SMS never goes out in the recipient's quiet hours; it is
deferred to the morning.
"""
import datetime
import logging
import uuid

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import ngettext

from . import channels
from .models import Delivery, Notification, NotificationPreference, User

logger = logging.getLogger(__name__)

# An attempt claimed longer ago than this has an unknown outcome (a dead worker, or a record lost after
# the provider took it): it is sent again under its own key, which a deduplicating provider drops.
CLAIM_LEASE = datetime.timedelta(minutes=10)
MAX_SEND_ATTEMPTS = 5
BATCH = 2000
# Quiet hours of a user without a preference row (the model's defaults).
DEFAULT_QUIET_START, DEFAULT_QUIET_END = datetime.time(21, 0), datetime.time(8, 0)


def digest_time():
    """Local time of day at which the daily digest of reminders goes out."""
    hour, minute = (int(x) for x in getattr(settings, "NOTIFICATION_DIGEST_TIME", "08:30").split(":"))
    return datetime.time(hour, minute)


def digest_due(now=None):
    """When a reminder created ``now`` is to be sent: today's digest time, or now if that has passed."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    at = timezone.make_aware(datetime.datetime.combine(local.date(), digest_time()))
    return max(now, at)


def _in_quiet_hours(t, start, end):
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end  # the window spans midnight


def after_quiet_hours(due, start, end):
    """``due`` moved to the end of the quiet hours if it falls inside them."""
    local = timezone.localtime(due)
    if not _in_quiet_hours(local.time(), start, end):
        return due
    day = local.date() if local.time() < end else local.date() + datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day, end))


def _plan(rows, *, due_at):
    """Outbox rows for ``rows`` of (notification_id, recipient_id), in bulk; returns recipients due now."""
    if not rows:
        return set()
    recipient_ids = {recipient_id for _, recipient_id in rows}
    users = {
        u["id"]: u
        for u in User.objects.filter(pk__in=recipient_ids, is_active=True).values(
            "id", "email", "phone", "notification_preference__email", "notification_preference__sms",
            "notification_preference__quiet_start", "notification_preference__quiet_end",
        )
    }
    deliveries = []
    for notification_id, recipient_id in rows:
        user = users.get(recipient_id)
        if user is None:
            continue
        if user["email"] and user["notification_preference__email"] is not False:
            deliveries.append(Delivery(notification_id=notification_id, recipient_id=recipient_id,
                                       channel=Delivery.Channel.EMAIL, due_at=due_at))
        if user["phone"] and user["notification_preference__sms"] is not False:
            sms_due = after_quiet_hours(
                due_at, user["notification_preference__quiet_start"] or DEFAULT_QUIET_START,
                user["notification_preference__quiet_end"] or DEFAULT_QUIET_END,
            )
            deliveries.append(Delivery(notification_id=notification_id, recipient_id=recipient_id,
                                       channel=Delivery.Channel.SMS, due_at=sms_due))
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True, batch_size=BATCH)
    now = timezone.now()
    return {d.recipient_id for d in deliveries if d.due_at <= now}


def _send_after_commit(recipient_ids):
    if recipient_ids:
        from .tasks import enqueue, send_deliveries

        for recipient_id in sorted(recipient_ids):
            enqueue(send_deliveries, recipient_id)


def notifications_mark_read(*, actor, ids=None, now=None):
    """Mark the actor's own unread notifications read (all of them when ``ids`` is None); returns how
    many changed. Marking one already read, or somebody else's, changes nothing."""
    queryset = Notification.objects.filter(recipient=actor, read_at__isnull=True)
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    return queryset.update(read_at=now or timezone.now())


def notify(*, recipient, kind, title, dedup_key, body="", level=Notification.Level.INFO, family=None, link="",
           digest=False):
    """Store a notification for ``recipient`` and queue its sending; returns it, or ``None`` if it
    already existed. ``digest=True`` holds it for the day's digest instead of sending it at once."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    recipient=recipient, kind=kind, title=title, body=body, level=level, family=family,
                    link=link, dedup_key=dedup_key,
                )
        except IntegrityError:
            if Notification.objects.filter(dedup_key=dedup_key).exists():
                return None
            raise
        due_now = _plan([(notification.pk, recipient.pk)], due_at=digest_due() if digest else timezone.now())
        _send_after_commit(due_now)
    return notification


def notify_many(items, *, digest=True, now=None):
    """Store many notifications at once (set-based): ``items`` are unsaved ``Notification`` objects.

    Returns how many were new. Existing dedup keys are skipped by the database, not by a lookup, so
    two sweeps running at the same time store each reminder once.
    """
    now = now or timezone.now()
    created = 0
    due_now = set()
    with transaction.atomic():
        for start in range(0, len(items), BATCH):
            chunk = items[start:start + BATCH]
            for item in chunk:
                item.created_at = now  # one stamp marks the rows this call inserted
            Notification.objects.bulk_create(chunk, ignore_conflicts=True)
            rows = list(
                Notification.objects.filter(dedup_key__in=[i.dedup_key for i in chunk], created_at=now)
                .values_list("id", "recipient_id")
            )
            created += len(rows)
            due_now |= _plan(rows, due_at=digest_due(now) if digest else now)
        _send_after_commit(due_now)
    return created


NOTIFICATION_COLUMNS = ("recipient_id", "family_id", "kind", "level", "title", "dedup_key")

# The outbox rows of the notifications one call stored (ids after ``%(after)s`` with its stamp), per
# channel as ``_plan`` chooses them: active users with an address, unless their preference says no;
# for SMS the due time moved past the recipient's quiet hours, looked up in ``{quiet}``, a VALUES
# list of (start, end, SMS due time) per quiet-hours pair computed by ``after_quiet_hours``.
# MATERIALIZED: the new rows are found by their id range, never through a user's whole inbox.
PLAN_SQL = """
WITH fresh AS MATERIALIZED (
    SELECT id, recipient_id FROM core_notification WHERE id > %(after)s AND created_at = %(stamp)s
), channel AS (
    SELECT u.id AS user_id, %(email)s AS channel, %(due_at)s AS due_at
    FROM core_user u LEFT JOIN core_notificationpreference p ON p.user_id = u.id
    WHERE u.is_active AND u.email <> '' AND COALESCE(p.email, TRUE)
    UNION ALL
    SELECT u.id, %(sms)s, quiet.column3
    FROM core_user u LEFT JOIN core_notificationpreference p ON p.user_id = u.id
    JOIN ({quiet}) quiet ON quiet.column1 = COALESCE(p.quiet_start, %(quiet_start)s)
                       AND quiet.column2 = COALESCE(p.quiet_end, %(quiet_end)s)
    WHERE u.is_active AND u.phone <> '' AND COALESCE(p.sms, TRUE)
)
INSERT INTO core_delivery (notification_id, recipient_id, channel, status, due_at, attempts, claim_token, error)
SELECT fresh.id, fresh.recipient_id, channel.channel, %(pending)s, channel.due_at, 0, '', ''
FROM fresh JOIN channel ON channel.user_id = fresh.recipient_id
WHERE TRUE
ON CONFLICT (notification_id, channel) DO NOTHING
"""

DUE_NOW_SQL = """
WITH fresh AS MATERIALIZED (
    SELECT id FROM core_notification WHERE id > %(after)s AND created_at = %(stamp)s
)
SELECT DISTINCT d.recipient_id FROM fresh JOIN core_delivery d ON d.notification_id = fresh.id WHERE d.due_at <= %(now)s
"""


def notify_select(selects, *, digest=True, now=None):
    """Store the notifications that SQL SELECTs yield, without loading them into Python.

    ``selects`` are ``(sql, params)`` pairs (``%(name)s`` parameters) of SELECTs with columns named
    as ``NOTIFICATION_COLUMNS``. Each becomes one ``INSERT ... SELECT ... ON CONFLICT
    (dedup_key) DO NOTHING``, and one more statement writes the outbox rows of everything new, so the
    number of statements does not depend on the rows and a rerun adds nothing: the unique index
    decides. Returns how many notifications were new; sending is queued after commit as in
    ``notify_many``.
    """
    now = now or timezone.now()
    due_at = digest_due(now) if digest else now
    ops = connection.ops
    stamp = ops.adapt_datetimefield_value(now)
    columns = ", ".join(NOTIFICATION_COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        # Rows of this call: ids after the largest one now (the sequence only grows) carrying its stamp.
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM core_notification")
        after = cursor.fetchone()[0]
        created = 0
        for sql, params in selects:
            cursor.execute(
                f"INSERT INTO core_notification ({columns}, body, link, created_at) "
                f"SELECT {columns}, '', '', %(notified_at)s FROM ({sql}) selected WHERE TRUE "
                "ON CONFLICT (dedup_key) DO NOTHING",
                {**params, "notified_at": stamp},
            )
            created += cursor.rowcount
        if not created:
            return 0
        quiet_sql, quiet_params = _quiet_hours_values(due_at)
        cursor.execute(PLAN_SQL.replace("{quiet}", quiet_sql), {
            **quiet_params, "after": after, "stamp": stamp, "due_at": ops.adapt_datetimefield_value(due_at),
            "email": Delivery.Channel.EMAIL, "sms": Delivery.Channel.SMS, "pending": Delivery.Status.PENDING,
        })
        due_now = set()
        checked_at = timezone.now()
        if due_at <= checked_at:  # moving past quiet hours only delays: before due_at nothing is due
            cursor.execute(DUE_NOW_SQL, {"after": after, "stamp": stamp,
                                         "now": ops.adapt_datetimefield_value(checked_at)})
            due_now = {recipient_id for (recipient_id,) in cursor.fetchall()}
        _send_after_commit(due_now)
    return created


def _quiet_hours_values(due_at):
    """A VALUES list of (quiet start, quiet end, SMS due time) for every quiet-hours pair in use,
    the defaults included, so that the SQL applies ``after_quiet_hours`` without repeating it."""
    ops = connection.ops
    pairs = set(NotificationPreference.objects.values_list("quiet_start", "quiet_end").distinct())
    pairs.add((DEFAULT_QUIET_START, DEFAULT_QUIET_END))
    rows, params = [], {"quiet_start": ops.adapt_timefield_value(DEFAULT_QUIET_START),
                        "quiet_end": ops.adapt_timefield_value(DEFAULT_QUIET_END)}
    for i, (start, end) in enumerate(sorted(pairs)):
        rows.append(f"(%(qs{i})s, %(qe{i})s, %(qd{i})s)")
        params.update({f"qs{i}": ops.adapt_timefield_value(start), f"qe{i}": ops.adapt_timefield_value(end),
                       f"qd{i}": ops.adapt_datetimefield_value(after_quiet_hours(due_at, start, end))})
    return "VALUES " + ", ".join(rows), params


def _render(deliveries, language):
    """One message for everything claimed: the notification itself, or a digest listing them."""
    notes = [d.notification for d in deliveries]
    with translation.override(language):
        if len(notes) == 1:
            return notes[0].title, notes[0].body or notes[0].title
        subject = ngettext("%(count)d reminder", "%(count)d reminders", len(notes)) % {"count": len(notes)}
        lines = [f"{i}. {n.title}" for i, n in enumerate(notes, 1)]
        return subject, "\n".join(lines)


class OutcomeUnrecorded(Exception):
    """The provider took the message of attempt ``key``, and recording that failed (the database went
    away): whoever retries resumes this attempt, under the same key, rather than start another."""

    def __init__(self, key):
        super().__init__(f"attempt {key} was handed to the provider; recording it failed")
        self.key = key


def _claim(*, recipient_id, channel, now, resume=()):
    """Claim the rows of one attempt for one recipient and channel; returns its key, or ``""``.

    An attempt already made comes first, under its own key: one that failed and is due again, one
    whose outcome is unknown (claimed longer than ``CLAIM_LEASE`` ago: a dead worker, or a record that
    failed after the provider took it), or one named in ``resume``. Otherwise the due rows that belong
    to no attempt become a new one. The key is committed with the rows before anything is sent.
    """
    mine = Delivery.objects.filter(recipient_id=recipient_id, channel=channel)
    earlier = (Q(status=Delivery.Status.PENDING, due_at__lte=now) & ~Q(claim_token="")) | Q(
        status=Delivery.Status.SENDING, claimed_at__lt=now - CLAIM_LEASE)
    if resume:
        earlier |= Q(status=Delivery.Status.SENDING, claim_token__in=list(resume))
    with transaction.atomic():
        row = mine.filter(earlier).select_for_update(skip_locked=True).values("claim_token").first()
        if row is not None:
            key = row["claim_token"]
            rows = mine.filter(claim_token=key, status__in=[Delivery.Status.PENDING, Delivery.Status.SENDING])
        else:
            key = uuid.uuid4().hex
            rows = mine.filter(status=Delivery.Status.PENDING, claim_token="", due_at__lte=now)
        claimed = Delivery.objects.filter(pk__in=rows.select_for_update(skip_locked=True).values("pk")).update(
            status=Delivery.Status.SENDING, claim_token=key, claimed_at=now, attempts=F("attempts") + 1
        )
    if row is not None and claimed:
        logger.warning("Resuming attempt %s (%d deliveries) under its own key.", key, claimed)
    return key if claimed else ""


def _send(key, *, now):
    """Hand the message of attempt ``key`` to the provider with the key as its idempotency key, and
    record the outcome; returns the rows sent."""
    deliveries = list(
        Delivery.objects.filter(claim_token=key, status=Delivery.Status.SENDING).select_related("notification", "recipient")
        .order_by("notification__created_at", "notification_id")
    )
    if not deliveries:
        return 0
    user, channel = deliveries[0].recipient, deliveries[0].channel
    subject, body = _render(deliveries, user.language)
    try:
        if channel == Delivery.Channel.EMAIL:
            channels.send_email_message(address=user.email, subject=subject, body=body, idempotency_key=key)
        else:
            channels.send_sms_message(phone=user.phone, text=f"{subject}\n{body}" if len(deliveries) > 1 else body,
                                      idempotency_key=key)
    except Exception as exc:  # a provider failure: retry later from the database, under the same key
        logger.warning("Sending %s to user %s failed: %s", channel, user.pk, exc)
        attempts = max(d.attempts for d in deliveries)
        Delivery.objects.filter(claim_token=key, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.FAILED if attempts >= MAX_SEND_ATTEMPTS else Delivery.Status.PENDING,
            due_at=now + datetime.timedelta(minutes=5 * 2 ** attempts), error=str(exc)[:500],
        )
        return 0
    try:
        return Delivery.objects.filter(claim_token=key, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.SENT, sent_at=timezone.now(), error="")
    except DatabaseError as exc:
        raise OutcomeUnrecorded(key) from exc


def deliveries_send(*, recipient_id, channel, now=None, resume=()):
    """Send everything due for one recipient on one channel; returns rows sent.

    Each message is one attempt (a day's reminders go as one digest): its key is committed with its
    rows before the provider is called, and given to the provider as the idempotency key, so sending
    an attempt again — after a provider error, a dead worker, or a record lost after the provider took
    it — is dropped by a deduplicating provider instead of reaching the person twice. Rows are claimed
    with one conditional UPDATE (``SKIP LOCKED``): two workers running this at once each get disjoint
    rows. ``resume``: keys of attempts whose record failed, to finish now rather than after the lease.
    """
    now = now or timezone.now()
    sent = 0
    while key := _claim(recipient_id=recipient_id, channel=channel, now=now, resume=resume):
        sent += _send(key, now=now)
    return sent


def deliveries_dispatch(*, now=None, resume=()):
    """Send everything that is due: the catch-up after quiet hours, a lost message, a provider error,
    and attempts of unknown outcome (resumed under their own key; those in ``resume`` at once)."""
    now = now or timezone.now()
    due = Q(status=Delivery.Status.PENDING, due_at__lte=now) | Q(status=Delivery.Status.SENDING,
                                                                  claimed_at__lt=now - CLAIM_LEASE)
    if resume:
        due |= Q(status=Delivery.Status.SENDING, claim_token__in=list(resume))
    pairs = Delivery.objects.filter(due).values_list("recipient_id", "channel").distinct().order_by("recipient_id", "channel")
    return sum(deliveries_send(recipient_id=r, channel=c, now=now, resume=resume) for r, c in pairs)
