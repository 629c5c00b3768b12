"""Scheduled upkeep of the report tallies (``reports.aggregates``)."""
from celery import shared_task

from casemgmt.core import jobs
from casemgmt.core.tasks import RETRY


@shared_task(name="reports.aggregates_rebuild", **RETRY)
def aggregates_rebuild():
    """Recompute the tallies from the records: exact again after a bulk load, and any drift is logged."""
    return jobs.jobs_start("reports.aggregates_rebuild")
