"""The Celery beat schedule in the admin (django-celery-beat's own pages), changed only by those
``roles.may_edit_beat_schedule`` allows: it runs the nightly jobs of the whole country, so an
administrator of one city may read it but not edit, disable or run its entries.

django-celery-beat's actions (enable, disable, toggle, run) name no permission, so Django would
offer them to anyone who may view the list; they go with the right to change."""
from django.contrib import admin
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


class PeriodicTaskAdmin(NationalEditMixin, beat_admin.PeriodicTaskAdmin):
    def get_actions(self, request):
        return super().get_actions(request) if may_edit_beat_schedule(request.user) else {}


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
