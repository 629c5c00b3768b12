"""Admin of families and casework. Status and risk changes go through ``families.services`` (actions on
the family list), so their history rows and audit entries are written like everywhere else."""
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from casemgmt.core.admin import AUDIT_SEARCHES, UNRESTRICTED_REGION_PICKERS
from casemgmt.core.admin_reach import (
    CountyFilter,
    ReachModelAdmin,
    ReachStackedInline,
    ReachTabularInline,
)
from volunteers.models import Pairing

from . import services
from .models import (
    AnnualReview,
    Assessment,
    AssessmentScale,
    AssistanceEnrollment,
    AssistanceRate,
    CadenceRule,
    CarePlan,
    CarePlanGoal,
    CareTask,
    CheckIn,
    ConsentRecord,
    ContactAssignment,
    Family,
    FamilyMember,
    FamilyStatusChange,
    FamilyTransfer,
    RiskLevel,
    RiskLevelChange,
)

UNRESTRICTED_REGION_PICKERS.add(("families", "familytransfer", "to_region"))


def _audit_about_member(rows, pk):
    """Audit rows about one member: those naming them, and their family's (the member lends its id)."""
    family_id = FamilyMember.objects.filter(pk=pk).values_list("family_id", flat=True).first()
    if family_id is None:
        return rows.none()
    return rows.filter(Q(object_type="families.familymember", object_ids__contains=[pk]) | Q(family_id=family_id))


AUDIT_SEARCHES["member"] = _audit_about_member


def adopt(obj, saved):
    """Make the admin's unsaved ``obj`` the row a service just wrote, so the admin carries on with it."""
    for field in type(saved)._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def service_error(request, obj, exc):
    messages.error(request, _("%(object)s: %(errors)s") % {"object": obj, "errors": " ".join(exc.messages)})


# --- inlines of the family page ---------------------------------------------------------------

class PlainChoiceMixin:
    """Foreign keys of an inline row without the add/change/view popup links beside them: a row of
    the family page picks a person, it does not edit them (their own page does), and the three links
    cost a kilobyte a row."""

    plain_choice_fields = ()

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in self.plain_choice_fields and formfield is not None:
            widget = formfield.widget
            widget.can_add_related = widget.can_change_related = widget.can_view_related = False
            widget.can_delete_related = False
        return formfield


class FamilyMemberInline(ReachStackedInline):
    model = FamilyMember
    fields = (
        ("name", "relation", "is_deceased", "death_date"), ("id_number", "phone"),
        ("disability_grade", "disability_certificate_number"), "health_conditions",
        ("family_doctor", "family_doctor_institution"),
    )


class ContactAssignmentInline(PlainChoiceMixin, ReachTabularInline):
    model = ContactAssignment
    fields = ("kind", "user", "started_on", "ended_on", "end_reason")
    actor_fields = ("assigned_by",)
    # A select would list every staff member in reach on every row (thousands of options a row);
    # the search asks the user admin, whose queryset is the same reach, and the form still checks it.
    autocomplete_fields = ("user",)
    plain_choice_fields = ("user",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def create(self, request, instance):
        # Through the service: the kind's current contact is ended, not left beside the new one.
        return services.assignment_set(actor=request.user, family=instance.family, kind=instance.kind,
                                       user=instance.user, started_on=instance.started_on)


class ConsentRecordInline(PlainChoiceMixin, ReachTabularInline):
    model = ConsentRecord
    fields = ("purpose", "member", "scope", "given", "recorded_at", "withdrawn_at", "evidence")
    actor_fields = ("recorded_by",)
    plain_choice_fields = ("member",)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        member = formset.form.base_fields.get("member")
        if member is not None and obj is not None:
            # Consent is given by a member of this family: its members, not every member in reach.
            member.queryset = member.queryset.filter(family=obj)
        return formset


class PairingInline(PlainChoiceMixin, ReachTabularInline):
    model = Pairing
    fields = ("volunteer", "started_on", "ended_on", "end_reason")
    autocomplete_fields = ("volunteer",)
    plain_choice_fields = ("volunteer",)


class ReasonActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)


