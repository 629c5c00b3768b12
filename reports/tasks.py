"""Scheduled upkeep of the report tallies (``reports.aggregates``)."""
from dataclasses import asdict

from celery import shared_task

from casemgmt.core.tasks import RETRY

from . import aggregates


@shared_task(name="reports.aggregates_rebuild", **RETRY)
def aggregates_rebuild():
    """Recompute the tallies from the records: exact again after a bulk load, and any drift is logged."""
    return asdict(aggregates.rebuild())
