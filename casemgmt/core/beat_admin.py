"""The Celery beat schedule in the admin (django-celery-beat's own pages), changed only by those
``roles.may_edit_beat_schedule`` allows: it runs the nightly jobs of the whole country, so an
administrator of one city may read it but not edit, disable or run its entries.

django-celery-beat's actions (enable, disable, toggle, run) name no permission, so Django would
offer them to anyone who may view the list; they go with the right to change.

The library's labels that are no translatable strings (its "Task Name" field, the scheduler column)
and the declared jobs' names and descriptions (``beat.SCHEDULE``, stored in English as the rows'
keys) are shown here in the reader's language, as is a crontab in words (``cron_descriptor``, which
the library asks in English only); its "run" message, built from English pieces ("task" + "s"), is
written again with ``ngettext``."""
import calendar

from cron_descriptor import FormatException, MissingFieldException, Options, WrongArgumentException, get_description
from django.contrib import admin, messages
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from .beat import SCHEDULE
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


# cron_descriptor's catalogues by language; it names months and weekdays in English whatever the catalogue.
CRON_LOCALES = {"zh-hans": "zh_CN"}
CHINESE_NAMES = {**{calendar.month_name[m]: f"{m}月" for m in range(1, 13)},
                 **{calendar.day_name[d]: "星期" + "一二三四五六日"[d] for d in range(7)}}


def crontab_in_words(crontab):
    """The crontab in words in the reader's language, with its time zone (the library's
    ``human_readable``, in English only)."""
    options = Options()
    options.use_24hour_time_format = True
    language = get_language() or ""
    options.locale_code = CRON_LOCALES.get(language, "en_US")
    expression = " ".join((crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year,
                           crontab.day_of_week))
    try:
        words = get_description(expression, options)
    except (FormatException, MissingFieldException, WrongArgumentException):
        return f"{expression} {crontab.timezone}"
    if options.locale_code == "zh_CN":
        for english, chinese in CHINESE_NAMES.items():
            words = words.replace(english, chinese)
    return f"{words} {crontab.timezone}"


class NamedTaskSelect(beat_admin.TaskSelectWidget):
    """The registered tasks, each a job of the schedule named as the schedule declares it (translated)."""

    def tasks_as_choices(self):
        named = {spec["task"]: gettext(name) for name, spec in SCHEDULE.items()}
        return tuple((value, f"{named[value]} ({value})" if value in named else label)
                     for value, label in super().tasks_as_choices())


class PeriodicTaskForm(beat_admin.PeriodicTaskForm):
    regtask = beat_admin.TaskChoiceField(label=beat_admin.PeriodicTaskForm.base_fields["regtask"].label,
                                         required=False, widget=NamedTaskSelect)


class TaskFilter(admin.AllValuesFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = _("task")


class PeriodicTaskAdmin(NationalEditMixin, beat_admin.PeriodicTaskAdmin):
    list_display = ("title", "enabled", "timing", "start_time", "last_run_at", "one_off")
    list_filter = ["enabled", "one_off", ("task", TaskFilter), "start_time", "last_run_at"]
    readonly_fields = (*beat_admin.PeriodicTaskAdmin.readonly_fields, "title", "about")
    change_form_template = "admin/beat/change_periodictask_form.html"
    form = PeriodicTaskForm
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

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "crontab" and field is not None:
            # "0 7 * * * (m/h/dM/MY/d)" alone, as the library names a crontab, reads as code.
            field.label_from_instance = lambda crontab: f"{crontab_in_words(crontab)} ({crontab.minute} {crontab.hour} " \
                f"{crontab.day_of_month} {crontab.month_of_year} {crontab.day_of_week})"
        return field

    @admin.display(description=_("schedule"))
    def timing(self, task):
        return crontab_in_words(task.crontab) if task.crontab_id else task.scheduler

    @admin.display(description=_("schedule in words"))
    def crontab_translation(self, task):
        return crontab_in_words(task.crontab) if task.crontab_id else ""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The library's view puts every crontab in English words for its script; ours, in the reader's.
        extra_context = {**(extra_context or {}), "readable_crontabs": {
            crontab.pk: crontab_in_words(crontab) for crontab in CrontabSchedule.objects.all()}}
        return admin.ModelAdmin.changeform_view(self, request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.name:
            context["subtitle"] = gettext(obj.name)  # the page's heading: the job's name, translated
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

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


class CrontabScheduleAdmin(_schedule_admin(beat_admin.CrontabScheduleAdmin)):
    list_display = ("__str__", "in_words")
    fields = ("in_words", "minute", "hour", "day_of_month", "month_of_year", "day_of_week", "timezone")
    readonly_fields = ("in_words",)

    @admin.display(description=_("schedule in words"))
    def in_words(self, crontab):
        return crontab_in_words(crontab)


for _model, _admin in ((PeriodicTask, PeriodicTaskAdmin),
                       (ClockedSchedule, _schedule_admin(beat_admin.ClockedScheduleAdmin)),
                       (CrontabSchedule, CrontabScheduleAdmin),
                       (SolarSchedule, _schedule_admin(beat_admin.SolarScheduleAdmin)),
                       (IntervalSchedule, _schedule_admin(beat_admin.IntervalScheduleAdmin))):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin)