@admin.register(Family)
class FamilyAdmin(ReachModelAdmin):
    list_display = (
        "file_number", "category", "region", "status", "risk_level", "last_checkin_at", "next_checkin_due",
        "next_home_visit_due", "registered_on",
    )
    list_filter = (CountyFilter, "category", "status", "risk_level", "residence", "registered_on", "next_checkin_due")
    search_fields = ("file_number", "address", "members__name", "members__name_pinyin", "=members__name_initials")
    blind_search = {"id_number": "members__id_number_index", "phone": "members__phone_index"}
    date_hierarchy = "registered_on"
    list_select_related = ("region",)
    autocomplete_fields = ("region",)
    inlines = (FamilyMemberInline, ContactAssignmentInline, ConsentRecordInline, PairingInline)
    action_form = ReasonActionForm
    actions = ("close_case", "reopen_case", "set_risk_green", "set_risk_yellow", "set_risk_orange", "set_risk_red")
    fieldsets = (
        (None, {"fields": ("file_number", "category", "region", "address", "residence", "registered_on", "notes")}),
        (_("Status and risk"), {"fields": (
            "status", "status_reason", "status_changed_at", "risk_level", "risk_reason", "risk_assessed_at",
        )}),
        (_("Contact schedule"), {"fields": (
            "last_checkin_at", "next_checkin_due", "last_home_visit_at", "next_home_visit_due",
        )}),
    )
    # Changed only through services: status and risk keep their history, dates follow check-ins,
    # and a family changes region by a transfer.
    SERVICE_FIELDS = (
        "status", "status_reason", "status_changed_at", "risk_level", "risk_reason", "risk_assessed_at",
        "last_checkin_at", "next_checkin_due", "last_home_visit_at", "next_home_visit_due",
    )
    UPDATABLE = ("file_number", "category", "address", "residence", "notes")

    def readonly_for(self, request, obj=None):
        return [*self.SERVICE_FIELDS, "region", "registered_on"] if obj is not None else list(self.SERVICE_FIELDS)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The admin's heaviest form: four inlines need the width, and the sidebar listing every model
        # (a fifth of the page's bytes) would repeat the menu the index page already is.
        context["is_nav_sidebar_enabled"] = False
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def write(self, request, obj, form, change):
        if not change:
            family = services.family_register(
                actor=request.user, region=obj.region, category=obj.category, file_number=obj.file_number,
                address=obj.address, residence=obj.residence, registered_on=obj.registered_on, notes=obj.notes,
            )
            adopt(obj, family)
            return
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in self.UPDATABLE}
        if fields:
            family = services.family_update(
                actor=request.user, family=Family.objects.get(pk=obj.pk),
                expected_version=form.cleaned_data["loaded_version"], **fields,
            )
            adopt(obj, family)

    def _change_status(self, request, queryset, status, default_reason):
        reason = request.POST.get("reason", "").strip() or str(default_reason)
        done = 0
        for family in queryset:
            try:
                with transaction.atomic():
                    services.family_change_status(actor=request.user, family=family, status=status, reason=reason)
                done += 1
            except ValidationError as exc:
                service_error(request, family, exc)
        if done:
            self.message_user(request, ngettext("%(count)d family updated.", "%(count)d families updated.", done)
                              % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Close the selected cases (give a reason)"), permissions=["change"])
    def close_case(self, request, queryset):
        self._change_status(request, queryset, Family.Status.CLOSED, _("closed in the administration"))

    @admin.action(description=_("Reopen the selected cases"), permissions=["change"])
    def reopen_case(self, request, queryset):
        self._change_status(request, queryset, Family.Status.ACTIVE, _("reopened in the administration"))

    def _set_risk(self, request, queryset, level):
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, _("Give a reason for the risk level."), messages.ERROR)
            return
        for family in queryset:
            services.family_set_risk(actor=request.user, family=family, level=level, reason=reason)
        self.message_user(request, _("Risk level set to %(level)s.") % {"level": RiskLevel(level).label}, messages.SUCCESS)

    @admin.action(description=_("Set risk level: green (give a reason)"), permissions=["change"])
    def set_risk_green(self, request, queryset):
        self._set_risk(request, queryset, RiskLevel.GREEN)

    @admin.action(description=_("Set risk level: yellow (give a reason)"), permissions=["change"])
    def set_risk_yellow(self, request, queryset):
        self._set_risk(request, queryset, RiskLevel.YELLOW)

    @admin.action(description=_("Set risk level: orange (give a reason)"), permissions=["change"])
    def set_risk_orange(self, request, queryset):
        self._set_risk(request, queryset, RiskLevel.ORANGE)

    @admin.action(description=_("Set risk level: red (give a reason)"), permissions=["change"])
    def set_risk_red(self, request, queryset):
        self._set_risk(request, queryset, RiskLevel.RED)


