"""Scheduled work about services: insurance renewals and the monthly birthday lists."""
import datetime

from celery import shared_task

from casemgmt.core import jobs
from casemgmt.core.tasks import RETRY

from . import birthdays, reminders

jobs.register(jobs.Job("services.insurance_sweep", jobs.DAY, lambda start, region_path: reminders.insurance_sweep(today=start)))
jobs.register(jobs.Job("services.birthday_lists", jobs.MONTH,
                       lambda start, region_path: birthdays.birthday_lists_send(today=start),
                       window=datetime.timedelta(days=14)))


@shared_task(name="services.insurance_sweep", **RETRY)
def insurance_sweep():
    return jobs.jobs_start("services.insurance_sweep")


@shared_task(name="services.birthday_lists", **RETRY)
def birthday_lists():
    return jobs.jobs_start("services.birthday_lists")
