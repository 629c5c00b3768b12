"""Scheduled volunteer work: training reminders and expiring qualifications."""
from celery import shared_task

from casemgmt.core import jobs
from casemgmt.core.tasks import RETRY

from . import reminders

jobs.register(jobs.Job("volunteers.training_sweep", jobs.DAY,
                       lambda start, region_path: reminders.training_sweep(today=start)))


@shared_task(name="volunteers.training_sweep", **RETRY)
def training_sweep():
    return jobs.jobs_start("volunteers.training_sweep")
