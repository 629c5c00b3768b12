"""Per-user and per-address request rates, read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``
at each request (DRF reads them once at import), so settings and tests can change them.

Counted as a sliding-window counter: one integer per window of the rate (an hour for
``3000/hour``), the previous window's count weighted by the share of it still inside the last
hour. DRF's own throttles keep the time of every request in the cache, read and written whole on
each request: up to 3,000 floats pickled twice a request, and sent over the network both ways
with a shared cache (``CACHE_URL``). Here a request reads two integers and increments one, which
a shared cache does atomically, so several web processes count together.
"""
import math

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class SlidingWindowMixin:
    """For a DRF ``SimpleRateThrottle``: the same rates, keys and answers, counted in O(1)."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        current, previous = f"{self.key}:{window}", f"{self.key}:{window - 1}"
        counts = self.cache.get_many([current, previous])
        self.counts = counts.get(current, 0), counts.get(previous, 0)
        if self.estimate(*self.counts, self.elapsed()) >= self.num_requests:
            return self.throttle_failure()
        # The window's count lives two windows: as the current one, then as the previous one.
        if not self.cache.add(current, 1, timeout=2 * self.duration):
            try:
                self.cache.incr(current)
            except ValueError:  # expired between the two calls
                self.cache.add(current, 1, timeout=2 * self.duration)
        return True

    def elapsed(self):
        """How much of the current window has passed, from 0 to 1."""
        return (self.now % self.duration) / self.duration

    @staticmethod
    def estimate(current, previous, elapsed):
        """Requests in the last window's length: the current window's, and the previous window's
        share still inside it, rounded up (a request is counted whole until it has surely left)."""
        return current + math.ceil(previous * (1 - elapsed))

    def wait(self):
        """Whole seconds until the next request will be allowed (the ``Retry-After`` header), never
        too early."""
        current, previous = self.counts
        limit, elapsed = self.num_requests, self.elapsed()
        if limit <= 0:
            return None  # never: no Retry-After to give
        if current >= limit:
            # The next window must begin, and then this one's weight fall to below the limit.
            share = 1 - (limit - 1) / current
            return math.ceil((1 - elapsed + share) * self.duration)
        share = 1 - (limit - current - 1) / previous
        return math.ceil(max(0.0, share - elapsed) * self.duration)


class UserThrottle(SlidingWindowMixin, UserRateThrottle):
    scope = "user"


class AnonThrottle(SlidingWindowMixin, AnonRateThrottle):
    scope = "anon"
