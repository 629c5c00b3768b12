"""Scheduled volunteer work: training reminders and expiring qualifications."""
from celery import shared_task

from casemgmt.core.tasks import RETRY

from . import reminders


@shared_task(name="volunteers.training_sweep", **RETRY)
def training_sweep():
    return reminders.training_sweep()
