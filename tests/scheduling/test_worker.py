"""Reliability with a real Redis and real Celery workers: every due reminder is delivered
exactly once after two beats at once, a SIGKILLed worker, a forced retry and a flushed broker; and a
broker outage never breaks the web."""
import logging
import os
import time

import pytest
import redis
from django.utils import timezone

from casemgmt.celery import app as celery_app
from casemgmt.core.models import Delivery, Notification
from casemgmt.core.notifications import notify
from families import services as family_services
from families import tasks as family_tasks
from families.reminders import checkin_sweep

from .harness import (
    BROKER,
    _dsn,
    _locked_notifications,
    _waiting_inserts,
    assert_each_reminder_sent_once,
    use_broker,
    wait_until,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def schedule_off(db):
    """Beat entries disabled: a worker that starts catches up only what a test enables."""
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.update(enabled=False)


@pytest.fixture
def broker():
    """Publish from this process to ``BROKER``, emptied before and after."""
    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    previous = celery_app.conf.broker_url, celery_app.conf.task_always_eager, os.environ.get("CELERY_BROKER_URL")
    celery_app.conf.task_always_eager = False
    use_broker(BROKER)
    yield client
    celery_app.conf.task_always_eager = previous[1]
    use_broker(previous[0], env_url=previous[2])
    client.flushdb()


def test_two_beats_at_once_deliver_each_reminder_once(overdue, broker, workers, tmp_path):
    workers("w1")
    day = timezone.localdate().isoformat()
    family_tasks.checkin_sweep.delay(day)
    family_tasks.checkin_sweep.delay(day)
    assert_each_reminder_sent_once(tmp_path, 3)


def test_worker_killed_mid_sweep_then_a_new_worker_delivers_once(overdue, broker, workers, tmp_path, regions):
    lock = _locked_notifications()
    try:
        first = workers("w1")
        family_tasks.checkin_sweep_region.delay(regions["zhangpu"].path, timezone.localdate().isoformat())
        wait_until(lambda: _waiting_inserts() == 1, 60, message="the sweep to block mid-way")
        first.kill()
    finally:
        lock.rollback()
        lock.close()
    wait_until(lambda: _waiting_inserts() == 0, 30, message="the killed transaction to end")
    assert Notification.objects.count() == 0  # the killed sweep's transaction was rolled back
    time.sleep(2.5)  # older than the visibility timeout: the unacknowledged message goes back to the queue
    workers("w2", CELERY_VISIBILITY_TIMEOUT="2")
    assert_each_reminder_sent_once(tmp_path, 2)


def test_a_transient_database_error_is_retried_and_delivers_once(overdue, broker, workers, tmp_path, regions):
    lock = _locked_notifications()
    try:
        worker = workers("w1", DATABASE_URL=_dsn(options="-c%20lock_timeout%3D800"))
        family_tasks.checkin_sweep_region.delay(regions["zhangpu"].path, timezone.localdate().isoformat())
        wait_until(lambda: "Retry in" in worker.text(), 60, message="the first attempt to fail and retry")
    finally:
        lock.rollback()
        lock.close()
    assert "LockNotAvailable" in worker.text() or "lock timeout" in worker.text()
    assert_each_reminder_sent_once(tmp_path, 2)


def test_flushed_broker_next_sweep_delivers_everything_that_was_due(overdue, broker, workers, tmp_path, settings):
    settings.NOTIFICATION_DIGEST_TIME = "00:00"
    # The sweep ran and queued the sending, then the broker lost everything.
    assert checkin_sweep() == 3
    assert broker.llen("celery") > 0
    broker.flushdb()
    assert Delivery.objects.filter(status="pending").count() == 3
    workers("w1")
    family_tasks.checkin_sweep.delay()  # the next beat
    assert_each_reminder_sent_once(tmp_path, 3)


def test_broker_down_the_web_keeps_answering(overdue, people, client, caplog):
    previous = celery_app.conf.broker_url, celery_app.conf.task_always_eager, os.environ.get("CELERY_BROKER_URL")
    celery_app.conf.task_always_eager = False
    use_broker("redis://127.0.0.1:6399/0")
    try:
        family = overdue["own"]
        started = time.monotonic()
        with caplog.at_level(logging.ERROR, logger="casemgmt.core.tasks"):
            checkin = family_services.checkin_record(actor=people["alice"], family=family, channel="phone")
            notify(recipient=people["alice"], kind="x", title="Recorded", dedup_key="broker-down:1")
        assert time.monotonic() - started < 10
        assert checkin.pk and Notification.objects.filter(dedup_key="broker-down:1").exists()
        assert "Could not enqueue core.send_deliveries" in caplog.text
        assert Delivery.objects.filter(status="pending", recipient=people["alice"]).exists()  # the catch-up has it
        assert client.get("/healthz").status_code == 200
    finally:
        celery_app.conf.task_always_eager = previous[1]
        use_broker(previous[0], env_url=previous[2])
