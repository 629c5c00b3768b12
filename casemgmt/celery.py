"""The Celery application: tasks are discovered in each app's ``tasks.py``."""
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casemgmt.settings")

app = Celery("casemgmt")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _refuse_keys_that_cannot_read_the_data(**kwargs):
    from casemgmt.core import keys

    keys.verify()
