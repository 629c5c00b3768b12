import datetime

import pytest
from django.utils import timezone

from casemgmt.celery import app as celery_app
from casemgmt.core.models import NotificationPreference
from families.models import Family

from .fakes import RecordingSMSBackend
from .harness import Worker


@pytest.fixture
def sms(settings):
    settings.SMS_BACKEND = "tests.scheduling.fakes.RecordingSMSBackend"
    RecordingSMSBackend.sent = []
    return RecordingSMSBackend.sent


@pytest.fixture
def eager():
    """Run enqueued tasks inline (after commit) instead of publishing them to a broker."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def overdue(regions, people, families):
    """Overdue families in two counties; their contacts have phones and no quiet hours."""
    for user in (people["alice"], people["bob"], people["carol"]):
        user.phone = f"1390000{user.pk:04d}"
        user.save()
        NotificationPreference.objects.create(user=user, email=False, quiet_start=datetime.time(0),
                                              quiet_end=datetime.time(0))
    Family.objects.update(next_checkin_due=timezone.localdate() - datetime.timedelta(days=1))
    return families


@pytest.fixture
def schedule(db):
    """The beat rows as ``beat.SCHEDULE`` declares them, all disabled but those a test turns on with
    ``schedule.only(task, fired=...)``: that entry's crontab fires daily at the local time ``fired``."""
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    from casemgmt.core.beat import sync_beat_schedule

    sync_beat_schedule()
    PeriodicTask.objects.update(enabled=False)

    class Schedule:
        @staticmethod
        def only(task, fired):
            local = timezone.localtime(fired)
            crontab = CrontabSchedule.objects.create(minute=str(local.minute), hour=str(local.hour),
                                                     timezone=settings.TIME_ZONE)
            PeriodicTask.objects.filter(task=task).update(enabled=True, crontab=crontab)

    return Schedule()


@pytest.fixture
def workers(tmp_path):
    started = []

    def start(name, **options):
        worker = Worker(tmp_path, name, **options)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
