"""Data migration: the nightly rebuild of the report tallies joins the editable beat schedule.
Frozen as ``casemgmt.core.beat`` declared it then, so the migration replays what it did whatever the
code says later; a row already there (an administrator's) is left alone but for its task name."""
from django.conf import settings
from django.db import migrations

NAME = "Report tallies"
TASK = "reports.aggregates_rebuild"


def create(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    existing = PeriodicTask.objects.filter(name=NAME).first()
    if existing is not None:
        if existing.task != TASK:
            PeriodicTask.objects.filter(pk=existing.pk).update(task=TASK)
        return
    fields = {"minute": "30", "hour": "3", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}
    crontab = CrontabSchedule.objects.filter(timezone=settings.TIME_ZONE, **fields).first()
    if crontab is None:
        crontab = CrontabSchedule.objects.create(timezone=settings.TIME_ZONE, **fields)
    PeriodicTask.objects.create(
        name=NAME, task=TASK, crontab=crontab,
        description="Recompute the report tallies from the records; exact again after bulk loads, drift logged.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0003_build_tallies"),
        ("core", "0004_beat_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
