"""Admin of the security app: break-the-glass grants (opened through the service, with a reason;
requests beyond the day's cap approved or denied here by a region manager) and the record of
messages to families and anonymisations, all read-only once written. A message's text is shown as
the privacy policy gives it to the reader (``core.admin_privacy``)."""
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from casemgmt.core import reach
from casemgmt.core.admin_privacy import PolicyAdminMixin
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import Role, User

from . import otp, services, stepup
from .models import Anonymisation, BreakGlassGrant, EnrolmentWindow, FamilyMessage
from .network import client_ip

OVERSIGHT_ROLES = frozenset({Role.ADMIN, Role.REGION_MANAGER, Role.AUDITOR})


def _ip(request):
    return client_ip(request)


def _visible(queryset, user, family_field="family"):
    """Own grants for everybody; the grants on families of their subtree for oversight roles."""
    if user.is_superuser:
        return queryset
    condition = Q()
    if "user" in [f.name for f in queryset.model._meta.fields]:
        condition = Q(user=user)
    elif "sent_by" in [f.name for f in queryset.model._meta.fields]:
        condition = Q(sent_by=user)
    if user.role in OVERSIGHT_ROLES:
        condition |= Q(**{f"{family_field}__region_path__startswith": user.reach_path})
    return queryset.filter(condition) if condition else queryset.none()


class BreakGlassForm(forms.ModelForm):
    file_number = forms.CharField(label=_("family file number"), max_length=32)
    hours = forms.IntegerField(label=_("hours"), min_value=1, initial=4)

    class Meta:
        model = BreakGlassGrant
        fields = ["reason"]
        widgets = {"reason": forms.Textarea(attrs={"rows": 3})}

    request = None  # set by the admin: the service acts for its user

    def clean(self):
        """Open the grant (or ask for it) here, so that every refusal is a message on the form. A
        family that cannot be opened gets one answer whether its file number exists or not."""
        data = super().clean()
        if self.errors:
            return data
        request = self.request
        if not stepup.step_up_ok(request, "breakglass.open"):
            raise ValidationError(_("Confirm it is you: enter a fresh code from your authenticator, then try again."),
                                  code="step_up_required")
        try:
            self.grant = services.breakglass_request(
                actor=request.user, file_number=data["file_number"], reason=data.get("reason", ""),
                hours=data["hours"], ip=_ip(request))
        except OutOfReachError:
            raise ValidationError({"file_number": _("No family can be opened with this file number.")}) from None
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from exc
        return data


class ReadOnlyRecordAdmin(PolicyAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_module_permission(self, request):
        user = request.user
        return user.is_active and user.is_staff and (user.is_superuser or user.role in OVERSIGHT_ROLES
                                                     or user.role in services.BREAK_GLASS_ROLES)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)


