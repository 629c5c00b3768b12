"""The periodic schedule, declared here and copied into django-celery-beat's tables.

Rows are matched by name. A missing row is created; an existing row keeps what an administrator
set in the admin (enabled, schedule) and only gets its task name corrected, so a deploy never
undoes an edit. Times are local (Asia/Shanghai). Names and descriptions are stored in English, the
name being the row's key; the admin shows them translated (``beat_admin``), so they are marked here.
"""
from django.conf import settings
from django.utils.translation import gettext_noop as _

SCHEDULE = {
    _("Check-in cadence sweep"): {
        "task": "families.checkin_sweep", "crontab": {"minute": "0", "hour": "7"},
        "description": _("Remind contacts of due and overdue check-ins; escalate long-overdue families."),
    },
    _("Sensitive dates"): {
        "task": "families.sensitive_dates_sweep", "crontab": {"minute": "30", "hour": "6"},
        "description": _("Care-visit tasks ahead of anniversaries, festivals and birthdays."),
    },
    _("Insurance renewals"): {
        "task": "services.insurance_sweep", "crontab": {"minute": "15", "hour": "7"},
        "description": _("Policies ending within 60/30/7 days, lapsed policies, members without cover."),
    },
    _("Training reminders"): {
        "task": "volunteers.training_sweep", "crontab": {"minute": "0", "hour": "9"},
        "description": _("Sessions tomorrow; qualifications expiring within 30 days."),
    },
    _("Group birthday lists"): {
        "task": "services.birthday_lists", "crontab": {"minute": "0", "hour": "8", "day_of_month": "1"},
        "description": _("Next month's birthdays for each Warm Heart Home's coordinator."),
    },
    _("Annual review worklist"): {
        "task": "families.annual_review_open",
        "crontab": {"minute": "0", "hour": "8", "day_of_month": "2", "month_of_year": "1"},
        "description": _("January: the eligibility-review worklist per township."),
    },
    _("Report tallies"): {
        "task": "reports.aggregates_rebuild", "crontab": {"minute": "30", "hour": "3"},
        "description": _("Recompute the report tallies from the records; exact again after bulk loads, drift logged."),
    },
    _("Catch up scheduled work"): {
        "task": "core.jobs_catch_up", "crontab": {"minute": "*/5"}, "expire_seconds": 240,
        "description": _("Run every scheduled job whose period is due and not done (a lost tick, a flushed queue)."),
    },
    _("Send due notifications"): {
        "task": "core.dispatch_deliveries", "crontab": {"minute": "*/5"},
        "description": _("Send digests and SMS deferred past quiet hours; catch up after a broker outage."),
    },
}


def sync_beat_schedule(apps=None):
    """Create missing periodic tasks by name; leave the admin's edits of existing ones alone."""
    if apps is None:
        from django.apps import apps
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
        PeriodicTask.objects.create(name=name, task=spec["task"], crontab=crontab, description=spec["description"],
                                    expire_seconds=spec.get("expire_seconds"))
