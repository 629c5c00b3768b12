"""Admin of the cross-cutting records: regions, users, the audit trail and notifications."""
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.translation import gettext_lazy as _

from . import beat_admin  # noqa: F401 — the beat schedule's pages, editable at national level only
from .admin_reach import CountyFilter, ReachFormMixin, ReachModelAdmin
from .models import AuditEvent, JobRun, Notification, Region, User

admin.site.site_header = _("Special family case management")
admin.site.site_title = _("Special family case management")
admin.site.index_title = _("Administration")

# Region pickers that offer the whole tree although the user reaches only their subtree (a
# transfer's destination): (app label, model name, field name), added by the apps' admin modules.
UNRESTRICTED_REGION_PICKERS = set()

# The audit trail's ``kind:<id>`` searches: kind -> function(rows, id) giving the rows about that
# record. The apps' admin modules add the kinds of their records (``member``, ``volunteer``); the
# rows stay the auditor's, scoped to their subtree.
AUDIT_SEARCHES = {"family": lambda rows, pk: rows.filter(family_id=pk)}


@admin.register(Region)
class RegionAdmin(ReachModelAdmin):
    list_display = ("code", "name", "full_name", "level", "urban_rural_code", "is_active")
    list_filter = ("level", "is_active")
    search_fields = ("=code", "name", "full_name")
    ordering = ("code",)
    autocomplete_fields = ("parent",)
    list_select_related = ("parent",)
    readonly_fields = ("path",)
    def get_queryset(self, request):
        target = (request.GET.get("app_label"), request.GET.get("model_name"), request.GET.get("field_name"))
        if request.path.endswith("/autocomplete/") and target in UNRESTRICTED_REGION_PICKERS:
            return admin.ModelAdmin.get_queryset(self, request)
        return super().get_queryset(request)


class UserChangeReachForm(ReachFormMixin, UserChangeForm):
    pass


class UserCreationReachForm(ReachFormMixin, AdminUserCreationForm):
    pass


@admin.register(User)
class UserAdmin(ReachModelAdmin, DjangoUserAdmin):
    form = UserChangeReachForm
    add_form = UserCreationReachForm
    list_display = ("username", "display_name", "role", "region", "organisation", "is_active", "last_login")
    list_filter = ("role", CountyFilter, "is_active", "is_staff")
    search_fields = ("username", "display_name", "first_name", "last_name", "organisation", "email")
    list_select_related = ("region",)
    autocomplete_fields = ("region",)
    region_path_lookup = "region__path"
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Role and reach"), {"fields": ("role", "region", "organisation")}),
        (_("Personal info"), {"fields": ("display_name", "first_name", "last_name", "email", "phone", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        (_("Role and reach"), {"fields": ("role", "region", "display_name", "organisation")}),
    )
    readonly_fields = ("last_login", "date_joined")
    # Groups follow the role (core.signals); only a superuser grants superuser or single permissions.
    SUPERUSER_ONLY = ("is_superuser", "groups", "user_permissions")

    def hidden_fields(self, request, obj=None):
        hidden = super().hidden_fields(request, obj)
        return hidden if request.user.is_superuser else [*hidden, *self.SUPERUSER_ONLY]


@admin.register(AuditEvent)
class AuditEventAdmin(ReachModelAdmin):
    """The trail is append-only: nobody, not even a superuser, adds, edits or deletes a row here."""

    list_display = ("at", "event", "actor", "actor_role", "object_type", "object_ids", "family_id", "region_path", "ip")
    list_filter = ("actor_role", "object_type", "at", ("actor", admin.RelatedOnlyFieldListFilter))
    search_fields = ("event", "object_type", "actor__username", "reason")
    date_hierarchy = "at"
    list_select_related = ("actor",)
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    search_help_text = _("Event, actor or reason; or family:<id>, member:<id>, volunteer:<id>, actor:<username>.")

    def get_search_results(self, request, queryset, search_term):
        # Auditors search by person, family and actor (the list filters give the time).
        kind, sep, value = search_term.strip().partition(":")
        if sep and kind in AUDIT_SEARCHES and value.strip().isdigit():
            return AUDIT_SEARCHES[kind](queryset, int(value)), False
        if sep and kind == "actor":
            return queryset.filter(actor__username=value.strip()), False
        return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReachModelAdmin):
    list_display = ("title", "recipient", "kind", "level", "family", "created_at", "read_at")
    list_filter = ("level", "kind", "created_at", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "kind", "dedup_key", "recipient__username")
    date_hierarchy = "created_at"
    list_select_related = ("recipient", "family")
    autocomplete_fields = ("family",)


# The ledger of scheduled work, for an operator: read-only, written by the jobs alone.
@admin.register(JobRun)
class JobRunAdmin(ReachModelAdmin):
    list_display = ("job", "period", "region_path", "outcome", "attempts", "due_at", "started_at", "finished_at",
                    "counts", "error")
    list_filter = ("outcome", "job", "due_at")
    search_fields = ("=job", "=period", "region_path")
    date_hierarchy = "due_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Core models added later (delivery outbox, preferences) still appear, limited to superusers until they
# get a scope in ``reach.SCOPES`` and an admin of their own above.
for _model in apps.get_app_config("core").get_models():
    if not admin.site.is_registered(_model):
        admin.site.register(_model, ReachModelAdmin)
