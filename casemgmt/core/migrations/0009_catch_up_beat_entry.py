"""Data migration: the beat entry that catches up scheduled work, as ``casemgmt.core.beat`` declares
it (frozen here, so the migration replays what it did whatever the code says later)."""
from django.conf import settings
from django.db import migrations

NAME = "Catch up scheduled work"


def create(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    fields = {"minute": "*/5", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}
    crontab = CrontabSchedule.objects.filter(timezone=settings.TIME_ZONE, **fields).first()
    if crontab is None:
        crontab = CrontabSchedule.objects.create(timezone=settings.TIME_ZONE, **fields)
    PeriodicTask.objects.create(
        name=NAME, task="core.jobs_catch_up", crontab=crontab, expire_seconds=240,
        description="Run every scheduled job whose period is due and not done (a lost tick, a flushed queue).",
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0008_job_ledger_and_attempt_key"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create, remove)]
