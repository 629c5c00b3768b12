"""Scheduled volunteer work: training reminders and expiring qualifications."""
from celery import shared_task

from casemgmt.core import jobs
from casemgmt.core.tasks import RETRY


@shared_task(name="volunteers.training_sweep", **RETRY)
def training_sweep():
    return jobs.jobs_start("volunteers.training_sweep")
