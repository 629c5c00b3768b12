"""Scheduled work that catches up: a ledger of which period of which job is done for which region.

Beat only says "now": a tick it could not publish (the broker was away), a fanned-out county task
the broker lost, or a night without workers would otherwise skip a period for good. So every
scheduled job is declared (``register``, by its app's ``tasks`` module) with its period (day, month
or year) and how it splits into regions;
``core.JobRun`` records each (job, period, region) once, and the run's own work happens in the same
transaction that marks its row done. Whatever is due and not done is sent again by the catch-up —
a beat entry every few minutes and every worker's start — and the unique key, the row lock and the
reminders' own dedup keys make a second run a no-op. When a period is due comes from the beat rows
(``django_celery_beat``), so an administrator's edit, or a disabled entry, counts here too.
"""
import dataclasses
import datetime
import json
import logging
import zoneinfo
from collections.abc import Callable

from celery.schedules import crontab
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from .models import JobRun

logger = logging.getLogger(__name__)

DAY, MONTH, YEAR = "day", "month", "year"
# A row enqueued this recently is taken to be in the queue still; the catch-up publishes it again after
# (``settings.JOBS_REPUBLISH_AFTER`` overrides it).
REPUBLISH_AFTER = datetime.timedelta(minutes=5)
# A run that failed this often is left to an operator (the health check shows it overdue).
MAX_ATTEMPTS = 10


@dataclasses.dataclass(frozen=True)
class Job:
    """A scheduled job: ``name`` is the task of its beat entry; ``run(start, region_path)`` does one
    region's work for the period starting on ``start`` (the day itself for daily jobs) and returns
    how many rows it created (or a dict of counts); ``split()`` lists the regions (one country-wide
    run without it). A period missed by more than ``window`` is not caught up (a January worklist in
    June would mislead more than help); one not done ``grace`` after it was due is overdue."""

    name: str
    period: str
    run: Callable
    split: Callable | None = None
    window: datetime.timedelta = datetime.timedelta(days=1)
    grace: datetime.timedelta = datetime.timedelta(minutes=30)


_JOBS = {}


def register(job):
    """Declare ``job`` (each app declares its own in its ``tasks`` module)."""
    _JOBS[job.name] = job
    return job


def registry():
    """{name: Job} of every app: their ``tasks`` modules are imported here once, as the admin finds
    its ``admin`` modules, so the web process knows the jobs a worker runs."""
    autodiscover_modules("tasks")
    return _JOBS


def period_of(job, start):
    """The ledger's name of the period of ``job`` that contains the date ``start``."""
    return {DAY: f"{start:%Y-%m-%d}", MONTH: f"{start:%Y-%m}", YEAR: f"{start:%Y}"}[job.period]


def period_start(job, period):
    """The date ``run`` gets for a period of the ledger: the day, or the first day of the month or year."""
    parts = [int(p) for p in period.split("-")] + [1, 1]
    return datetime.date(*parts[:3])


def last_fire(schedule, now, zone):
    """The latest time at or before ``now`` at which the crontab ``schedule`` fires, in ``zone``."""
    local = now.astimezone(zone)
    times = sorted((h, m) for h in schedule.hour for m in schedule.minute)
    for back in range(0, 5 * 366):
        day = local.date() - datetime.timedelta(days=back)
        if (day.month not in schedule.month_of_year or day.day not in schedule.day_of_month
                or day.isoweekday() % 7 not in schedule.day_of_week):
            continue
        candidates = [t for t in times if back or t <= (local.hour, local.minute)]
        if candidates:
            hour, minute = candidates[-1]
            return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=zone)
    return None


def schedules():
    """{job name: (crontab, zone)} of the enabled beat entry of each job. The beat rows are the
    schedule: a job whose entry an administrator disabled or deleted is not caught up either."""
    from django_celery_beat.models import PeriodicTask

    found = {}
    rows = PeriodicTask.objects.filter(task__in=registry(), enabled=True, crontab__isnull=False).select_related("crontab")
    for row in rows.order_by("id"):
        c = row.crontab
        found.setdefault(row.task, (crontab(minute=c.minute, hour=c.hour, day_of_week=c.day_of_week,
                                             day_of_month=c.day_of_month, month_of_year=c.month_of_year),
                                    zoneinfo.ZoneInfo(str(c.timezone))))
    return found


def due(now=None):
    """``(job, period, due_at)`` of the latest period of each enabled job that has come, within its window."""
    now = now or timezone.now()
    result = []
    for name, (schedule, zone) in schedules().items():
        job = registry()[name]
        fired = last_fire(schedule, now, zone)
        if fired is not None and now - fired <= job.window:
            result.append((job, period_of(job, fired.date()), fired))
    return result


