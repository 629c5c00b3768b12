"""Notifications: inbox row, one outbox row per channel, sent once after commit, quiet hours, digest."""
import datetime
import threading

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from casemgmt.core.models import Delivery, Notification, NotificationPreference
from casemgmt.core.notifications import deliveries_dispatch, deliveries_send, notify, notify_many, notify_select


def local(day, hour, minute=0):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


@pytest.fixture
def alice(people):
    user = people["alice"]
    user.email, user.phone = "alice@example.org", "13900000001"
    user.save()
    # No quiet hours unless a test sets them: the tests must not depend on the time they run at.
    NotificationPreference.objects.create(user=user, quiet_start=datetime.time(0, 0), quiet_end=datetime.time(0, 0))
    return user


@pytest.mark.django_db
def test_notify_sends_each_channel_once_after_commit(alice, sms, eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = notify(recipient=alice, kind="training.promoted", title="You have a place", dedup_key="promo:1")
        assert mail.outbox == [] and sms == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=True):
        again = notify(recipient=alice, kind="training.promoted", title="You have a place", dedup_key="promo:1")
    assert first is not None and again is None
    assert [m.subject for m in mail.outbox] == ["You have a place"]
    assert [s["phone"] for s in sms] == ["13900000001"]
    assert Notification.objects.filter(recipient=alice).count() == 1
    assert set(Delivery.objects.values_list("channel", "status")) == {("email", "sent"), ("sms", "sent")}
    # Running the send again (a redelivered task) finds nothing left to claim.
    assert deliveries_send(recipient_id=alice.pk, channel="email") == 0
    assert deliveries_dispatch() == 0
    assert len(mail.outbox) == 1 and len(sms) == 1


@pytest.mark.django_db
def test_channel_choices_are_respected(alice, sms, eager, django_capture_on_commit_callbacks):
    NotificationPreference.objects.filter(user=alice).update(email=True, sms=False)
    with django_capture_on_commit_callbacks(execute=True):
        notify(recipient=alice, kind="x", title="Only by email", dedup_key="x:1")
    assert len(mail.outbox) == 1 and sms == []
    assert list(Delivery.objects.values_list("channel", flat=True)) == ["email"]


@pytest.mark.django_db
def test_sms_waits_for_the_end_of_quiet_hours(alice, sms):
    NotificationPreference.objects.filter(user=alice).update(quiet_start=datetime.time(22, 0), quiet_end=datetime.time(7, 30))
    day = timezone.localdate() + datetime.timedelta(days=3)
    late = local(day, 23, 15)
    notify_many([Notification(recipient=alice, kind="x", title="Late", dedup_key="late:1")], digest=False, now=late)
    sms_row = Delivery.objects.get(channel="sms")
    assert sms_row.due_at == local(day + datetime.timedelta(days=1), 7, 30)
    deliveries_dispatch(now=late + datetime.timedelta(minutes=1))
    assert len(mail.outbox) == 1 and sms == []  # email is fine at night, SMS is deferred, not dropped
    deliveries_dispatch(now=local(day + datetime.timedelta(days=1), 7, 31))
    assert len(sms) == 1 and sms[0]["text"] == "Late"


@pytest.mark.django_db
def test_many_reminders_in_one_day_arrive_as_one_digest(alice, sms):
    day = timezone.localdate() + datetime.timedelta(days=3)
    morning = local(day, 6, 0)
    items = [Notification(recipient=alice, kind="checkin.due", title=f"Family F-{i}", dedup_key=f"d:{i}") for i in range(8)]
    assert notify_many(items, now=morning) == 8
    assert set(Delivery.objects.values_list("due_at", flat=True)) == {local(day, 8, 30)}
    assert deliveries_dispatch(now=local(day, 8, 0)) == 0
    assert deliveries_dispatch(now=local(day, 8, 31)) == 16
    assert len(mail.outbox) == 1 and len(sms) == 1
    assert all(f"Family F-{i}" in mail.outbox[0].body for i in range(8))
    assert "8" in mail.outbox[0].subject
    assert all(f"Family F-{i}" in sms[0]["text"] for i in range(8))


