"""Admin of volunteers, teams, skills, training, pairings and service hours."""
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from casemgmt.core.admin import AUDIT_SEARCHES
from casemgmt.core.admin_reach import CountyFilter, ReachModelAdmin, ReachTabularInline

from .models import Enrollment, Pairing, Qualification, ServiceHours, Skill, Team, TrainingCourse, TrainingSession, Volunteer

AUDIT_SEARCHES["volunteer"] = lambda rows, pk: rows.filter(object_type="volunteers.volunteer", object_ids__contains=[pk])


@admin.register(Skill)
class SkillAdmin(ReachModelAdmin):
    list_display = ("name", "code", "is_professional")
    list_filter = ("is_professional",)
    search_fields = ("name", "code")


@admin.register(Team)
class TeamAdmin(ReachModelAdmin):
    list_display = ("name", "region")
    list_filter = (CountyFilter,)
    search_fields = ("name",)
    list_select_related = ("region",)
    autocomplete_fields = ("region",)


class QualificationInline(ReachTabularInline):
    model = Qualification
    fields = ("name", "course", "certificate_number", "granted_on", "expires_on")


class VolunteerPairingInline(ReachTabularInline):
    model = Pairing
    fields = ("family", "started_on", "ended_on", "end_reason")
    autocomplete_fields = ("family",)


@admin.register(Volunteer)
class VolunteerAdmin(ReachModelAdmin):
    list_display = ("name", "phone", "region", "team", "status", "professional_title", "joined_on")
    list_filter = (CountyFilter, "status", ("team", admin.RelatedOnlyFieldListFilter), "skills", "joined_on")
    search_fields = ("name", "=name_initials", "professional_title", "team__name")
    blind_search = {"id_number": "id_number_index", "phone": "phone_index"}
    list_select_related = ("region", "team")
    autocomplete_fields = ("region", "team", "skills")
    inlines = (QualificationInline, VolunteerPairingInline)


@admin.register(TrainingCourse)
class TrainingCourseAdmin(ReachModelAdmin):
    list_display = ("title", "skill", "qualification_name", "validity_months", "region")
    list_filter = (CountyFilter, "skill")
    search_fields = ("title", "qualification_name")
    list_select_related = ("skill", "region")
    autocomplete_fields = ("region",)


class EnrollmentInline(ReachTabularInline):
    model = Enrollment
    fields = ("volunteer", "status", "enrolled_at", "attended_at")
    autocomplete_fields = ("volunteer",)


@admin.register(TrainingSession)
class TrainingSessionAdmin(ReachModelAdmin):
    list_display = ("course", "starts_at", "ends_at", "venue", "trainer", "capacity", "status", "region")
    list_filter = (CountyFilter, "status", "starts_at")
    search_fields = ("course__title", "venue", "trainer")
    date_hierarchy = "starts_at"
    list_select_related = ("course", "region")
    autocomplete_fields = ("region",)
    readonly_fields = ("qr_token",)
    inlines = (EnrollmentInline,)


@admin.register(Enrollment)
class EnrollmentAdmin(ReachModelAdmin):
    list_display = ("volunteer", "session", "status", "enrolled_at", "attended_at")
    list_filter = (CountyFilter, "status", "enrolled_at")
    search_fields = ("volunteer__name", "session__course__title")
    list_select_related = ("volunteer", "session__course")
    autocomplete_fields = ("volunteer",)


@admin.register(Qualification)
class QualificationAdmin(ReachModelAdmin):
    list_display = ("name", "volunteer", "course", "certificate_number", "granted_on", "expires_on")
    list_filter = (CountyFilter, "granted_on", "expires_on")
    search_fields = ("name", "volunteer__name", "certificate_number")
    list_select_related = ("volunteer", "course")
    autocomplete_fields = ("volunteer",)


@admin.register(Pairing)
class PairingAdmin(ReachModelAdmin):
    list_display = ("volunteer", "family", "started_on", "ended_on", "end_reason")
    list_filter = (CountyFilter, ("ended_on", admin.EmptyFieldListFilter), "started_on")
    search_fields = ("volunteer__name", "=family__file_number")
    list_select_related = ("volunteer", "family")
    autocomplete_fields = ("volunteer", "family")


@admin.register(ServiceHours)
class ServiceHoursAdmin(ReachModelAdmin):
    list_display = ("volunteer", "date", "hours", "description", "family", "activity", "status", "reviewed_by")
    list_filter = (CountyFilter, "status", "date")
    search_fields = ("volunteer__name", "description")
    date_hierarchy = "date"
    list_select_related = ("volunteer", "family", "activity", "reviewed_by")
    autocomplete_fields = ("volunteer", "family")
    readonly_fields = ("status", "reviewed_by", "reviewed_at")
    actions = ("approve", "reject")

    def _review(self, request, queryset, approve):
        from .services import service_hours_review  # written alongside this admin; imported when used

        done = 0
        for hours in queryset.select_related("volunteer__region"):
            try:
                service_hours_review(actor=request.user, hours=hours, approve=approve)
                done += 1
            except (ValidationError, PermissionError) as exc:
                messages.error(request, f"{hours}: {' '.join(getattr(exc, 'messages', [str(exc)]))}")
        if done:
            reviewed = ngettext("%(count)d entry reviewed.", "%(count)d entries reviewed.", done) % {"count": done}
            self.message_user(request, reviewed, messages.SUCCESS)

    @admin.action(description=_("Approve the selected hours"), permissions=["change"])
    def approve(self, request, queryset):
        self._review(request, queryset, True)

    @admin.action(description=_("Reject the selected hours"), permissions=["change"])
    def reject(self, request, queryset):
        self._review(request, queryset, False)
