"""Celery plumbing shared by every app, and the tasks that send notifications.

Tasks are thin doors into services: they take ids, are safe to run twice, and retry (a bounded
number of times) only on errors that go away by themselves — a database or broker hiccup.
"""
import logging

from celery import shared_task
from django.db import OperationalError, transaction
from redis.exceptions import ConnectionError as RedisConnectionError

from . import notifications

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, RedisConnectionError)
RETRY = {
    "autoretry_for": TRANSIENT_ERRORS,
    "max_retries": 5,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": False,
    "acks_late": True,
    "reject_on_worker_lost": True,
}


def enqueue(task, *args, **kwargs):
    """Send ``task`` to the broker after the current transaction commits.

    A broker outage must never break the web request that caused it: the failure is logged, and the
    due rows already in the database are picked up by the next sweep or dispatcher run.
    """

    def publish():
        try:
            task.apply_async(args=args, kwargs=kwargs, retry=False)
        except Exception:
            logger.exception("Could not enqueue %s; the next scheduled run will catch up.", task.name)

    transaction.on_commit(publish, robust=True)


@shared_task(name="core.send_deliveries", **RETRY)
def send_deliveries(recipient_id):
    sent = 0
    for channel in ("email", "sms"):
        sent += notifications.deliveries_send(recipient_id=recipient_id, channel=channel)
    return sent


@shared_task(name="core.dispatch_deliveries", **RETRY)
def dispatch_deliveries():
    return notifications.deliveries_dispatch()