@pytest.mark.django_db
def test_failed_sms_is_retried_later_from_the_database(alice, settings):
    settings.SMS_BACKEND = "tests.scheduling.test_notifications.BrokenSMS"
    notify_many([Notification(recipient=alice, kind="x", title="Hello", dedup_key="b:1")], digest=False)
    deliveries_dispatch()
    row = Delivery.objects.get(channel="sms")
    assert row.status == "pending" and row.attempts == 1 and "gateway down" in row.error
    assert row.due_at > timezone.now()


class BrokenSMS:
    def send(self, *, phone, text, idempotency_key=None):
        raise RuntimeError("gateway down")


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_once(alice, sms):
    items = [Notification(recipient=alice, kind="x", title=f"N{i}", dedup_key=f"c:{i}") for i in range(20)]
    notify_many(items, digest=False)
    barrier = threading.Barrier(4)
    results = []

    def run():
        barrier.wait()
        try:
            results.append(deliveries_send(recipient_id=alice.pk, channel="sms"))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 20
    assert sum(s["text"].count("N") for s in sms) >= 20
    assert Delivery.objects.filter(channel="sms", status="sent").count() == 20
    texts = "\n".join(s["text"] for s in sms)
    assert all(texts.count(f"N{i}\n") + texts.endswith(f"N{i}") == 1 for i in range(20))


def _select(rows):
    """``notify_select``'s SQL for literal (recipient, kind, title, dedup key) rows."""
    params, parts = {}, []
    for i, (recipient, kind, title, key) in enumerate(rows):
        params.update({f"r{i}": recipient.pk, f"k{i}": kind, f"t{i}": title, f"d{i}": key})
        parts.append(f"SELECT %(r{i})s AS recipient_id, CAST(NULL AS bigint) AS family_id, %(k{i})s AS kind, "
                     f"'reminder' AS level, %(t{i})s AS title, %(d{i})s AS dedup_key")
    return " UNION ALL ".join(parts), params


@pytest.mark.django_db
def test_notify_select_plans_the_outbox_as_notify_many_does(alice, people):
    """Channels, preferences, quiet hours and the digest time: the SQL path writes what the row path writes."""
    bob, carol = people["bob"], people["carol"]
    bob.email = "bob@example.org"
    bob.save()
    carol.email, carol.phone = "carol@example.org", "13900000003"
    carol.save()
    NotificationPreference.objects.create(user=carol, sms=True, email=False)  # default quiet hours 21:00-08:00
    NotificationPreference.objects.filter(user=alice).update(quiet_start=datetime.time(22), quiet_end=datetime.time(7, 30))
    day = timezone.localdate() + datetime.timedelta(days=3)
    for now in (local(day, 6, 0), local(day, 23, 15)):
        for digest in (True, False):
            tag = f"{now:%H%M}:{digest}"
            rows = [(user, "x", f"For {user.username}", f"{tag}:{user.username}") for user in (alice, bob, carol)]
            assert notify_many([Notification(recipient=r, kind=k, title=t, dedup_key=f"many:{d}") for r, k, t, d in rows],
                               digest=digest, now=now) == 3
            sql, params = _select([(r, k, t, f"select:{d}") for r, k, t, d in rows])
            assert notify_select([(sql, params)], digest=digest, now=now) == 3
            assert notify_select([(sql, params)], digest=digest, now=now + datetime.timedelta(seconds=1)) == 0

    def outbox(prefix):
        return sorted(
            (d.notification.dedup_key.removeprefix(prefix), d.notification.title, d.notification.created_at,
             d.recipient_id, d.channel, d.status, d.due_at)
            for d in Delivery.objects.filter(notification__dedup_key__startswith=prefix).select_related("notification")
        )

    assert outbox("select:") == outbox("many:")
    assert len(outbox("select:")) == 4 * (2 + 1 + 1)  # alice: email and SMS, bob: email, carol: SMS


@pytest.mark.django_db
def test_notify_select_sends_what_is_due_after_commit(alice, sms, eager, django_capture_on_commit_callbacks):
    sql, params = _select([(alice, "x", "Due now", "now:1")])
    with django_capture_on_commit_callbacks(execute=True):
        assert notify_select([(sql, params)], digest=False) == 1
        assert mail.outbox == [] and sms == []
    assert [m.subject for m in mail.outbox] == ["Due now"] and [s["text"] for s in sms] == ["Due now"]
    assert set(Delivery.objects.values_list("channel", "status")) == {("email", "sent"), ("sms", "sent")}
