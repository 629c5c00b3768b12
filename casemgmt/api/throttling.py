"""Per-user and per-address request rates, read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``
at each request (DRF reads them once at import), so settings and tests can change them.

A rate is a token bucket: ``"3000/hour burst 300"`` holds up to 300 requests and refills one every
1.2 s (3,000 an hour). A field worker's day of offline work goes through at once, and a client that
runs dry waits seconds for the next token, not the rest of an hour. Without ``burst`` the bucket
holds the whole rate (``"3/minute"``: three at once, then one every 20 s).

Imports are not interactive calls: one upload carries thousands of records and would otherwise
spend a clerk's allowance for the day's work in the workspace. Their views count in a bucket of their
own (``ImportThrottle``, scope ``import``); the size of each upload is capped by the importer
(``IMPORT_MAX_*``). A replay of an answered ``Idempotency-Key`` is answered before any bucket is
asked (``viewsets.ScopedViewSetMixin.initial``).

The bucket is one number in the cache, updated atomically in Redis (``casemgmt.core.cache``), so
several web processes share it; it keeps working per process while the cache is away.
"""
import re

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from casemgmt.core.cache import take_token

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE = re.compile(r"^\s*(\d+)\s*/\s*([smhd])[a-z]*\s*(?:burst\s+(\d+))?\s*$")


def parse_rate(rate):
    """``"3000/hour burst 300"`` → (seconds between tokens, burst): (1.2, 300)."""
    match = RATE.match(rate)
    if not match:
        raise ImproperlyConfigured(f"Not a rate: {rate!r} (e.g. '3000/hour burst 300').")
    count, period, burst = int(match[1]), PERIODS[match[2]], match[3]
    burst = count if burst is None else int(burst)
    if count <= 0 or burst <= 0:
        return None, 0  # nothing ever allowed
    return period / count, burst


class TokenBucketMixin:
    """For a DRF ``SimpleRateThrottle``: the same keys and answers, counted as a token bucket."""

    def __init__(self):
        # DRF's __init__ parses the rate into (num_requests, duration); a bucket needs other numbers.
        self.rate = self.get_rate()
        self.interval, self.burst = parse_rate(self.rate) if self.rate is not None else (None, None)
        self._wait = None

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        if self.interval is None:
            return False  # a zero rate: never, and no Retry-After to give
        # The burst is how far ahead of now the bucket's "arrival time" may run: burst × interval.
        self._wait = take_token(self.cache, self.key, now=self.timer(), interval=self.interval,
                                capacity=self.burst * self.interval)
        return self._wait == 0

    def wait(self):
        """Seconds until the next request will be allowed (DRF rounds it up for ``Retry-After``)."""
        return self._wait


class UserThrottle(TokenBucketMixin, UserRateThrottle):
    scope = "user"


class AnonThrottle(TokenBucketMixin, AnonRateThrottle):
    scope = "anon"


class ImportThrottle(TokenBucketMixin, UserRateThrottle):
    """Uploads of import files, per user, apart from the interactive ``user`` rate."""

    scope = "import"
