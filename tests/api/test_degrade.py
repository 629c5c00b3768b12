"""Degrade, don't fail: the API with its cache, database or broker away.

A Redis of the test's own (on a free port, started and killed here) stands for the shared cache
and the broker, so an outage is a real refused connection, not a mock.
"""
import logging
import socket
import subprocess
import threading
import time

import pytest
import redis
from django.core.cache import caches
from django.db import OperationalError
from kombu.exceptions import OperationalError as BrokerError

from casemgmt.api import views as api_views
from casemgmt.celery import app as celery_app
from casemgmt.core import cache as degrading
from casemgmt.core import reach
from casemgmt.core.cache import DegradingRedisCache, take_token
from casemgmt.core.models import Delivery
from volunteers.models import Enrollment, Volunteer

from .test_volunteers_api import make_session


class RedisServer:
    """A redis-server of this test's own; ``stop()`` and ``start()`` again on the same port."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_cache(redis_server, settings, monkeypatch):
    settings.CACHES = {"default": {"BACKEND": "casemgmt.core.cache.DegradingRedisCache",
                                   "LOCATION": redis_server.url}}
    monkeypatch.setattr(DegradingRedisCache, "RETRY_AFTER", 0.2)
    cache = caches["default"]
    assert isinstance(cache, DegradingRedisCache)
    return cache


@pytest.fixture
def rate(settings):
    from rest_framework.settings import api_settings

    def set_rate(value):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                                   "DEFAULT_THROTTLE_RATES": {"user": value, "anon": value}}
        api_settings.reload()
    yield set_rate
    api_settings.reload()


def broker_away(monkeypatch):
    # Celery reads the broker's address from the environment before its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(celery_app, "_pool", None)
    assert celery_app.conf.broker_url == "redis://127.0.0.1:1/0"


def cache_warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == degrading.__name__]


def test_the_cache_away_under_api_load_degrades_to_each_process_and_comes_back(
        world, client_for, client, redis_server, redis_cache, rate, caplog):
    caplog.set_level(logging.WARNING)
    rate("20/minute burst 20")
    alice = client_for("alice")
    assert [alice.get("/api/v1/users/me/").status_code for _ in range(5)] == [200] * 5
    assert client.get("/healthz").json()["cache"] == {"status": "ok", "backend": "redis"}
    shared = redis.Redis.from_url(redis_server.url)
    assert any(b"throttle_user" in key for key in shared.keys("*"))  # the bucket is in Redis

    redis_server.stop()
    responses = [alice.get("/api/v1/users/me/") for _ in range(30)]
    responses += [client_for("bob").get("/api/v1/families/") for _ in range(5)]
    # Every answer is the API's own: no server error; the limit still holds, in this process's memory.
    assert all(r.status_code < 500 and r["Content-Type"] == "application/json" for r in responses)
    codes = [r.status_code for r in responses[:30]]
    assert codes == [200] * 20 + [429] * 10
    assert int(responses[29]["Retry-After"]) <= 3
    assert {r.status_code for r in responses[30:]} == {200}
    warnings = cache_warnings(caplog)
    assert len(warnings) == 1 and "degraded" in warnings[0]  # once for the outage, not per request
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["cache"] == {"status": "degraded-fallback", "backend": "redis"}
    assert health.json()["database"] == {"status": "ok"}

    redis_server.start()
    time.sleep(0.25)  # the interval before Redis is tried again
    assert alice.get("/api/v1/users/me/").status_code == 200  # Redis's bucket, not the spent one
    assert not redis_cache.degraded
    assert any(b"throttle_user" in key for key in redis.Redis.from_url(redis_server.url).keys("*"))
    assert client.get("/healthz").json()["cache"]["status"] == "ok"
    assert len(cache_warnings(caplog)) == 2 and "again" in cache_warnings(caplog)[1]


def test_the_health_check_sees_redis_come_back_without_traffic(redis_server, redis_cache, db, client):
    redis_server.stop()
    assert client.get("/healthz").json()["cache"]["status"] == "degraded-fallback"
    redis_server.start()
    time.sleep(0.25)
    assert client.get("/healthz").json()["cache"]["status"] == "ok"


def test_thirty_clients_of_one_user_share_one_bucket_in_redis(redis_cache):
    # Many web processes and threads at once: the bucket is taken atomically, never overdrawn.
    allowed, lock = [], threading.Lock()

    def client():
        for _ in range(10):
            wait = take_token(redis_cache, "bucket", now=time.time(), interval=60.0, capacity=50 * 60.0)
            with lock:
                allowed.append(wait == 0)

    threads = [threading.Thread(target=client) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 50 and len(allowed) == 300
    wait = take_token(redis_cache, "bucket", now=time.time(), interval=60.0, capacity=50 * 60.0)
    assert 0 < wait <= 61  # one token's time, not the whole bucket's


def test_the_whole_burst_of_a_fractional_rate_in_redis(redis_cache):
    # 3,000 an hour is a token every 1.2 s: the stored time must not drift by rounding at each request.
    now = 1_800_000_000.0
    waits = [take_token(redis_cache, "backlog", now=now, interval=1.2, capacity=300 * 1.2) for _ in range(301)]
    assert waits[:300] == [0] * 300 and 1.1 < waits[300] < 1.21  # one token's time


def test_the_broker_away_is_reported_without_failing_the_health_check(db, client, settings, monkeypatch):
    broker_away(monkeypatch)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["broker"] == {"status": "down"} and body["database"]["status"] == "ok"


def test_the_database_away_turns_the_health_check_503(db, client, monkeypatch):
    def refused(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr("django.db.backends.base.base.BaseDatabaseWrapper.cursor", refused)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "down" and response.json()["database"] == {"status": "down"}


# ---- the API's error shape ----------------------------------------------------------------------

def _raising(exc):
    def get(self, request):
        raise exc
    return get


def test_a_server_error_under_the_api_is_its_json_shape_without_the_exception_text(world, client_for, monkeypatch):
    monkeypatch.setattr(api_views.MeView, "get", _raising(RuntimeError("secret: 350622199001011234")))
    alice = client_for("alice", "en")
    alice.raise_request_exception = False
    response = alice.get("/api/v1/users/me/")
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "errors"} and body["errors"][0]["code"] == "server_error"
    assert "secret" not in response.content.decode() and "Server Error (500)" not in response.content.decode()


@pytest.mark.parametrize(("exc", "what"), [
    (OperationalError("server closed the connection unexpectedly"), "database"),
    (BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused."), "broker"),
    (redis.ConnectionError("Error 111 connecting"), "broker"),
])
def test_a_missing_database_or_broker_is_503_with_retry_after(world, client_for, monkeypatch, exc, what, caplog):
    monkeypatch.setattr(api_views.MeView, "get", _raising(exc))
    response = client_for("alice", "en").get("/api/v1/users/me/")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    body = response.json()
    assert body["errors"][0]["code"] == "unavailable" and "connect" not in body["detail"]
    assert any(what in r.getMessage() for r in caplog.records)


def test_the_database_away_before_any_view_is_still_json_under_the_api(world, client_for, client, monkeypatch):
    # Raised in a middleware, outside DRF: Django's handler500 answers, in the API's shape.
    def refused(self, request):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(reach.GrantMemoMiddleware, "__call__", refused)
    alice = client_for("alice", "zh-hans")
    alice.raise_request_exception = False
    response = alice.get("/api/v1/users/me/")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response.json()["errors"][0]["code"] == "unavailable"
    assert response.json()["detail"] == "服务暂时不可用，请稍后重试。"  # in the language asked for
    # A page outside the API stays HTML, with 503 too.
    client.raise_request_exception = False
    page = client.get("/admin/login/")
    assert page.status_code == 503 and page["Content-Type"].startswith("text/html")

    def broken(self, request):
        raise RuntimeError("secret")

    monkeypatch.setattr(reach.GrantMemoMiddleware, "__call__", broken)
    other = client_for("alice", "en")
    other.raise_request_exception = False
    response = other.get("/api/v1/regions/")
    assert response.status_code == 500 and response.json()["errors"][0]["code"] == "server_error"
    assert "secret" not in response.content.decode()


def test_the_broker_away_when_an_action_enqueues_still_answers_the_action(
        world, client_for, monkeypatch, caplog, django_capture_on_commit_callbacks, settings):
    # Sending is queued after commit, and a broker that is away is logged, not answered with an
    # error: the write is done, and the dispatcher sends what is due when the broker is back.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    broker_away(monkeypatch)
    # A logging setup run earlier in the session (a worker's, settings' LOGGING again) may have
    # disabled loggers that existed then; this test reads what the enqueue logs.
    monkeypatch.setattr(logging.getLogger("casemgmt.core.tasks"), "disabled", False)
    world.people["volunteer"].email = "volunteer@example.org"  # so the promotion is sent at once
    world.people["volunteer"].save(update_fields=["email"])
    session = make_session(world.regions["zhangpu"], capacity=1)
    volunteer = Volunteer.objects.get(user=world.people["volunteer"])
    other = Volunteer.objects.create(name="陈明", region=world.regions["zhangpu"])
    first = Enrollment.objects.create(session=session, volunteer=other)
    waiting = Enrollment.objects.create(session=session, volunteer=volunteer, status=Enrollment.Status.WAITLISTED)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("coordinator", "en").post(f"/api/v1/training-enrollments/{first.pk}/cancel/")
    assert response.status_code == 200
    waiting.refresh_from_db()
    assert waiting.status == Enrollment.Status.ENROLLED
    assert Delivery.objects.filter(recipient=world.people["volunteer"], status="pending").exists()
    assert any("Could not enqueue" in r.getMessage() for r in caplog.records)
