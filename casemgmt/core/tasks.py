"""Celery plumbing shared by every app, and the tasks that send notifications.

Tasks are thin doors into services: they take ids, are safe to run twice, and retry (a bounded
number of times) only on errors that go away by themselves — a database or broker hiccup.
"""
import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import OperationalError, transaction
from redis.exceptions import ConnectionError as RedisConnectionError

from . import jobs, notifications

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


def _resume_later(task, exc, **kwargs):
    """The retry of a task whose provider took a message it could not record: it resumes that very
    attempt (``resume``: the keys) instead of leaving it to the lease."""
    resume = [*kwargs.pop("resume", ()), exc.key]
    return task.retry(kwargs={**kwargs, "resume": resume}, exc=exc, countdown=min(2 ** task.request.retries, 60))


@shared_task(name="core.send_deliveries", bind=True, **RETRY)
def send_deliveries(self, recipient_id, resume=()):
    sent = 0
    for channel in ("email", "sms"):
        try:
            sent += notifications.deliveries_send(recipient_id=recipient_id, channel=channel, resume=resume)
        except notifications.OutcomeUnrecorded as exc:
            raise _resume_later(self, exc, recipient_id=recipient_id, resume=resume) from exc
    return sent


@shared_task(name="core.dispatch_deliveries", bind=True, **RETRY)
def dispatch_deliveries(self, resume=()):
    try:
        return notifications.deliveries_dispatch(resume=resume)
    except notifications.OutcomeUnrecorded as exc:
        raise _resume_later(self, exc, resume=resume) from exc


@shared_task(name="core.jobs_catch_up", **RETRY)
def jobs_catch_up(force=False):
    """Publish every scheduled run that is due and not done (``casemgmt.core.jobs``)."""
    return jobs.jobs_catch_up(force=force)


@shared_task(name="core.job_run", **RETRY)
def job_run(name, period, region_path=""):
    return jobs.job_run(name=name, period=period, region_path=region_path)


@worker_ready.connect
def _catch_up_when_a_worker_starts(sender=None, **kwargs):
    # After a night without workers the queue may hold nothing at all: a worker that starts asks for
    # everything due and not done, whether or not it was published before.
    try:
        jobs_catch_up.apply_async(kwargs={"force": True}, retry=False)
    except Exception:
        logger.exception("Could not enqueue the catch-up of scheduled work; the next beat tick will.")
