"""The Celery beat schedule in the admin (django-celery-beat's own pages), changed only by those
``roles.may_edit_beat_schedule`` allows: it runs the nightly jobs of the whole country, so an
administrator of one city may read it but not edit, disable or run its entries.

django-celery-beat's actions (enable, disable, toggle, run) name no permission, so Django would
offer them to anyone who may view the list; they go with the right to change.

The library's labels that are no translatable strings (its "Task Name" field, the scheduler column)
and the declared jobs' names and descriptions (``beat.SCHEDULE``, stored in English as the rows'
keys) are shown here in the reader's language; its "run" message, built from English pieces
("task" + "s"), is written again with ``ngettext``."""
from django.contrib import admin, messages
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from .roles import may_edit_beat_schedule


class NationalEditMixin:
    """Writing as ``may_edit_beat_schedule`` says (the role's model permissions only let one read)."""

    def has_add_permission(self, request, *args):
        return may_edit_beat_schedule(request.user)

    def has_change_permission(self, request, obj=None):
        return may_edit_beat_schedule(request.user)

    def has_delete_permission(self, request, obj=None):
        return may_edit_beat_schedule(request.user)

    def has_view_permission(self, request, obj=None):
        return may_edit_beat_schedule(request.user) or super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return may_edit_beat_schedule(request.user) or super().has_module_permission(request)


class PeriodicTaskInline(NationalEditMixin, beat_admin.PeriodicTaskInline):
    def has_add_permission(self, request, obj=None):
        return False  # as django-celery-beat: a task is added on its own page


class TaskFilter(admin.AllValuesFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = _("task")


class PeriodicTaskAdmin(NationalEditMixin, beat_admin.PeriodicTaskAdmin):
    list_display = ("title", "enabled", "timing", "start_time", "last_run_at", "one_off")
    list_filter = ["enabled", "one_off", ("task", TaskFilter), "start_time", "last_run_at"]
    readonly_fields = (*beat_admin.PeriodicTaskAdmin.readonly_fields, "title", "about")
    fieldsets = (
        (None, {"fields": ("title", "about", "name", "regtask", "task", "enabled", "description"),
                "classes": ("extrapretty", "wide")}),
        *beat_admin.PeriodicTaskAdmin.fieldsets[1:],
    )

    @admin.display(description=_("job"), ordering="name")
    def title(self, task):
        return gettext(task.name) if task.name else ""

    @admin.display(description=_("what it does"))
    def about(self, task):
        return gettext(task.description) if task.description else ""

    @admin.display(description=_("schedule"))
    def timing(self, task):
        return task.scheduler

    def get_actions(self, request):
        return super().get_actions(request) if may_edit_beat_schedule(request.user) else {}

    @admin.action(description=_("Run selected tasks"))
    def run_tasks(self, request, queryset):
        from kombu.utils.json import loads

        self.celery_app.loader.import_default_modules()
        periodic = list(queryset)
        missing = [p.task for p in periodic if self.celery_app.tasks.get(p.task) is None]
        if missing:
            self.message_user(request, gettext("No such task: %(name)s") % {"name": ", ".join(missing)},
                              level=messages.ERROR)
            return
        for p in periodic:
            options = {"queue": p.queue} if p.queue else {}
            self.celery_app.tasks[p.task].apply_async(args=loads(p.args), kwargs=loads(p.kwargs),
                                                      headers={"periodic_task_name": p.name}, **options)
        self.message_user(request, ngettext("%(count)d task was started.", "%(count)d tasks were started.",
                                            len(periodic)) % {"count": len(periodic)})


def _schedule_admin(base):
    return type(base.__name__, (NationalEditMixin, base), {"inlines": [PeriodicTaskInline]})


for _model, _admin in ((PeriodicTask, PeriodicTaskAdmin),
                       (ClockedSchedule, _schedule_admin(beat_admin.ClockedScheduleAdmin)),
                       (CrontabSchedule, _schedule_admin(beat_admin.CrontabScheduleAdmin)),
                       (SolarSchedule, _schedule_admin(beat_admin.SolarScheduleAdmin)),
                       (IntervalSchedule, _schedule_admin(beat_admin.IntervalScheduleAdmin))):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin)