@admin.register(FamilyMember)
class FamilyMemberAdmin(ReachModelAdmin):
    # ID numbers and phones appear as the policy gives them to the reader (masked, or not at all).
    list_display = ("name", "relation", "family", "id_number", "sex", "birth_date", "phone", "is_deceased")
    list_filter = (CountyFilter, "relation", "sex", "is_deceased", "family__category", "birthday_calendar")
    search_fields = ("name", "name_pinyin", "=name_initials", "=family__file_number")
    blind_search = {"id_number": "id_number_index", "phone": "phone_index"}
    list_select_related = ("family",)
    autocomplete_fields = ("family",)


class ReadOnlyHistoryAdmin(ReachModelAdmin):
    """History rows are written by services only."""

    list_select_related = ("family", "changed_by")
    autocomplete_fields = ("family",)
    date_hierarchy = "changed_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(FamilyStatusChange)
class FamilyStatusChangeAdmin(ReadOnlyHistoryAdmin):
    list_display = ("family", "from_status", "to_status", "reason", "changed_by", "changed_at")
    list_filter = (CountyFilter, "to_status", "changed_at")
    # The reason is encrypted: no search by its words.
    search_fields = ("=family__file_number",)


@admin.register(RiskLevelChange)
class RiskLevelChangeAdmin(ReadOnlyHistoryAdmin):
    list_display = ("family", "from_level", "to_level", "reason", "changed_by", "changed_at")
    list_filter = (CountyFilter, "to_level", "changed_at")
    search_fields = ("=family__file_number",)


@admin.register(CadenceRule)
class CadenceRuleAdmin(ReachModelAdmin):
    list_display = ("risk_level", "region", "contact_interval_days", "home_visit_interval_days")
    list_filter = ("risk_level",)
    list_select_related = ("region",)
    autocomplete_fields = ("region",)

    def get_queryset(self, request):
        # Configuration, not casework: everyone allowed into this admin reads the defaults and the
        # rules of their own subtree (the region check of the form stops writes outside it).
        queryset = admin.ModelAdmin.get_queryset(self, request)
        user = request.user
        if user.is_superuser or not user.reach_path:
            return queryset
        return queryset.filter(region__isnull=True) | queryset.filter(region__path__startswith=user.reach_path)


@admin.register(ContactAssignment)
class ContactAssignmentAdmin(ReachModelAdmin):
    list_display = ("family", "kind", "user", "started_on", "ended_on", "end_reason", "assigned_by")
    list_filter = (CountyFilter, "kind", ("ended_on", admin.EmptyFieldListFilter), "started_on")
    search_fields = ("=family__file_number", "user__username", "user__display_name")
    list_select_related = ("family", "user", "assigned_by")
    autocomplete_fields = ("family",)
    actor_fields = ("assigned_by",)

    def write(self, request, obj, form, change):
        if change:
            return super().write(request, obj, form, change)
        adopt(obj, services.assignment_set(actor=request.user, family=obj.family, kind=obj.kind, user=obj.user,
                                           started_on=obj.started_on))


@admin.register(CheckIn)
class CheckInAdmin(ReachModelAdmin):
    list_display = ("occurred_at", "family", "channel", "physical_state", "mental_state", "recorded_by", "follow_up_due")
    list_filter = (CountyFilter, "channel", "mental_state", "physical_state", "occurred_at", "follow_up_due")
    # Notes are encrypted: a search finds the family's check-ins by its file number only.
    search_fields = ("=family__file_number",)
    date_hierarchy = "occurred_at"
    list_select_related = ("family", "recorded_by")
    autocomplete_fields = ("family",)
    actor_fields = ("recorded_by",)
    DETAILS = ("physical_state", "mental_state", "mental_notes", "difficulties", "needs", "help_given", "follow_up",
               "follow_up_due")

    def write(self, request, obj, form, change):
        if change:
            return super().write(request, obj, form, change)
        # Through the service: it moves the family's next due dates and activates a registered case.
        details = {name: getattr(obj, name) for name in self.DETAILS}
        adopt(obj, services.checkin_record(actor=request.user, family=obj.family, channel=obj.channel,
                                           occurred_at=obj.occurred_at, **details))


