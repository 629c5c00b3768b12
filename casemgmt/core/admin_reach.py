"""The reach rules of the Django admin, written once and mixed into every ModelAdmin and inline.

A non-superuser sees, opens and picks only rows inside their reach (``reach.restrict``), cannot save
a record into a region outside it, sees each personal field as the privacy policy gives it to their
role (``admin_privacy``), and cannot overwrite a change somebody else saved meanwhile (the form
carries the version it loaded). Every add, change and delete leaves an audit row; sensitive values
are named, never logged.
"""
import datetime
import decimal
import re

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext_lazy as _

from . import privacy
from .admin_privacy import PolicyAdminMixin
from .audit import audit_log
from .crypto import EncryptedTextField, blind_index
from .idcard import parse_id_number
from .models import Region
from .reach import SELF, can_use, region_within_reach, restrict, scope_for, writable

VERSION_FIELD = "loaded_version"
PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{5,18}[0-9]$")


def has_version(model):
    return any(f.name == "version" for f in model._meta.concrete_fields)


def sensitive_field_names(model):
    """Fields whose values an audit row names but never holds: the policy's redacted kinds, and any
    encrypted column of a model it does not govern."""
    if privacy.governs(model):
        return [f.name for f in model._meta.concrete_fields
                if privacy.field_of(model, f.name).kind in privacy.REDACTED_KINDS]
    return [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


def staff_choices(queryset, user):
    """Users a form may offer: ``restrict`` for those who may list users, otherwise the colleagues
    working inside the user's own subtree (a social worker picks a care-plan owner among them)."""
    if can_use(user, queryset.model):
        return restrict(queryset, user)
    if not (user and user.is_authenticated and user.is_active and user.region_id):
        return queryset.none()
    return queryset.filter(is_active=True, region__path__startswith=user.reach_path)


def _plain(value):
    """A JSON-friendly form of a cleaned form value for the audit trail."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, models.QuerySet | list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, FieldFile):
        return value.name
    if isinstance(value, datetime.date | datetime.time | decimal.Decimal | int | float | bool | str) or value is None:
        return value
    return str(value)


def _without(fields, names):
    """Fieldset fields minus ``names``, keeping the tuples that put several fields on one line."""
    kept = []
    for entry in fields:
        if isinstance(entry, list | tuple):
            line = tuple(f for f in entry if f not in names)
            if line:
                kept.append(line)
        elif entry not in names:
            kept.append(entry)
    return kept


def region_path_of(obj):
    for attr in ("region_path",):
        if getattr(obj, attr, None):
            return getattr(obj, attr)
    region = getattr(obj, "region", None) if hasattr(obj, "region_id") else None
    if isinstance(region, Region):
        return region.path
    family = getattr(obj, "family", None) if getattr(obj, "family_id", None) else None
    return getattr(family, "region_path", "") or ""


def family_id_of(obj):
    scope = scope_for(type(obj))
    if scope is not None and scope.family == SELF:  # the family itself
        return obj.pk
    return getattr(obj, "family_id", None)


class ReachFormMixin(forms.Form):
    """Mixed into every admin form: reach of chosen regions and optimistic concurrency."""

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    request_user = None  # set on the class the admin builds for one request
    # Region fields that may point outside the user's reach (a transfer's destination).
    unrestricted_fields = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model = self._meta.model
        if not has_version(model):
            self.fields.pop(VERSION_FIELD, None)
        elif VERSION_FIELD in self.fields and self.instance.pk:
            self.fields[VERSION_FIELD].initial = self.instance.version

    def clean(self):
        cleaned = super().clean()
        user = self.request_user
        if user is not None and not user.is_superuser:
            self._check_regions(user, cleaned)
        if VERSION_FIELD in self.fields and self.instance.pk and self.has_changed():
            self._check_version(cleaned)
        return cleaned

    def _check_regions(self, user, cleaned):
        for field in self._meta.model._meta.concrete_fields:
            if not (field.is_relation and field.related_model is Region) or field.name not in cleaned:
                continue
            if field.name in self.unrestricted_fields:
                continue
            region = cleaned[field.name]
            if not region_within_reach(user, region.path if region else ""):
                self.add_error(field.name, _("This region lies outside your area of responsibility."))

    def _check_version(self, cleaned):
        loaded = cleaned.get(VERSION_FIELD)
        rows = type(self.instance)._base_manager.filter(pk=self.instance.pk)
        # The admin runs the whole change view in one transaction: the row lock taken here holds until
        # the save, so nobody can slip a change in between the check and the write.
        if transaction.get_connection().in_atomic_block:
            rows = rows.select_for_update()
        current = rows.values_list("version", flat=True).first()
        if loaded is None or current != loaded:
            raise ValidationError(
                _("Conflict: this record was changed by someone else while you were editing it (you loaded "
                  "version %(loaded)s, it is now version %(current)s). Nothing was saved; reload the page and "
                  "make your change again."),
                code="version_conflict", params={"loaded": loaded, "current": current},
            )

    def _post_clean(self):
        super()._post_clean()
        if VERSION_FIELD in self.fields and self.instance.pk and not self.errors:
            self.instance.version = (self.cleaned_data.get(VERSION_FIELD) or self.instance.version) + 1


class ReachModelForm(ReachFormMixin, forms.ModelForm):
    pass


class CountyFilter(admin.SimpleListFilter):
    """Filter by a region of the user's reach: counties, or the level below when the reach is smaller
    (or the level above when the reach is a whole province or country)."""

    title = _("region")
    parameter_name = "area"
    MAX_CHOICES = 60

    def _region_lookup(self, model_admin):
        scope = scope_for(model_admin.model)
        return getattr(model_admin, "region_path_lookup", None) or (scope and scope.region) or "region_path"

    def lookups(self, request, model_admin):
        user = request.user
        regions = restrict(Region.objects.all(), user)
        own_level = user.region.level if (not user.is_superuser and user.region_id) else 0
        level = max(Region.Level.COUNTY, own_level + 1)
        if level > Region.Level.VILLAGE:
            return []
        choices = regions.filter(level=level)
        while level > Region.Level.PROVINCE and choices.count() > self.MAX_CHOICES:
            level -= 1
            choices = regions.filter(level=level)
        return [(r.path, r.full_name or r.name) for r in choices.order_by("code")[: self.MAX_CHOICES]]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{f"{self._region_lookup(self.model_admin)}__startswith": self.value()})
        return queryset

    def __init__(self, request, params, model, model_admin):
        self.model_admin = model_admin
        super().__init__(request, params, model, model_admin)


class ReachAdminMixin(PolicyAdminMixin):
    """Mixed into ModelAdmin and InlineModelAdmin classes."""

    # Free text is bounded as in the API (a model's TextField has no length of its own).
    formfield_overrides = {models.TextField: {"max_length": settings.FREE_TEXT_MAX_LENGTH}}

    form = ReachModelForm
    # Fields filled with the acting user on creation and not offered in the form.
    actor_fields = ()
    # Region FKs whose choices are not limited to the user's reach (e.g. a transfer's destination).
    unrestricted_fields = ()
    # Search through the blind index: {"id_number": lookup, "phone": lookup}.
    blind_search = {}

    # --- reading -------------------------------------------------------------------------------
    def get_queryset(self, request):
        return restrict(super().get_queryset(request), request.user)

    def get_search_results(self, request, queryset, search_term):
        term = (search_term or "").strip()
        if term and self._blind_searchable(request, "id_number"):
            try:
                number = parse_id_number(term).number
            except ValidationError:
                number = None
            if number:
                lookup = self.blind_search["id_number"]
                return queryset.filter(**{lookup: blind_index(number, "id_number")}), "__" in lookup
        if term and self._blind_searchable(request, "phone") and PHONE_RE.match(term):
            lookup = self.blind_search["phone"]
            return queryset.filter(**{lookup: blind_index(term, "phone")}), "__" in lookup
        return super().get_search_results(request, queryset, search_term)

    def _blind_searchable(self, request, kind):
        """Whether the exact search ``kind`` is offered: finding a person by a number is learning
        whose it is, so never for a user the policy leaves the number out for."""
        return kind in self.blind_search and self._searchable(request, self.blind_search[kind])

    # A catalogue defined above the user's region is read and picked here, changed only there.
    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or writable(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or writable(request.user, obj))

    # --- choices -------------------------------------------------------------------------------
    def reach_choices(self, db_field, request, queryset=None):
        model = db_field.remote_field.model
        if queryset is None:
            queryset = self.get_field_queryset(None, db_field, request)
        if queryset is None:
            queryset = model._default_manager.all()
        if db_field.name in self.unrestricted_fields:
            return queryset
        if model is get_user_model():
            return staff_choices(queryset, request.user)
        return restrict(queryset, request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs["queryset"] = self.reach_choices(db_field, request, kwargs.get("queryset"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["queryset"] = self.reach_choices(db_field, request, kwargs.get("queryset"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    # --- what the form shows -----------------------------------------------------------------------
    def hidden_fields(self, request, obj=None):
        return list(self.actor_fields)

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        return exclude + [f for f in self.hidden_fields(request, obj) if f not in exclude]

    def get_readonly_fields(self, request, obj=None):
        hidden = self.hidden_fields(request, obj)
        return [f for f in super().get_readonly_fields(request, obj) if f not in hidden]

    def get_fieldsets(self, request, obj=None):
        hidden = set(self.hidden_fields(request, obj))
        fieldsets = []
        for name, options in super().get_fieldsets(request, obj):
            fields = _without(options.get("fields", ()), hidden | {VERSION_FIELD})
            fieldsets.append((name, {**options, "fields": fields}))
        if has_version(self.model) and fieldsets and self._may_edit(request, obj):
            name, options = fieldsets[0]
            fieldsets[0] = (name, {**options, "fields": [*options["fields"], VERSION_FIELD]})
        return fieldsets

    def _may_edit(self, request, obj):
        if isinstance(self, admin.options.InlineModelAdmin):
            return self.has_change_permission(request, obj) or self.has_add_permission(request, obj)
        if obj is None:
            return self.has_add_permission(request)
        return self.has_change_permission(request, obj)

    def _bind_form(self, form, request):
        attrs = {"request_user": request.user, "unrestricted_fields": tuple(self.unrestricted_fields)}
        return type(form.__name__, (form,), attrs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        return self._bind_form(super().get_form(request, obj, change=change, **kwargs), request)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = self._bind_form(formset.form, request)
        return formset


class ReachModelAdmin(ReachAdminMixin, admin.ModelAdmin):
    """A ModelAdmin that keeps to the user's reach and audits every write."""

    list_per_page = 50

    # --- writing -------------------------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        if not change:
            for name in self.actor_fields:
                if getattr(obj, f"{name}_id", None) is None:
                    setattr(obj, name, request.user)
        self.write(request, obj, form, change)
        audit_form(request, obj, form, change)

    def write(self, request, obj, form, change):
        """Persist ``obj``; admins whose model has a service override this to call it."""
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        inline_admin = getattr(formset, "inline_admin", None)
        instances = formset.save(commit=False)
        for deleted in formset.deleted_objects:
            audit_object(request, deleted, "deleted")
            deleted.delete()
        changed_forms = {id(f.instance): f for f in formset.forms if f.instance in instances}
        for instance in instances:
            is_new = instance.pk is None
            sub_form = changed_forms.get(id(instance))
            for name in getattr(inline_admin, "actor_fields", ()):
                if is_new and getattr(instance, f"{name}_id", None) is None:
                    setattr(instance, name, request.user)
            if inline_admin is not None and hasattr(inline_admin, "before_save"):
                inline_admin.before_save(request, instance, form.instance)
            if is_new and hasattr(inline_admin, "create"):
                instance = inline_admin.create(request, instance)  # through the model's service
            else:
                instance.save()
            if sub_form is not None:
                audit_form(request, instance, sub_form, not is_new)
        formset.save_m2m()

    def get_formsets_with_inlines(self, request, obj=None):
        for formset, inline in super().get_formsets_with_inlines(request, obj):
            formset.inline_admin = inline
            yield formset, inline

    def delete_model(self, request, obj):
        audit_object(request, obj, "deleted")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_object(request, obj, "deleted")
        super().delete_queryset(request, queryset)


class ReachInlineMixin(ReachAdminMixin):
    extra = 0
    show_change_link = True


class ReachTabularInline(ReachInlineMixin, admin.TabularInline):
    pass


class ReachStackedInline(ReachInlineMixin, admin.StackedInline):
    pass


def _event(obj, verb):
    return f"admin.{obj._meta.app_label}.{obj._meta.model_name}.{verb}"


def audit_form(request, obj, form, change):
    """Audit one saved form: before/after of the changed fields, names only for encrypted ones."""
    sensitive = set(sensitive_field_names(obj._meta.model))
    changed = [name for name in form.changed_data if name != VERSION_FIELD]
    plain = [name for name in changed if name not in sensitive]
    after = {name: _plain(form.cleaned_data.get(name)) for name in plain}
    secret = [name for name in changed if name in sensitive]
    if secret:
        after["encrypted_fields_changed"] = secret
    before = {name: _plain(form.initial.get(name)) for name in plain} if change else None
    audit_log(
        actor=request.user, event=_event(obj, "changed" if change else "added"), obj=obj,
        family_id=family_id_of(obj), region_path=region_path_of(obj), before=before, after=after,
        ip=request.META.get("REMOTE_ADDR"),
    )


def audit_object(request, obj, verb):
    audit_log(
        actor=request.user, event=_event(obj, verb), obj=obj, family_id=family_id_of(obj),
        region_path=region_path_of(obj), before={"str": str(obj)}, ip=request.META.get("REMOTE_ADDR"),
    )
