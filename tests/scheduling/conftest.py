import pytest

from casemgmt.celery import app as celery_app

from .fakes import RecordingSMSBackend


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
