"""Faults as an operator meets them, with a Redis of the test's own (started on a free port and killed)
and real Celery workers: the broker down at beat's tick, the broker flushed mid-sweep, the database
connection dropped between the provider call and its record. Each ends with every reminder created
once and sent once."""
import datetime
import json
import os
import signal
import socket
import subprocess
import time

import pytest
import redis
from django.utils import timezone

from casemgmt.core import jobs
from casemgmt.core.models import Delivery, JobRun, Notification
from casemgmt.core.tasks import jobs_catch_up
from families import tasks as family_tasks

from .harness import _locked_notifications, _waiting_inserts, assert_each_reminder_sent_once, use_broker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CHECKIN = "families.checkin_sweep"


def _free_port(first=6391):
    for port in range(first, first + 100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port for a Redis of our own")


class RedisServer:
    """A ``redis-server`` of this test alone, without persistence: killing it loses everything queued."""

    def __init__(self, tmp_path):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.tmp_path = tmp_path
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp_path)],
            stdout=(self.tmp_path / "redis.log").open("a"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        client = redis.Redis(port=self.port)
        wait_until(lambda: self._ping(client), 10, 0.05, "redis to answer")

    @staticmethod
    def _ping(client):
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    def kill(self):
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def client(self):
        return redis.Redis(port=self.port)


@pytest.fixture
def own_redis(tmp_path):
    from casemgmt.celery import app as celery_app

    server = RedisServer(tmp_path)
    previous = celery_app.conf.broker_url, celery_app.conf.task_always_eager, os.environ.get("CELERY_BROKER_URL")
    celery_app.conf.task_always_eager = False
    use_broker(server.url)
    yield server
    celery_app.conf.task_always_eager = previous[1]
    use_broker(previous[0], env_url=previous[2])
    server.kill()


def _ledger():
    return sorted(JobRun.objects.filter(job=CHECKIN).values_list("region_path", "outcome", "attempts", "counts"))


DONE_ONCE = [("350622", "done", 1, {"created": 1}), ("350623", "done", 1, {"created": 2})]


def test_broker_down_at_the_tick_the_sweep_runs_once_when_it_is_back(overdue, schedule, own_redis, workers, tmp_path):
    schedule.only(CHECKIN, fired=timezone.now() - datetime.timedelta(minutes=1))
    own_redis.kill()
    # Beat's tick: publishing fails ("Couldn't apply scheduled task ... Error 111") and beat moves on.
    with pytest.raises(Exception, match="111|refused"):
        family_tasks.checkin_sweep.apply_async(retry=False)
    assert not JobRun.objects.exists() and not Notification.objects.exists()

    own_redis.start()
    workers("w1", CELERY_BROKER_URL=own_redis.url)  # a worker's start asks for what is due and not done
    assert_each_reminder_sent_once(tmp_path, 3)
    assert _ledger() == DONE_ONCE
    # The next catch-up tick and another worker's start find the day done.
    jobs_catch_up.delay()
    workers("w2", CELERY_BROKER_URL=own_redis.url)
    time.sleep(3)
    assert _ledger() == DONE_ONCE
    assert_each_reminder_sent_once(tmp_path, 3)


def test_broker_flushed_mid_sweep_every_county_is_swept_once(overdue, schedule, own_redis, workers, tmp_path,
                                                              settings):
    schedule.only(CHECKIN, fired=timezone.now() - datetime.timedelta(minutes=1))
    broker = own_redis.client()
    lock = _locked_notifications()
    try:
        # One process: the first county's run blocks mid-way, the second waits in the queue.
        workers("w1", concurrency=1, CELERY_BROKER_URL=own_redis.url)
        wait_until(lambda: _waiting_inserts() == 1, 60, message="the first county's run to block mid-way")
        wait_until(lambda: broker.llen("celery") == 1, 10, message="the second county's run in the queue")
        broker.flushdb()
    finally:
        lock.rollback()
        lock.close()
    wait_until(lambda: JobRun.objects.filter(job=CHECKIN, outcome="done").count() == 1, 30,
               message="the first county's run to finish")
    time.sleep(1)
    assert JobRun.objects.filter(job=CHECKIN, outcome="pending").count() == 1  # its message is gone
    # The beat's next catch-up tick, once the lost run's enqueue is older than the republishing lease.
    settings.JOBS_REPUBLISH_AFTER = datetime.timedelta(0)
    assert jobs.jobs_catch_up() == 1
    assert_each_reminder_sent_once(tmp_path, 3)
    assert _ledger() == DONE_ONCE


def _gateway_requests(tmp_path):
    path = tmp_path / "sms.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_database_dropped_after_the_provider_call_each_reminder_reaches_the_phone_once(
        overdue, schedule, own_redis, workers, tmp_path):
    workers("w1", CELERY_BROKER_URL=own_redis.url, SMS_BACKEND="tests.scheduling.fakes.FileDroppingDedupSMSGateway")
    family_tasks.checkin_sweep.delay(timezone.localdate().isoformat())
    wait_until(lambda: Delivery.objects.filter(channel="sms", status="sent").count() == 3, 60,
               message="3 SMS deliveries recorded")
    time.sleep(1.0)  # give a duplicate the chance to show up
    requests = _gateway_requests(tmp_path)
    delivered = {}
    for request in requests:
        delivered.setdefault(request["key"], request["text"])  # what a deduplicating gateway passes on
    texts = "\n".join(delivered.values())
    titles = list(Notification.objects.filter(kind__startswith="checkin.").values_list("title", flat=True))
    assert len(titles) == 3 and all(texts.count(title) == 1 for title in titles)
    # Each message's record was lost once: it was sent again under the same key, never under a new one.
    keys = set(Delivery.objects.values_list("claim_token", flat=True))
    assert set(delivered) == keys and len(keys) == 3
    assert len(requests) == 6
