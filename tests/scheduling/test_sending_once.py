"""Sending exactly once to the outside: each attempt's key is committed before the provider is called
and given to it; a retry, a provider error or an unknown outcome sends the same attempt under the same
key, which a deduplicating gateway (as real SMS gateways are) drops."""
import datetime

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from casemgmt.core.models import Delivery, Notification, NotificationPreference
from casemgmt.core.notifications import CLAIM_LEASE, OutcomeUnrecorded, deliveries_dispatch, deliveries_send, notify_many

from .fakes import DedupSMSGateway


@pytest.fixture
def gateway(settings):
    settings.SMS_BACKEND = "tests.scheduling.fakes.DroppingDedupSMSGateway"
    DedupSMSGateway.calls, DedupSMSGateway.delivered = [], {}
    return DedupSMSGateway


def _reminders(people, count=3):
    """``count`` reminders each for alice and bob, due now, by SMS only and without quiet hours."""
    users = [people["alice"], people["bob"]]
    for user in users:
        user.phone, user.email = f"1390000{user.pk:04d}", ""
        user.save()
        NotificationPreference.objects.create(user=user, quiet_start=datetime.time(0), quiet_end=datetime.time(0))
    later = timezone.now() + datetime.timedelta(days=1)  # nothing is due yet, so nothing is queued
    notify_many([Notification(recipient=u, kind="x", title=f"{u.username} reminder {i}", dedup_key=f"r:{u.pk}:{i}")
                 for u in users for i in range(count)], digest=False, now=later)
    Delivery.objects.update(due_at=timezone.now())
    return users


def _assert_each_reminder_delivered_once(gateway):
    delivered = "\n".join(m["text"] for m in gateway.delivered.values())
    for title in Notification.objects.values_list("title", flat=True):
        assert delivered.count(title) == 1, (title, delivered)
    keys = {c["key"] for c in gateway.calls}
    # Every key the provider saw is a message that reached a phone, and each attempt used one key.
    assert keys == set(gateway.delivered) == set(Delivery.objects.values_list("claim_token", flat=True))
    assert Delivery.objects.exclude(status="sent").count() == 0


@pytest.mark.django_db(transaction=True)
def test_connection_lost_after_the_provider_took_the_message_is_resumed_under_the_same_key(people, gateway):
    alice, bob = _reminders(people)
    keys = {}
    for user in (alice, bob):
        # The provider takes the digest, then the database connection drops before it is recorded.
        with pytest.raises(OutcomeUnrecorded) as lost:
            deliveries_send(recipient_id=user.pk, channel="sms")
        connection.close()  # what the worker does with a broken connection before its next task
        keys[user] = lost.value.key
        rows = Delivery.objects.filter(recipient=user)
        assert set(rows.values_list("status", "claim_token")) == {("sending", keys[user])}
    assert [c["key"] for c in gateway.calls] == [keys[alice], keys[bob]]
    # Nobody sends them blindly again: an attempt of unknown outcome waits for its lease.
    assert deliveries_dispatch() == 0 and len(gateway.calls) == 2

    # The task's retry resumes alice's attempt at once; the dispatcher reconciles bob's after the lease.
    assert deliveries_send(recipient_id=alice.pk, channel="sms", resume=[keys[alice]]) == 3
    assert deliveries_dispatch(now=timezone.now() + CLAIM_LEASE + datetime.timedelta(seconds=1)) == 3
    assert len(gateway.calls) == 4  # two messages, each sent twice under its own key
    assert len(gateway.delivered) == 2
    _assert_each_reminder_delivered_once(gateway)


@pytest.mark.django_db
def test_a_provider_error_is_retried_with_the_same_attempt_and_key(people, settings):
    settings.SMS_BACKEND = "tests.scheduling.test_sending_once.FlakyGateway"
    FlakyGateway.calls, FlakyGateway.delivered, FlakyGateway.failures = [], {}, 1
    alice, _bob = _reminders(people, count=2)
    Delivery.objects.filter(recipient=_bob).delete()
    deliveries_dispatch()
    row = Delivery.objects.filter(recipient=alice).first()
    assert row.status == "pending" and row.claim_token and "timed out" in row.error
    # A reminder that came meanwhile does not join the attempt: the attempt is resent as it was.
    notify_many([Notification(recipient=alice, kind="x", title="alice later", dedup_key="later")], digest=False,
                now=timezone.now() + datetime.timedelta(days=1))
    Delivery.objects.filter(notification__dedup_key="later").update(due_at=timezone.now())
    assert deliveries_dispatch(now=timezone.now() + datetime.timedelta(hours=1)) == 3
    keys = [c["key"] for c in FlakyGateway.calls]
    assert keys[0] == keys[1] == row.claim_token and len(keys) == 3 and keys[2] != keys[0]
    assert FlakyGateway.delivered[keys[0]]["text"].count("alice reminder") == 2
    assert FlakyGateway.delivered[keys[2]]["text"] == "alice later"


class FlakyGateway(DedupSMSGateway):
    """A gateway whose first request times out after taking the message (the outcome is unknown)."""

    failures = 0

    def send(self, *, phone, text, idempotency_key=None):
        super().send(phone=phone, text=text, idempotency_key=idempotency_key)
        if FlakyGateway.failures:
            FlakyGateway.failures -= 1
            raise TimeoutError("gateway timed out")


@pytest.mark.django_db
def test_email_carries_the_attempt_key_as_its_message_id(people, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    alice = people["alice"]
    alice.email, alice.phone = "alice@example.org", ""
    alice.save()
    notify_many([Notification(recipient=alice, kind="x", title="Hello", dedup_key="m:1")], digest=False,
                now=timezone.now() + datetime.timedelta(days=1))
    Delivery.objects.update(due_at=timezone.now())
    assert deliveries_dispatch() == 1
    key = Delivery.objects.get().claim_token
    assert mail.outbox[0].message()["Message-ID"] == f"<{key}@{settings.DEFAULT_FROM_EMAIL.rpartition('@')[2]}>"
