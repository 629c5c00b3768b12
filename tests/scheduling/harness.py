"""What the worker tests share: real ``celery worker`` processes against the test database and a
Redis of this run, and the checks that every reminder went out once."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from django.db import connection

from casemgmt.celery import app as celery_app
from casemgmt.core.models import Delivery, Notification
from casemgmt.devdb import libpq_params, url_of

# The broker this run was given (so that test runs side by side each have their own Redis db), db 3
# without one. The tests empty it before and after.
BROKER = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/3"
ROOT = Path(__file__).resolve().parents[2]


def wait_until(predicate, timeout=20.0, step=0.2, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {message}")


def _dsn(**extra):
    dsn = url_of(connection.settings_dict)
    return dsn + ("?" + "&".join(f"{k}={v}" for k, v in extra.items()) if extra else "")


class Worker:
    """A ``celery -A casemgmt worker`` process group against the test database and ``BROKER``."""

    def __init__(self, tmp_path, name, concurrency=2, **env):
        self.log = tmp_path / f"{name}.log"
        environment = {
            **os.environ, "DATABASE_URL": env.pop("DATABASE_URL", _dsn()), "CELERY_BROKER_URL": BROKER,
            "CONN_MAX_AGE": "0", "SMS_BACKEND": "tests.scheduling.fakes.FileRecordingSMSBackend",
            "SMS_RECORD_PATH": str(tmp_path / "sms.jsonl"), "NOTIFICATION_DIGEST_TIME": "00:00",
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend", "PYTHONPATH": str(ROOT), **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "casemgmt", "worker", "--loglevel=INFO", f"--concurrency={concurrency}",
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


def _locked_notifications():
    """Hold a lock that makes every INSERT into the inbox wait, from a connection of our own."""
    lock = psycopg.connect(**libpq_params(connection.settings_dict), autocommit=False)
    lock.execute("LOCK TABLE core_notification IN SHARE ROW EXCLUSIVE MODE")
    return lock


def _waiting_inserts():
    with psycopg.connect(**libpq_params(connection.settings_dict), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query ~* '^\\s*INSERT INTO \"?core_notification\"? '"
        ).fetchone()[0]
