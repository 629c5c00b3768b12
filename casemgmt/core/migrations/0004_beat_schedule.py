"""Data migration: the periodic schedule of its day becomes editable rows. Frozen as
``casemgmt.core.beat`` declared it then, so the migration replays what it did whatever the code says
later: a missing row is created, an existing one only gets its task name corrected."""
from django.conf import settings
from django.db import migrations

SCHEDULE = {
    "Check-in cadence sweep": {
        "task": "families.checkin_sweep", "crontab": {"minute": "0", "hour": "7"},
        "description": "Remind contacts of due and overdue check-ins; escalate long-overdue families.",
    },
    "Sensitive dates": {
        "task": "families.sensitive_dates_sweep", "crontab": {"minute": "30", "hour": "6"},
        "description": "Care-visit tasks ahead of anniversaries, festivals and birthdays.",
    },
    "Insurance renewals": {
        "task": "services.insurance_sweep", "crontab": {"minute": "15", "hour": "7"},
        "description": "Policies ending within 60/30/7 days, lapsed policies, members without cover.",
    },
    "Training reminders": {
        "task": "volunteers.training_sweep", "crontab": {"minute": "0", "hour": "9"},
        "description": "Sessions tomorrow; qualifications expiring within 30 days.",
    },
    "Group birthday lists": {
        "task": "services.birthday_lists", "crontab": {"minute": "0", "hour": "8", "day_of_month": "1"},
        "description": "Next month's birthdays for each Warm Heart Home's coordinator.",
    },
    "Annual review worklist": {
        "task": "families.annual_review_open",
        "crontab": {"minute": "0", "hour": "8", "day_of_month": "2", "month_of_year": "1"},
        "description": "January: the eligibility-review worklist per township.",
    },
    "Send due notifications": {
        "task": "core.dispatch_deliveries", "crontab": {"minute": "*/5"},
        "description": "Send digests and SMS deferred past quiet hours; catch up after a broker outage.",
    },
}


def sync(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    for name, spec in SCHEDULE.items():
        existing = PeriodicTask.objects.filter(name=name).first()
        if existing is not None:
            if existing.task != spec["task"]:
                PeriodicTask.objects.filter(pk=existing.pk).update(task=spec["task"])
            continue
        fields = {"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}
        fields.update(spec["crontab"])
        crontab = CrontabSchedule.objects.filter(timezone=settings.TIME_ZONE, **fields).first()
        if crontab is None:
            crontab = CrontabSchedule.objects.create(timezone=settings.TIME_ZONE, **fields)
        PeriodicTask.objects.create(name=name, task=spec["task"], crontab=crontab, description=spec["description"])


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_notification_preferences_and_outbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