@admin.register(BreakGlassGrant)
class BreakGlassGrantAdmin(ReadOnlyRecordAdmin):
    list_display = ("requested_at", "user", "family", "status", "granted_at", "expires_at", "decided_by", "revoked_at",
                    "reason")
    list_filter = ("status", "requested_at", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "family__file_number", "reason")
    list_select_related = ("user", "family", "decided_by")
    date_hierarchy = "requested_at"
    actions = ["revoke", "approve", "deny"]

    def get_queryset(self, request):
        return _visible(super().get_queryset(request), request.user)

    def has_add_permission(self, request):
        return services.may_break_glass(request.user)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = BreakGlassForm
            kwargs["fields"] = ["file_number", "reason", "hours"]
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            form.request = request
        return form

    def readonly_for(self, request, obj=None):
        return [f.name for f in BreakGlassGrant._meta.fields] if obj else []

    def save_model(self, request, obj, form, change):
        # The form's clean() opened the grant through the service.
        obj.pk = form.grant.pk
        obj.__dict__.update(form.grant.__dict__)

    @admin.action(description=_("End the selected emergency accesses now"))
    def revoke(self, request, queryset):
        for grant in queryset.select_related("family"):
            services.breakglass_revoke(actor=request.user, grant=grant, ip=_ip(request))
        self.message_user(request, _("Emergency access ended."), messages.SUCCESS)

    @admin.action(description=_("Approve the selected requests for emergency access"))
    def approve(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description=_("Deny the selected requests for emergency access"))
    def deny(self, request, queryset):
        self._decide(request, queryset, approve=False)

    def _decide(self, request, queryset, *, approve):
        done = 0
        for grant in queryset.filter(status=BreakGlassGrant.Status.PENDING).select_related("family", "user"):
            try:
                services.breakglass_decide(actor=request.user, grant=grant, approve=approve, ip=_ip(request))
                done += 1
            except (OutOfReachError, ValidationError):
                self.message_user(request, _("You may not decide the request of %(user)s.") % {"user": grant.user},
                                  messages.ERROR)
        if done:
            self.message_user(request, _("%(count)s requests decided.") % {"count": done}, messages.SUCCESS)

    def get_actions(self, request):
        actions = super().get_actions(request)
        user = request.user
        if not services.may_break_glass(user):
            actions.pop("revoke", None)
        if not (user.is_superuser or user.role in (Role.ADMIN, Role.REGION_MANAGER)):
            actions.pop("approve", None)
            actions.pop("deny", None)
        return actions


@admin.register(FamilyMessage)
class FamilyMessageAdmin(ReadOnlyRecordAdmin):
    list_display = ("created_at", "family", "member", "channel", "status", "sent_by")
    list_filter = ("channel", "status", "created_at")
    search_fields = ("family__file_number", "sent_by__username")
    list_select_related = ("family", "member", "sent_by")

    def get_queryset(self, request):
        return _visible(super().get_queryset(request), request.user)


@admin.register(Anonymisation)
class AnonymisationAdmin(ReadOnlyRecordAdmin):
    list_display = ("done_at", "family", "done_by", "reason")
    search_fields = ("family__file_number",)
    list_select_related = ("family", "done_by")

    def get_queryset(self, request):
        user = request.user
        qs = super().get_queryset(request)
        if user.is_superuser:
            return qs
        return qs.filter(family__region_path__startswith=user.reach_path) if user.role in OVERSIGHT_ROLES else qs.none()


class EnrolmentWindowForm(forms.ModelForm):
    class Meta:
        model = EnrolmentWindow
        fields = ["user", "reason"]

    request = None  # set by the admin: the service acts for its user

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = reach.restrict(User.objects.filter(is_active=True), self.request.user)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        self.window = otp.enrolment_window_open(actor=self.request.user, user=data["user"], reason=data["reason"],
                                                ip=_ip(self.request))
        return data


@admin.register(EnrolmentWindow)
class EnrolmentWindowAdmin(PolicyAdminMixin, admin.ModelAdmin):
    """Administrators let a user in their reach enrol a new authenticator (a lost phone, an account
    that signed in before second factors): the old one stops working at once."""

    list_display = ("opened_at", "user", "opened_by", "expires_at", "used_at", "reason")
    list_select_related = ("user", "opened_by")
    search_fields = ("user__username",)
    date_hierarchy = "opened_at"

    def _administers(self, request):
        user = request.user
        return user.is_active and user.is_staff and (user.is_superuser or user.role == Role.ADMIN)

    def has_module_permission(self, request):
        return self._administers(request)

    def has_view_permission(self, request, obj=None):
        return self._administers(request)

    def has_add_permission(self, request):
        return self._administers(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return reach.restrict(super().get_queryset(request), request.user)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = EnrolmentWindowForm
        form = super().get_form(request, obj, **kwargs)
        form.request = request
        return form

    def save_model(self, request, obj, form, change):
        # The form's clean() opened the window through the service.
        obj.pk = form.window.pk
        obj.__dict__.update(form.window.__dict__)
