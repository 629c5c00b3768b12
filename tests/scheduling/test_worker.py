"""Reliability with a real Redis and real Celery workers: every due reminder is delivered
exactly once after two beats at once, a SIGKILLed worker, a forced retry and a flushed broker; and a
broker outage never breaks the web."""
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis
from django.db import connection
from django.utils import timezone

from casemgmt.celery import app as celery_app
from casemgmt.core.models import Delivery, Notification
from casemgmt.core.notifications import notify
from families import services as family_services
from families import tasks as family_tasks
from families.reminders import checkin_sweep

# The broker this run was given (so that test runs side by side each have their own Redis db), db 3
# without one. The tests empty it before and after.
BROKER = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/3"
ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_until(predicate, timeout=20.0, step=0.2, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {message}")


def _dsn(**extra):
    s = connection.settings_dict
    dsn = f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    return dsn + ("?" + "&".join(f"{k}={v}" for k, v in extra.items()) if extra else "")


class Worker:
    """A ``celery -A casemgmt worker`` process group against the test database and ``BROKER``."""

    def __init__(self, tmp_path, name, **env):
        self.log = tmp_path / f"{name}.log"
        environment = {
            **os.environ, "DATABASE_URL": env.pop("DATABASE_URL", _dsn()), "CELERY_BROKER_URL": BROKER,
            "CONN_MAX_AGE": "0", "SMS_BACKEND": "tests.scheduling.fakes.FileRecordingSMSBackend",
            "SMS_RECORD_PATH": str(tmp_path / "sms.jsonl"), "NOTIFICATION_DIGEST_TIME": "00:00",
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend", "PYTHONPATH": str(ROOT), **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "casemgmt", "worker", "--loglevel=INFO", "--concurrency=2",
             "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=environment, stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_until(lambda: "ready." in self.text() or self.process.poll() is not None, 90, message="worker ready")
        assert self.process.poll() is None, self.text()

    def text(self):
        return self.log.read_text() if self.log.exists() else ""

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        # The test is over: no need for a warm shutdown, and ``BROKER`` is emptied afterwards.
        self.kill()


def use_broker(url, env_url=...):
    """Point this process's Celery app at ``url``, dropping pooled connections to the old broker.

    Celery reads the CELERY_BROKER_URL environment variable before its own configuration (``make
    test`` and CI set it), so the variable has to follow too."""
    env_url = url if env_url is ... else env_url
    if env_url is None:
        os.environ.pop("CELERY_BROKER_URL", None)
    else:
        os.environ["CELERY_BROKER_URL"] = env_url
    celery_app.conf.broker_url = url
    celery_app._pool = None  # not closed: kombu's global producer registry may still hand it out
    celery_app.amqp._producer_pool = None


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


@pytest.fixture
def workers(tmp_path):
    started = []

    def start(name, **env):
        worker = Worker(tmp_path, name, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def sent_sms(tmp_path):
    path = tmp_path / "sms.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def assert_each_reminder_sent_once(tmp_path, expected):
    wait_until(lambda: Delivery.objects.filter(channel="sms", status="sent").count() == expected, 60,
               message=f"{expected} SMS deliveries")
    time.sleep(1.0)  # give a duplicate the chance to show up
    texts = "\n".join(m["text"] for m in sent_sms(tmp_path))
    titles = list(Notification.objects.filter(kind__startswith="checkin.").values_list("title", flat=True))
    assert len(titles) == expected
    for title in titles:
        assert texts.count(title) == 1, (title, texts)
    assert Delivery.objects.exclude(status="sent").count() == 0


def test_two_beats_at_once_deliver_each_reminder_once(overdue, broker, workers, tmp_path):
    workers("w1")
    day = timezone.localdate().isoformat()
    family_tasks.checkin_sweep.delay(day)
    family_tasks.checkin_sweep.delay(day)
    assert_each_reminder_sent_once(tmp_path, 3)


def _locked_notifications():
    """Hold a lock that makes every INSERT into the inbox wait, from a connection of our own."""
    lock = psycopg.connect(_dsn(), autocommit=False)
    lock.execute("LOCK TABLE core_notification IN SHARE ROW EXCLUSIVE MODE")
    return lock


def _waiting_inserts():
    with psycopg.connect(_dsn(), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query ~* '^\\s*INSERT INTO \"?core_notification\"? '"
        ).fetchone()[0]


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
