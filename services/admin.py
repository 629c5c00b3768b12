"""Admin of service sites, "5+N" activities, insurance, funds, disbursements and health check-ups."""
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from casemgmt.core.admin_reach import CountyFilter, ReachModelAdmin, ReachTabularInline
from casemgmt.core.errors import OutOfReachError

from .models import (
    Activity,
    ActivityAttendance,
    ConsolationVisit,
    Disbursement,
    Fund,
    HealthCheckup,
    InsuranceClaim,
    InsurancePolicy,
    InsuredPerson,
    PremiumPayment,
    ServiceSite,
)


@admin.register(ServiceSite)
class ServiceSiteAdmin(ReachModelAdmin):
    list_display = ("name", "kind", "region", "capacity", "opened_on", "closed_on", "partner", "coordinator")
    list_filter = (CountyFilter, "kind", "opened_on", ("closed_on", admin.EmptyFieldListFilter))
    search_fields = ("name", "address", "partner")
    list_select_related = ("region", "coordinator")
    autocomplete_fields = ("region",)


class ActivityAttendanceInline(ReachTabularInline):
    model = ActivityAttendance
    fields = ("member", "volunteer", "checked_in_at", "method")
    autocomplete_fields = ("member", "volunteer")


@admin.register(Activity)
class ActivityAdmin(ReachModelAdmin):
    list_display = ("title", "category", "local_name", "starts_at", "site", "region", "capacity", "status", "organiser")
    list_filter = (CountyFilter, "category", "status", "starts_at")
    search_fields = ("title", "local_name", "site__name")
    date_hierarchy = "starts_at"
    list_select_related = ("site", "region", "organiser")
    autocomplete_fields = ("region", "site")
    readonly_fields = ("qr_token",)
    inlines = (ActivityAttendanceInline,)


@admin.register(ActivityAttendance)
class ActivityAttendanceAdmin(ReachModelAdmin):
    list_display = ("activity", "member", "volunteer", "checked_in_at", "method")
    list_filter = (CountyFilter, "method", "checked_in_at")
    search_fields = ("activity__title", "member__name", "volunteer__name")
    list_select_related = ("activity", "member", "volunteer")
    autocomplete_fields = ("activity", "member", "volunteer")


@admin.register(Fund)
class FundAdmin(ReachModelAdmin):
    list_display = ("name", "programme", "year", "budget", "region", "source")
    list_filter = (CountyFilter, "programme", "year")
    search_fields = ("name", "source")
    list_select_related = ("region",)
    autocomplete_fields = ("region",)


class InsuredPersonInline(ReachTabularInline):
    model = InsuredPerson
    fields = ("member", "premium", "added_on")
    autocomplete_fields = ("member",)


class InsuranceClaimInline(ReachTabularInline):
    model = InsuranceClaim
    fields = ("member", "incident_date", "hospital_days", "amount_claimed", "amount_settled", "status", "filed_on")
    autocomplete_fields = ("member",)
    show_change_link = True


class PremiumPaymentInline(ReachTabularInline):
    model = PremiumPayment
    fields = ("paid_on", "member", "amount", "reference")
    autocomplete_fields = ("member",)
    actor_fields = ("recorded_by",)


