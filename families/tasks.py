"""Scheduled family care: thin tasks that split a sweep by county and call ``families.reminders``.

A sweep task carries the day it sweeps, so a retried or redelivered message does the same work;
the unique keys in the database make a second run a no-op.
"""
import datetime

from celery import shared_task
from django.db.models.functions import Substr
from django.utils import timezone

from casemgmt.core.tasks import RETRY, dispatch_deliveries, enqueue

from . import reminders
from .models import Family


def county_partitions():
    """Six-digit county prefixes that have open families: one task each, so workers share a sweep."""
    return list(
        Family.objects.filter(status__in=reminders.OPEN_STATUSES).annotate(county=Substr("region_path", 1, 6))
        .values_list("county", flat=True).distinct().order_by("county")
    )


def _day(value):
    return datetime.date.fromisoformat(value) if value else timezone.localdate()


@shared_task(name="families.checkin_sweep", **RETRY)
def checkin_sweep(day=None):
    day = day or timezone.localdate().isoformat()
    for path in county_partitions():
        enqueue(checkin_sweep_region, path, day)
    # Whatever was due and never left (a flushed broker, a dead worker) goes out now.
    enqueue(dispatch_deliveries)


@shared_task(name="families.checkin_sweep_region", **RETRY)
def checkin_sweep_region(region_path, day=None):
    return reminders.checkin_sweep(today=_day(day), region_path=region_path)


@shared_task(name="families.sensitive_dates_sweep", **RETRY)
def sensitive_dates_sweep(day=None):
    day = day or timezone.localdate().isoformat()
    for path in county_partitions():
        enqueue(sensitive_dates_sweep_region, path, day)


@shared_task(name="families.sensitive_dates_sweep_region", **RETRY)
def sensitive_dates_sweep_region(region_path, day=None):
    return reminders.sensitive_dates_sweep(today=_day(day), region_path=region_path)


@shared_task(name="families.annual_review_open", **RETRY)
def annual_review_open(year=None):
    return reminders.annual_review_open(year=year or timezone.localdate().year)
