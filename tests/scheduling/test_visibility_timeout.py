"""A killed worker's task comes back within the visibility timeout, which is minutes, not an hour."""
import os
import subprocess
import sys
import time

import pytest
import redis
from django.utils import timezone

from casemgmt.celery import app as celery_app
from casemgmt.core import tasks as core_tasks
from casemgmt.core.models import Notification
from families import tasks as family_tasks

from .harness import BROKER, ROOT, _locked_notifications, _waiting_inserts, assert_each_reminder_sent_once, use_broker, wait_until

TIMEOUT = 20  # seconds, for the test; deployments get 300 (CELERY_VISIBILITY_TIMEOUT)


def test_the_default_timeout_is_minutes_and_every_wait_fits_in_it():
    env = {k: v for k, v in os.environ.items() if k != "CELERY_VISIBILITY_TIMEOUT"}
    env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/11"
    out = subprocess.run([sys.executable, "-c", "from casemgmt.celery import app; "
                          "o = app.conf.broker_transport_options; print(o['visibility_timeout'], "
                          "o['unacked_restore_interval'] * o['unacked_restore_throttle'])"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.split()
    timeout, sweep = int(out[0]), int(out[1])
    assert timeout == 300
    assert sweep <= timeout / 10  # how long after the timeout a running worker takes the message back
    # A retry waits in the broker as an unacknowledged message: it must come due before the timeout,
    # or a second copy would be delivered while the first still waits.
    assert core_tasks.RETRY["retry_backoff_max"] < timeout


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_killed_workers_task_is_redelivered_within_the_timeout(overdue, workers, tmp_path, regions):
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.update(enabled=False)  # a starting worker catches up nothing else
    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    previous = celery_app.conf.broker_url, celery_app.conf.task_always_eager, os.environ.get("CELERY_BROKER_URL")
    celery_app.conf.task_always_eager = False
    use_broker(BROKER)
    lock = _locked_notifications()
    try:
        first = workers("doomed", concurrency=1, CELERY_VISIBILITY_TIMEOUT=str(TIMEOUT))
        published = time.monotonic()
        family_tasks.checkin_sweep_region.delay(regions["zhangpu"].path, timezone.localdate().isoformat())
        wait_until(lambda: _waiting_inserts() == 1, 60, message="the sweep to block mid-way")
        first.kill()
    finally:
        lock.rollback()
        lock.close()
    # The survivor is up before the message is due again: its start finds nothing to take back, so
    # only its periodic look can return the message, and must within the timeout and a tenth.
    workers("survivor", concurrency=1, CELERY_VISIBILITY_TIMEOUT=str(TIMEOUT))
    assert time.monotonic() - published < TIMEOUT - 2, "the survivor started too late to tell"
    wait_until(lambda: _waiting_inserts() == 0, 30, message="the killed transaction to end")
    assert Notification.objects.count() == 0
    wait_until(lambda: Notification.objects.exists() or time.monotonic() - published > TIMEOUT + 3 + 5, 60, 0.2)
    took = time.monotonic() - published
    assert Notification.objects.exists(), f"nothing redelivered {took:.0f} s after a {TIMEOUT} s timeout"
    assert took >= TIMEOUT - 1, took  # it was the timeout that gave it back, not a restart
    try:
        assert_each_reminder_sent_once(tmp_path, 2)
    finally:
        celery_app.conf.task_always_eager = previous[1]
        use_broker(previous[0], env_url=previous[2])
        client.flushdb()
