"""casemgmt.api.throttling: a sustained rate with a burst (a token bucket), one number a user in the cache."""
import pytest
from rest_framework.settings import api_settings

from casemgmt.api.throttling import ImportThrottle, UserThrottle, parse_rate
from families.models import CheckIn


@pytest.fixture
def rate(settings):
    def set_rate(value):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                                   "DEFAULT_THROTTLE_RATES": {"user": value, "anon": value}}
        api_settings.reload()
    yield set_rate
    api_settings.reload()


@pytest.fixture
def clock(monkeypatch):
    now = {"t": 1_800_000_000.0}
    monkeypatch.setattr(UserThrottle, "timer", lambda self: now["t"])
    monkeypatch.setattr(ImportThrottle, "timer", lambda self: now["t"])
    return now


def test_a_burst_then_the_sustained_rate_with_a_retry_after_of_seconds(world, client_for, rate, clock):
    rate("60/minute burst 5")  # a token a second, five at most
    alice = client_for("alice")

    def codes(n):
        return [alice.get("/api/v1/users/me/").status_code for _ in range(n)]

    assert codes(6) == [200] * 5 + [429]
    refused = alice.get("/api/v1/users/me/")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json()["errors"][0]["code"] == "throttled"
    # One token a second, never more: after 3 s, three requests.
    clock["t"] += 3
    assert codes(4) == [200, 200, 200, 429]
    # Idle long enough, the whole burst again, and not more than it.
    clock["t"] += 3600
    assert codes(6) == [200] * 5 + [429]
    assert client_for("bob").get("/api/v1/users/me/").status_code == 200  # per user


def test_the_default_lets_a_days_backlog_through_and_then_waits_seconds(world, client_for, clock):
    assert api_settings.DEFAULT_THROTTLE_RATES["user"] == "3000/hour burst 300"
    alice = client_for("alice")
    family = world.families["own"].pk
    # A field worker back online sends 200 check-ins at once.
    for number in range(200):
        response = alice.post("/api/v1/checkins/", {"family": family, "channel": "phone"}, format="json",
                              headers={"Idempotency-Key": f"backlog-{number}"})
        assert response.status_code == 201, response.content
    assert CheckIn.objects.filter(family_id=family).count() >= 200
    # The connection dropped before the answers arrived: the whole backlog again is answered from
    # the stored responses and costs no request.
    for number in range(200):
        response = alice.post("/api/v1/checkins/", {"family": family, "channel": "phone"}, format="json",
                              headers={"Idempotency-Key": f"backlog-{number}"})
        assert response.status_code == 201 and response.headers["Idempotent-Replayed"] == "true"
    codes = [alice.get("/api/v1/users/me/").status_code for _ in range(101)]
    assert codes == [200] * 100 + [429]
    refused = alice.get("/api/v1/users/me/")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 2


def test_rates_read_with_and_without_a_burst():
    assert parse_rate("3000/hour burst 300") == (1.2, 300)
    assert parse_rate("3/minute") == (20.0, 3)  # without a burst: the whole rate at once
    assert parse_rate("10/s") == (0.1, 10)
    assert parse_rate("0/hour") == (None, 0)


def test_imports_count_in_a_bucket_of_their_own(world, client_for, settings, clock):
    from tests.reports.test_record_imports import book

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "user": "60/minute burst 3", "anon": "60/minute burst 3", "import": "60/minute burst 5"}}
    api_settings.reload()
    try:
        manager = client_for("manager")
        url = "/api/v1/reports/imports/sites/"
        rows = [{"kind": "暖心家园", "name": "东门村暖心家园", "region_code": "350623100201"}]
        # Five uploads (more than the interactive burst) go through ...
        codes = [manager.post(url, {"file": book("sites", rows)}, format="multipart").status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        # ... and the interactive allowance is whole after them.
        assert [manager.get("/api/v1/users/me/").status_code for _ in range(4)] == [200, 200, 200, 429]
    finally:
        api_settings.reload()


def test_a_replay_is_answered_when_the_interactive_bucket_is_empty(world, client_for, rate, clock):
    rate("60/minute burst 2")
    alice = client_for("alice")
    family = world.families["own"].pk

    def check_in():
        return alice.post("/api/v1/checkins/", {"family": family, "channel": "phone"}, format="json",
                          headers={"Idempotency-Key": "sent-once"})

    assert check_in().status_code == 201
    assert [alice.get("/api/v1/users/me/").status_code for _ in range(2)] == [200, 429]
    replayed = check_in()
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert alice.get("/api/v1/users/me/").status_code == 429