@admin.register(AssessmentScale)
class AssessmentScaleAdmin(ReachModelAdmin):
    list_display = ("code", "name", "max_score", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name")


@admin.register(Assessment)
class AssessmentAdmin(ReachModelAdmin):
    list_display = ("assessed_at", "family", "member", "scale", "score", "resulting_risk", "assessed_by")
    list_filter = (CountyFilter, "scale", "resulting_risk", "assessed_at")
    search_fields = ("=family__file_number", "member__name")
    date_hierarchy = "assessed_at"
    list_select_related = ("family", "member", "scale", "assessed_by")
    autocomplete_fields = ("family", "member")
    actor_fields = ("assessed_by",)
    readonly_fields = ("resulting_risk",)

    def write(self, request, obj, form, change):
        if change:
            return super().write(request, obj, form, change)
        # Through the service: the score band sets the family's risk level with a history row.
        adopt(obj, services.assessment_record(actor=request.user, family=obj.family, scale=obj.scale, score=obj.score,
                                              member=obj.member, notes=obj.notes, assessed_at=obj.assessed_at))


class CarePlanGoalInline(ReachTabularInline):
    model = CarePlanGoal
    fields = ("description", "target_date", "status")


class CareTaskInline(ReachTabularInline):
    model = CareTask
    fk_name = "plan"
    fields = ("description", "goal", "kind", "assignee", "due_on", "status")

    def before_save(self, request, instance, parent):
        instance.family_id = parent.family_id


@admin.register(CarePlan)
class CarePlanAdmin(ReachModelAdmin):
    list_display = ("title", "family", "status", "owner", "starts_on", "review_on")
    list_filter = (CountyFilter, "status", "starts_on", "review_on")
    search_fields = ("title", "=family__file_number")
    list_select_related = ("family", "owner")
    autocomplete_fields = ("family",)
    inlines = (CarePlanGoalInline, CareTaskInline)


@admin.register(CarePlanGoal)
class CarePlanGoalAdmin(ReachModelAdmin):
    list_display = ("description", "plan", "target_date", "status")
    list_filter = (CountyFilter, "status", "target_date")
    search_fields = ("plan__title",)
    list_select_related = ("plan",)


@admin.register(CareTask)
class CareTaskAdmin(ReachModelAdmin):
    list_display = ("description", "family", "kind", "assignee", "due_on", "status", "done_at")
    list_filter = (CountyFilter, "kind", "status", "due_on")
    search_fields = ("description", "=family__file_number")
    date_hierarchy = "due_on"
    list_select_related = ("family", "assignee")
    autocomplete_fields = ("family",)
    readonly_fields = ("dedup_key",)


@admin.register(AssistanceRate)
class AssistanceRateAdmin(ReachModelAdmin):
    list_display = ("category", "residence", "monthly_amount", "effective_from", "region")
    list_filter = ("category", "residence", "effective_from")
    list_select_related = ("region",)
    autocomplete_fields = ("region",)


class AnnualReviewInline(ReachTabularInline):
    model = AnnualReview
    fields = ("year", "status", "applied_on", "village_reviewed_on", "confirmed_on", "reviewer", "note")


@admin.register(AssistanceEnrollment)
class AssistanceEnrollmentAdmin(ReachModelAdmin):
    list_display = ("member", "family", "status", "applied_on", "approved_on", "ended_on", "bank_name", "bank_account")
    list_filter = (CountyFilter, "status", "end_reason", "applied_on")
    search_fields = ("member__name", "=family__file_number")
    blind_search = {"id_number": "member__id_number_index"}
    list_select_related = ("member", "family")
    autocomplete_fields = ("member", "family")
    inlines = (AnnualReviewInline,)


@admin.register(AnnualReview)
class AnnualReviewAdmin(ReachModelAdmin):
    list_display = ("enrollment", "year", "status", "applied_on", "village_reviewed_on", "confirmed_on", "reviewer")
    list_filter = (CountyFilter, "year", "status")
    search_fields = ("enrollment__member__name", "=enrollment__family__file_number")
    list_select_related = ("enrollment__member", "reviewer")


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReachModelAdmin):
    list_display = ("family", "member", "purpose", "given", "recorded_at", "withdrawn_at", "recorded_by")
    list_filter = (CountyFilter, "purpose", "given", ("withdrawn_at", admin.EmptyFieldListFilter), "recorded_at")
    search_fields = ("=family__file_number", "member__name", "evidence")
    list_select_related = ("family", "member", "recorded_by")
    autocomplete_fields = ("family", "member")
    actor_fields = ("recorded_by",)


@admin.register(FamilyTransfer)
class FamilyTransferAdmin(ReachModelAdmin):
    list_display = ("family", "from_region", "to_region", "status", "requested_by", "requested_at", "decided_at")
    list_filter = (CountyFilter, "status", "requested_at")
    search_fields = ("=family__file_number", "reason")
    list_select_related = ("family", "from_region", "to_region", "requested_by")
    autocomplete_fields = ("family", "from_region", "to_region")
    actor_fields = ("requested_by",)
    # The destination lies in another region by nature; the receiving manager decides.
    unrestricted_fields = ("to_region",)
    readonly_fields = ("decided_by", "decided_at")

