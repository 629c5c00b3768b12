"""casemgmt.api.throttling: DRF's rates counted with two integers a user, in the shared cache."""
import pytest
from django.core.cache import cache
from rest_framework.settings import api_settings

from casemgmt.api.throttling import SlidingWindowMixin, UserThrottle


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
    now = {"t": 1_800_000_000.0}  # a minute boundary: 1_800_000_000 is a multiple of 60
    monkeypatch.setattr(UserThrottle, "timer", lambda self: now["t"])
    return now


def test_a_rate_holds_over_a_sliding_window_and_tells_when_to_retry(world, client_for, rate, clock):
    rate("4/minute")
    alice = client_for("alice")

    def codes(n):
        return [alice.get("/api/v1/users/me/").status_code for _ in range(n)]

    clock["t"] += 50  # 10 s before the next minute
    assert codes(3) == [200, 200, 200]
    clock["t"] += 15  # 5 s into the next minute: the three are still within the last 60 s
    assert codes(2) == [200, 429]
    retry = float(alice.get("/api/v1/users/me/").headers["Retry-After"])
    assert 0 < retry <= 60
    # When it says, one more is allowed, and only one.
    clock["t"] += retry
    assert codes(2) == [200, 429]
    # A minute and more after the last request, the whole rate again.
    clock["t"] += 125
    assert codes(5) == [200, 200, 200, 200, 429]
    assert client_for("bob").get("/api/v1/users/me/").status_code == 200  # per user


def test_the_cache_holds_two_integers_a_user_however_many_requests(world, client_for, rate):
    rate("1000/hour")
    alice = client_for("alice")
    for _ in range(30):
        assert alice.get("/api/v1/users/me/").status_code == 200
    throttle = UserThrottle()
    prefix = throttle.cache_format % {"scope": "user", "ident": world.people["alice"].pk}
    window = int(throttle.timer() // 3600)
    assert cache.get(f"{prefix}:{window}") == 30
    assert cache.get(f"{prefix}:{window - 1}") is None


@pytest.mark.parametrize(("current", "previous", "elapsed", "expected"), [
    (0, 0, 0.5, 0), (3, 0, 0.1, 3), (0, 4, 0.0, 4), (0, 4, 0.5, 2), (0, 4, 0.51, 2), (1, 4, 0.99, 2), (2, 3, 1.0, 2),
])
def test_the_estimate_counts_a_request_whole_until_it_has_surely_left(current, previous, elapsed, expected):
    assert SlidingWindowMixin.estimate(current, previous, elapsed) == expected