def _publish(rows, *, now, force):
    """Send ``core.job_run`` for each row not enqueued within ``REPUBLISH_AFTER`` (all with ``force``);
    returns how many were published. The conditional UPDATE lets one of two catch-ups at once publish."""
    from .tasks import job_run

    published = 0
    for row in rows:
        if not force:
            after = getattr(settings, "JOBS_REPUBLISH_AFTER", REPUBLISH_AFTER)
            fresh = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - after)
            if not JobRun.objects.filter(fresh, pk=row.pk).update(enqueued_at=now):
                continue
        else:
            JobRun.objects.filter(pk=row.pk).update(enqueued_at=now)
        try:
            job_run.apply_async(args=[row.job, row.period, row.region_path], retry=False)
        except Exception:
            # The broker is away: the next catch-up tries again.
            JobRun.objects.filter(pk=row.pk, enqueued_at=now).update(enqueued_at=row.enqueued_at)
            logger.exception("Could not enqueue %s; the next catch-up tries again.", row)
            break
        published += 1
    return published


def jobs_enqueue(*, job, period, due_at, now=None, force=False):
    """Write the ledger rows of one period of ``job`` (its regions, listed when the period has none yet)
    and publish the runs not done. Returns how many runs were published."""
    now = now or timezone.now()
    rows = JobRun.objects.filter(job=job.name, period=period)
    if not rows.exists():
        regions = job.split() if job.split else [""]
        JobRun.objects.bulk_create(
            [JobRun(job=job.name, period=period, region_path=path, due_at=due_at) for path in regions],
            ignore_conflicts=True,
        )
    open_rows = list(rows.exclude(outcome=JobRun.Outcome.DONE).filter(attempts__lt=MAX_ATTEMPTS).order_by("region_path"))
    return _publish(open_rows, now=now, force=force)


def jobs_catch_up(*, now=None, force=False, names=None):
    """Publish every run that is due and not done: what a lost tick, a flushed queue or a night
    without workers left behind. Cheap when nothing is: one query per due job. Returns runs published."""
    now = now or timezone.now()
    published = 0
    for job, period, due_at in due(now):
        if names is None or job.name in names:
            published += jobs_enqueue(job=job, period=period, due_at=due_at, now=now, force=force)
    return published


def jobs_start(name, day=None):
    """What a job's beat entry does for the period containing ``day`` (ISO date; today when beat fires
    it): a country-wide job runs here and returns its counts (``None`` if done already); a split one
    publishes the runs of its regions not done and returns how many it published."""
    job = registry()[name]
    start = datetime.date.fromisoformat(day) if day else timezone.localdate()
    period = period_of(job, start)
    if job.split is None:
        return job_run(name=name, period=period)
    return jobs_enqueue(job=job, period=period, due_at=timezone.now())


def _counts(result):
    if isinstance(result, dict):
        return json.loads(json.dumps(result, default=str))
    return {"created": result or 0}


def job_run(*, name, period, region_path="", now=None):
    """Do one region's work of one period of a job, once: the row is locked (a second runner skips it)
    and marked done in the transaction that does the work, so a killed worker leaves it to do again and
    a finished one is never done twice. Returns the counts of this run, or ``None`` when another runner
    holds it or it was done already."""
    job = registry()[name]
    now = now or timezone.now()
    # A message published without the catch-up (by hand, or by an earlier version) still gets its row.
    JobRun.objects.bulk_create([JobRun(job=name, period=period, region_path=region_path, due_at=now)],
                               ignore_conflicts=True)
    key = {"job": name, "period": period, "region_path": region_path}
    try:
        with transaction.atomic():
            row = JobRun.objects.select_for_update(skip_locked=True).filter(**key).first()
            if row is None or row.outcome == JobRun.Outcome.DONE:
                return None
            started = timezone.now()
            counts = _counts(job.run(period_start(job, period), region_path))
            JobRun.objects.filter(pk=row.pk).update(
                outcome=JobRun.Outcome.DONE, attempts=F("attempts") + 1, started_at=started,
                finished_at=timezone.now(), counts=counts, error="",
            )
    except Exception as exc:
        try:
            JobRun.objects.filter(**key).exclude(outcome=JobRun.Outcome.DONE).update(
                outcome=JobRun.Outcome.FAILED, attempts=F("attempts") + 1, error=f"{type(exc).__name__}: {exc}"[:500],
            )
        except DatabaseError:  # the database itself is what failed; the retry or the catch-up records it
            logger.warning("Could not record the failure of %s %s %s.", name, period, region_path or "*")
        raise
    logger.info("Scheduled job %s %s %s done: %s", name, period, region_path or "*", counts)
    return counts


def overdue(now=None):
    """The due periods not done ``grace`` after they were due: what the health check reports."""
    now = now or timezone.now()
    late = []
    for job, period, due_at in due(now):
        if now - due_at < job.grace:
            continue
        rows = list(JobRun.objects.filter(job=job.name, period=period).values_list("outcome", flat=True))
        not_done = sum(outcome != JobRun.Outcome.DONE for outcome in rows)
        if not rows or not_done:
            late.append({"job": job.name, "period": period, "due_at": due_at.isoformat(),
                         "regions_not_done": not_done if rows else None})
    return late


def jobs_health(now=None):
    """The ``jobs`` part of the health check: ``overdue`` lists what is due and not done in time."""
    late = overdue(now)
    return {"status": "overdue" if late else "ok", "overdue": late}