@admin.register(InsurancePolicy)
class InsurancePolicyAdmin(ReachModelAdmin):
    list_display = ("insurer", "product_kind", "policy_number", "region", "starts_on", "ends_on", "premium", "status", "renews")
    list_filter = (CountyFilter, "product_kind", "status", "starts_on", "ends_on")
    search_fields = ("insurer", "=policy_number")
    date_hierarchy = "starts_on"
    list_select_related = ("region", "renews", "fund")
    autocomplete_fields = ("region", "fund", "renews")
    inlines = (InsuredPersonInline, PremiumPaymentInline, InsuranceClaimInline)
    actions = ("renew_policy", "activate_policy")

    def _run(self, request, queryset, name, done_message):
        # The insurance services are imported when used, so this admin loads even while they change.
        from services import services as insurance

        done = 0
        for policy in queryset.select_related("region"):
            try:
                getattr(insurance, name)(actor=request.user, policy=policy)
                done += 1
            except ValidationError as exc:
                messages.error(request, f"{policy}: {' '.join(exc.messages)}")
            except OutOfReachError:
                messages.error(request, f"{policy}: {_('outside your area of responsibility')}")
        if done:
            self.message_user(request, done_message % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Renew the selected policies for another year"), permissions=["add"])
    def renew_policy(self, request, queryset):
        self._run(request, queryset, "policy_renew", ngettext_lazy("%(count)d policy renewed as a draft.",
                                                                      "%(count)d policies renewed as drafts.", "count"))

    @admin.action(description=_("Activate the selected draft policies"), permissions=["change"])
    def activate_policy(self, request, queryset):
        self._run(request, queryset, "policy_activate", ngettext_lazy("%(count)d policy activated.",
                                                                         "%(count)d policies activated.", "count"))


@admin.register(InsuredPerson)
class InsuredPersonAdmin(ReachModelAdmin):
    list_display = ("member", "policy", "premium", "added_on")
    list_filter = (CountyFilter, "added_on")
    search_fields = ("member__name", "policy__insurer", "=policy__policy_number")
    blind_search = {"id_number": "member__id_number_index"}
    list_select_related = ("member", "policy")
    autocomplete_fields = ("member", "policy")


@admin.register(InsuranceClaim)
class InsuranceClaimAdmin(ReachModelAdmin):
    list_display = (
        "member", "policy", "incident_date", "hospital_days", "amount_claimed", "amount_settled", "status", "filed_on",
    )
    list_filter = (CountyFilter, "status", "filed_on", "incident_date")
    search_fields = ("member__name", "=policy__policy_number")
    blind_search = {"id_number": "member__id_number_index"}
    date_hierarchy = "filed_on"
    list_select_related = ("member", "policy")
    autocomplete_fields = ("member", "policy")


@admin.register(Disbursement)
class DisbursementAdmin(ReachModelAdmin):
    list_display = ("kind", "amount", "fund", "family", "member", "volunteer", "recipient_name", "paid_on", "period")
    list_filter = (CountyFilter, "kind", "fund__programme", "paid_on", "period")
    search_fields = ("recipient_name", "description", "=family__file_number", "member__name", "volunteer__name")
    date_hierarchy = "paid_on"
    list_select_related = ("fund", "family", "member", "volunteer")
    autocomplete_fields = ("fund", "family", "member", "volunteer")
    actor_fields = ("recorded_by",)


@admin.register(PremiumPayment)
class PremiumPaymentAdmin(ReachModelAdmin):
    list_display = ("policy", "member", "paid_on", "amount", "reference")
    list_filter = (CountyFilter, "policy__product_kind", "paid_on")
    search_fields = ("=reference", "policy__insurer", "=policy__policy_number", "member__name")
    date_hierarchy = "paid_on"
    list_select_related = ("policy", "member")
    autocomplete_fields = ("policy", "member")
    actor_fields = ("recorded_by",)


@admin.register(ConsolationVisit)
class ConsolationVisitAdmin(ReachModelAdmin):
    list_display = ("visited_on", "family", "member", "visitor", "visiting_party", "occasion", "cash", "goods",
                    "goods_value")
    list_filter = (CountyFilter, "visited_on", "occasion")
    search_fields = ("=family__file_number", "member__name", "visiting_party", "occasion", "goods")
    date_hierarchy = "visited_on"
    list_select_related = ("family", "member", "visitor")
    autocomplete_fields = ("family", "member", "visitor", "fund")
    actor_fields = ("recorded_by",)


@admin.register(HealthCheckup)
class HealthCheckupAdmin(ReachModelAdmin):
    list_display = ("member", "date", "provider", "site", "is_free", "cost")
    list_filter = (CountyFilter, "is_free", "date")
    search_fields = ("member__name", "provider")
    blind_search = {"id_number": "member__id_number_index"}
    date_hierarchy = "date"
    list_select_related = ("member", "site")
    autocomplete_fields = ("member", "site")
