"""Scheduled work about services: insurance renewals and the monthly birthday lists."""
from celery import shared_task

from casemgmt.core.tasks import RETRY

from . import birthdays, reminders


@shared_task(name="services.insurance_sweep", **RETRY)
def insurance_sweep():
    return reminders.insurance_sweep()


@shared_task(name="services.birthday_lists", **RETRY)
def birthday_lists():
    return birthdays.birthday_lists_send()
