"""A Redis cache that degrades instead of failing, and the one atomic operation rate limits need.

Rate limits (``casemgmt.api.throttling``) read the cache on every API request, so a Redis outage
would otherwise turn each of them into a server error. ``DegradingRedisCache`` answers from a
per-process in-memory cache while Redis cannot be reached: limits then count per process (looser by
the number of web processes) but the API keeps answering. The outage is logged once, not per
request; Redis is tried again every ``RETRY_AFTER`` seconds, and used again as soon as it answers.
``cache_health()`` tells ``/healthz`` which of the two is in use.
"""
import logging
import threading
import time

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

# Atomic in Redis: a token bucket kept as its "theoretical arrival time" (GCRA). Each request moves
# the time on by ``interval``; a request is allowed while that time is at most ``capacity`` seconds
# (the burst) ahead of now, give or take a rounding error. Answers the seconds to wait, 0 when allowed.
_TAKE_TOKEN = """
local now, interval, capacity = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local after = tat + interval
local wait = after - now - capacity
if wait > 0.001 then return tostring(wait) end
redis.call('SET', KEYS[1], string.format('%.6f', after), 'PX', math.ceil((after - now) * 1000) + 1000)
return '0'
"""

_local_lock = threading.Lock()


def _take_token_locally(cache, key, *, now, interval, capacity):
    """The same bucket in a cache of this process only (read and written under one lock)."""
    with _local_lock:
        tat = max(cache.get(key) or now, now)
        after = tat + interval
        wait = after - now - capacity
        if wait > 0.001:  # sums of a fractional interval near 1.8e9 s drift by rounding: not a request
            return wait
        cache.set(key, after, timeout=int(after - now) + 1)
        return 0


def take_token(cache, key, *, now, interval, capacity):
    """Take one request from the bucket ``key``: refilled one token every ``interval`` seconds,
    holding at most ``capacity / interval`` tokens. Returns 0 when allowed, else the seconds until a
    token is there (nothing is taken then)."""
    if isinstance(cache, DegradingRedisCache):
        return cache.take_token(key, now=now, interval=interval, capacity=capacity)
    return _take_token_locally(cache, key, now=now, interval=interval, capacity=capacity)


def _degrading(name):
    def method(self, *args, **kwargs):
        return self._call(name, *args, **kwargs)
    method.__doc__ = getattr(RedisCache, name).__doc__
    method.__name__ = name
    return method


class DegradingRedisCache(RedisCache):
    """Django's ``RedisCache`` that falls back to a ``LocMemCache`` of this process while Redis is away."""

    RETRY_AFTER = 5.0  # seconds between attempts to reach Redis again while degraded

    def __init__(self, server, params):
        options = dict(params.get("OPTIONS") or {})
        # A Redis that hangs must not hold a request long: fail fast, then serve from memory.
        options.setdefault("socket_connect_timeout", 0.5)
        options.setdefault("socket_timeout", 0.5)
        super().__init__(server, {**params, "OPTIONS": options})
        self.fallback = LocMemCache(f"degraded-{id(self)}", {
            "TIMEOUT": params.get("TIMEOUT", 300), "KEY_PREFIX": params.get("KEY_PREFIX", ""),
            "VERSION": params.get("VERSION", 1), "OPTIONS": {"MAX_ENTRIES": 10_000},
        })
        self.down_since = None  # the time of the failure that began the outage
        self._retry_at = 0.0
        self._state_lock = threading.Lock()

    @property
    def degraded(self):
        return self.down_since is not None

    def _failed(self, exc):
        with self._state_lock:
            first = self.down_since is None
            if first:
                self.down_since = time.time()
            self._retry_at = time.monotonic() + self.RETRY_AFTER
        if first:
            logger.warning("Cache unreachable (%s); degraded to a per-process cache until it answers again.",
                           type(exc).__name__)

    def _recovered(self):
        with self._state_lock:
            was_down, self.down_since = self.down_since is not None, None
        if was_down:
            logger.warning("Cache reachable again; no longer degraded.")

    def _redis_now(self):
        """Whether to try Redis for this call: always when up, once every RETRY_AFTER when down."""
        return self.down_since is None or time.monotonic() >= self._retry_at

    def _call(self, name, *args, **kwargs):
        if self._redis_now():
            try:
                result = getattr(RedisCache, name)(self, *args, **kwargs)
            except UNREACHABLE as exc:
                self._failed(exc)
            else:
                if self.down_since is not None:
                    self._recovered()
                return result
        return getattr(self.fallback, name)(*args, **kwargs)

    def take_token(self, key, *, now, interval, capacity):
        if self._redis_now():
            try:
                client = self._cache.get_client(write=True)
                wait = float(client.eval(_TAKE_TOKEN, 1, self.make_and_validate_key(key), repr(now),
                                         repr(interval), repr(capacity)))
            except UNREACHABLE as exc:
                self._failed(exc)
            else:
                if self.down_since is not None:
                    self._recovered()
            return wait
        return _take_token_locally(self.fallback, key, now=now, interval=interval, capacity=capacity)


for _name in ("add", "get", "set", "touch", "delete", "get_many", "has_key", "incr", "set_many", "delete_many",
              "clear"):
    setattr(DegradingRedisCache, _name, _degrading(_name))


def cache_health(alias="default"):
    """``{"status": "ok" | "degraded-fallback", "backend": ...}`` for ``/healthz``. A degraded cache is
    probed here too, so the health check sees Redis come back without waiting for traffic."""
    cache = caches[alias]
    if isinstance(cache, DegradingRedisCache):
        cache.has_key("healthz-probe")
        if cache.degraded:
            return {"status": "degraded-fallback", "backend": "redis"}
        return {"status": "ok", "backend": "redis"}
    return {"status": "ok", "backend": type(cache).__name__}
