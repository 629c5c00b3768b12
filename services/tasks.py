"""Scheduled work about services: insurance renewals and the monthly birthday lists."""
from celery import shared_task

from casemgmt.core import jobs
from casemgmt.core.tasks import RETRY


@shared_task(name="services.insurance_sweep", **RETRY)
def insurance_sweep():
    return jobs.jobs_start("services.insurance_sweep")


@shared_task(name="services.birthday_lists", **RETRY)
def birthday_lists():
    return jobs.jobs_start("services.birthday_lists")
