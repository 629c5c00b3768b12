"""Settings of the benchmark server: the project's settings, the bare-limit views mounted beside the
real API, throttles lifted so that the loop measures the work, not the 3000/hour cap, and DEBUG off
as in production (with it on, Django records every statement and renders its parameters into it).
The development secrets stay: the dataset was encrypted with them."""
from casemgmt.settings import *  # noqa: F403
from casemgmt.settings import REST_FRAMEWORK

ROOT_URLCONF = "bench.urls"
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "1000000/hour", "anon": "1000000/hour"}}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
DEBUG = False
