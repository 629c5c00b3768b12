"""Scheduled family care: thin tasks that split a sweep by county and call ``families.reminders``.

A sweep's beat task writes one ledger row per county for its day (``casemgmt.core.jobs``) and
publishes a run for each that is not done; a run carries the day it sweeps, so a retried or
redelivered message does the same work, and the ledger and the unique keys in the database make a
second run a no-op. What a lost message leaves behind, the catch-up publishes again.
"""
import datetime

from celery import shared_task
from django.db.models.functions import Substr
from django.utils import timezone

from casemgmt.core import jobs
from casemgmt.core.tasks import RETRY, dispatch_deliveries, enqueue

from . import reminders
from .models import Family


def county_partitions():
    """Six-digit county prefixes that have open families: one task each, so workers share a sweep."""
    return list(
        Family.objects.filter(status__in=reminders.OPEN_STATUSES).annotate(county=Substr("region_path", 1, 6))
        .values_list("county", flat=True).distinct().order_by("county")
    )


jobs.register(jobs.Job(
    "families.checkin_sweep", jobs.DAY, lambda start, region_path: reminders.checkin_sweep(today=start, region_path=region_path),
    split=county_partitions))
jobs.register(jobs.Job(
    "families.sensitive_dates_sweep", jobs.DAY,
    lambda start, region_path: reminders.sensitive_dates_sweep(today=start, region_path=region_path),
    split=county_partitions))
jobs.register(jobs.Job(
    "families.annual_review_open", jobs.YEAR,
    lambda start, region_path: reminders.annual_review_open(year=start.year, region_path=region_path),
    window=datetime.timedelta(days=31)))


@shared_task(name="families.checkin_sweep", **RETRY)
def checkin_sweep(day=None):
    published = jobs.jobs_start("families.checkin_sweep", day)
    # Whatever was due and never left (a flushed broker, a dead worker) goes out now.
    enqueue(dispatch_deliveries)
    return published


@shared_task(name="families.checkin_sweep_region", **RETRY)
def checkin_sweep_region(region_path, day=None):
    day = day or timezone.localdate().isoformat()
    return jobs.job_run(name="families.checkin_sweep", period=day, region_path=region_path)


@shared_task(name="families.sensitive_dates_sweep", **RETRY)
def sensitive_dates_sweep(day=None):
    return jobs.jobs_start("families.sensitive_dates_sweep", day)


@shared_task(name="families.sensitive_dates_sweep_region", **RETRY)
def sensitive_dates_sweep_region(region_path, day=None):
    day = day or timezone.localdate().isoformat()
    return jobs.job_run(name="families.sensitive_dates_sweep", period=day, region_path=region_path)


@shared_task(name="families.annual_review_open", **RETRY)
def annual_review_open(year=None):
    return jobs.jobs_start("families.annual_review_open", f"{year}-01-01" if year else None)
