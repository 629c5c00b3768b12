"""Scheduled upkeep of the report tallies (``reports.aggregates``)."""
import dataclasses
import datetime

from celery import shared_task

from casemgmt.core import jobs
from casemgmt.core.tasks import RETRY

from . import aggregates

# The rebuild holds the counted tables against writers while it runs: not in the working day.
jobs.register(jobs.Job("reports.aggregates_rebuild", jobs.DAY,
                       lambda start, region_path: dataclasses.asdict(aggregates.rebuild()),
                       window=datetime.timedelta(hours=4), grace=datetime.timedelta(hours=1)))


@shared_task(name="reports.aggregates_rebuild", **RETRY)
def aggregates_rebuild():
    """Recompute the tallies from the records: exact again after a bulk load, and any drift is logged."""
    return jobs.jobs_start("reports.aggregates_rebuild")
