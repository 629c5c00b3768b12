"""The privacy policy (``core.privacy``) carried into the Django admin.

Every governed field of a change page, an inline, a changelist, a search or a filter is shown as
``privacy.access`` says for the request's user: a field they never get is not on the page at all
(nor searchable, nor a filter); a masked or revealable one is shown masked, read-only, with a link
to the reveal view for a revealable one; a field given on one's own records only is shown on those.
A masked text field the user may write stays writable without its value: the input is empty, the
masked value beside it, and an empty input keeps what is stored.

What a page showed in plaintext of the audited kinds is noted while it is built and written as one
``privacy.record_view`` row per model once the page has been rendered (a failed or redirected
request shows nothing and writes nothing). The reveal view (``<change url>/reveal/``) is the
admin's door to ``privacy.reveal``, the same act, event and reason as the API's and the workspace's.
"""
from django import forms
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.utils import display_for_field, flatten_fieldsets, quote, unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import privacy
from .crypto import EncryptedTextField

A = privacy.Access
# Values that fit one line: an ID number, a phone, an account number is typed, not written as prose.
SINGLE_LINE_MASKERS = frozenset({"id_number", "phone", "account"})


def request_ip(request):
    return request.META.get("REMOTE_ADDR") or None


def _state(request):
    """What this request has decided and shown, kept on the request (one admin serves every user)."""
    state = getattr(request, "_admin_privacy", None)
    if state is None:
        state = request._admin_privacy = {"layouts": {}, "shown": {}}
    return state


def note_shown(request, obj, name):
    """Remember that ``obj.name`` was shown to the request's user in plaintext (audited kinds only)."""
    if not privacy.audited_fields(obj, [name]):
        return
    shown = _state(request)["shown"].setdefault(privacy.label_of(obj), ({}, set()))
    shown[0][obj.pk] = obj
    shown[1].add(name)


def write_views(request, response=None):
    """One audit row per model for what the rendered page showed in plaintext."""
    shown = _state(request)["shown"]
    while shown:
        _label, (objects, names) = shown.popitem()
        privacy.record_view(actor=request.user, surface="admin", objects=list(objects.values()), names=sorted(names),
                            ip=request_ip(request))


def single_line(model, name):
    spec = privacy.field_of(model, name)
    return spec is not None and (spec.masker or privacy.DEFAULT_MASKER.get(spec.kind, "text")) in SINGLE_LINE_MASKERS


def _text_field(field):
    return isinstance(field, models.CharField | models.TextField) and not field.choices


def _concrete_names(model, names):
    concrete = {f.name for f in model._meta.concrete_fields}
    return [name for name in names if name in concrete]


def resolve(model, lookup):
    """``(model, field)`` that a search, filter or column path such as ``members__phone_index`` ends
    on (a trailing lookup like ``__icontains`` ignored), or None when it names no concrete field."""
    parts = lookup.lstrip("^=@").split("__")
    field = None
    for index, part in enumerate(parts):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            break
        if field.is_relation and index < len(parts) - 1:
            model, field = field.related_model, None
            continue
        break
    if field is None or not getattr(field, "concrete", False):
        return None
    return model, field


def reveal_url(model, pk, name=None):
    """The admin reveal view of a row, or "" when its model has none."""
    meta = model._meta
    try:
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_reveal", args=[quote(pk)])
    except NoReverseMatch:
        return ""
    return f"{url}?field={name}" if name else url


def reveal_link(model, pk, name):
    url = reveal_url(model, pk, name)
    return format_html(' <a class="reveal-link" href="{}">{}</a>', url, _("reveal")) if url else ""


class PolicyValue:
    """A read-only column or field: the value of ``name`` as ``privacy.present`` gives it to the
    request's user, noted when it is audited plaintext. A callable, as the admin takes them."""

    def __init__(self, request, model, name):
        self.request, self.model, self.name = request, model, name
        self.field = model._meta.get_field(name)
        self.__name__ = name  # the admin's CSS class and help text follow the field's name
        self.short_description = self.field.verbose_name
        self.empty_value_display = "-"

    def __call__(self, obj):
        shown = privacy.present(self.request.user, obj, self.name)
        if shown.hidden:
            return ""
        if shown.plaintext:
            if shown.value not in (None, ""):
                note_shown(self.request, obj, self.name)
            return display_for_field(shown.value, self.field, self.empty_value_display)
        if not shown.value:
            return ""
        link = reveal_link(type(obj), obj.pk, self.name) if shown.revealable and obj.pk else ""
        return format_html('<span class="masked-value">{}</span>{}', shown.value, link)


class MaskedWidgetMixin:
    """An input that never holds the stored value: the masked value and a reveal link beside it."""

    masked = ""
    link = ""

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, value, attrs, renderer)
        return format_html('{} <span class="masked-value">{}</span>{}', html, self.masked, self.link)


class MaskedTextInput(MaskedWidgetMixin, forms.TextInput):
    pass


class MaskedTextarea(MaskedWidgetMixin, forms.Textarea):
    pass


KEEP_HELP = gettext_lazy("Shown masked. Leave empty to keep the stored value; type to replace it.")


class PolicyFormMixin:
    """Mixed into the admin's forms of governed models (``PolicyAdminMixin.get_form``)."""

    privacy_user = None
    privacy_masked = ()  # fields written through an empty input ("unchanged") beside their masked value

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        existing = instance.pk is not None and not instance._state.adding
        self.kept = []
        for name in self.privacy_masked:
            field = self.fields.get(name)
            current = getattr(instance, name, None) if existing else None
            if field is None or current in (None, ""):
                continue
            shown = privacy.present(self.privacy_user, instance, name, current)
            widget_class = MaskedTextarea if isinstance(field.widget, forms.Textarea) else MaskedTextInput
            widget = widget_class(attrs={**field.widget.attrs, "placeholder": shown.value or "", "autocomplete": "off"})
            widget.masked = shown.value or ""
            widget.link = reveal_link(type(instance), instance.pk, name) if shown.revealable else ""
            field.widget = widget
            field.required = False
            field.help_text = format_html("{} {}", field.help_text, KEEP_HELP) if field.help_text else KEEP_HELP
            self.initial[name] = ""
            self.kept.append(name)
        # Inputs holding the stored plaintext of an audited field: the page shows it. A bound form
        # shows back what its user sent.
        self.plaintext_shown = [
            name for name in privacy.audited_fields(instance, _concrete_names(type(instance), self.fields))
            if name not in self.kept and getattr(instance, name, None) not in (None, "")
        ] if existing and not self.is_bound and privacy.governs(instance) else []

    def clean(self):
        cleaned = super().clean()
        for name in self.kept:
            if cleaned.get(name) in (None, ""):
                cleaned[name] = getattr(self.instance, name)
        return cleaned


class RevealForm(forms.Form):
    names = forms.MultipleChoiceField(label=gettext_lazy("Fields"), widget=forms.CheckboxSelectMultiple)
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500,
                             help_text=gettext_lazy("Why you need to see it; kept in the audit trail."),
                             widget=forms.Textarea(attrs={"rows": 2}))


class PolicyAdminMixin:
    """Mixed into every ModelAdmin and inline of the project (``admin_reach`` does it)."""

    reveal_template = "admin/privacy_reveal.html"

    # --- deciding ---------------------------------------------------------------------------
    def _is_inline(self):
        return isinstance(self, InlineModelAdmin)

    def _policy_may_edit(self, request, obj):
        if self._is_inline():
            # A parent page its user may only view shows its inlines read-only too.
            parent = self.admin_site._registry.get(self.parent_model)
            if parent is not None and not parent._policy_may_edit(request, obj):
                return False
            return self.has_change_permission(request, obj) or (obj is None and self.has_add_permission(request, obj))
        if obj is None:
            return self.has_add_permission(request)
        return self.has_change_permission(request, obj)

    def readonly_for(self, request, obj=None):
        """Fields a subclass makes read-only on this page. Override this, not
        ``get_readonly_fields``: the policy must see every read-only field to mask it."""
        return ()

    def _base_readonly(self, request, obj):
        return [*super().get_readonly_fields(request, obj), *self.readonly_for(request, obj)]

    def _declared_names(self):
        if self.fieldsets:
            return flatten_fieldsets(self.fieldsets)
        if self.fields:
            return flatten_fieldsets([(None, {"fields": self.fields})])
        return None

    def policy_layout(self, request, obj=None):
        """``(hidden, displays, masked)`` of this page for the request's user: governed field names
        left out, ``{name: PolicyValue}`` shown read-only, names written through a masked input."""
        key = (id(self), getattr(obj, "pk", None))
        layouts = _state(request)["layouts"]
        if key in layouts:
            return layouts[key]
        model, user = self.model, request.user
        hidden, displays, masked = [], {}, []
        if privacy.governs(model):
            inline = self._is_inline()
            readonly = set(self._base_readonly(request, obj))
            editable = self._policy_may_edit(request, obj)
            for field in model._meta.concrete_fields:
                name = field.name
                how = privacy.access(user, model, name)
                if how == A.OWN and not inline:
                    # A new record is the writer's own; a stored one is theirs or it is left out.
                    how = A.SHOW if obj is None or privacy.is_own(user, obj) else A.HIDDEN
                if how == A.HIDDEN:
                    hidden.append(name)
                    continue
                writable = editable and field.editable and name not in readonly
                if how == A.SHOW:
                    if not writable and privacy.audited_fields(model, [name]):
                        displays[name] = PolicyValue(request, model, name)
                elif how in (A.REVEAL, A.MASKED) and writable and _text_field(field):
                    masked.append(name)
                else:
                    displays[name] = PolicyValue(request, model, name)
        layouts[key] = (hidden, displays, masked)
        return layouts[key]

    def policy_hidden(self, request, obj=None):
        hidden, displays, _masked = self.policy_layout(request, obj)
        # A field shown read-only through the policy is never also a form field.
        return [*hidden, *displays]

    # --- forms --------------------------------------------------------------------------------
    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # An ID number, a phone, or encrypted text bounded like a CharField (a doctor's name): one
        # line, as the field asks of forms; the admin's default for a TextField is a textarea.
        if isinstance(db_field, EncryptedTextField) and (
                single_line(self.model, db_field.name) or (db_field.max_length and not db_field.choices)):
            kwargs.setdefault("widget", forms.TextInput(attrs={"class": "vTextField", "autocomplete": "off"}))
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        return exclude + [name for name in self.policy_hidden(request, obj) if name not in exclude]

    def get_readonly_fields(self, request, obj=None):
        hidden, displays, _masked = self.policy_layout(request, obj)
        drop = set(hidden) | set(displays)
        base = self._base_readonly(request, obj)
        fields = [f for f in base if f not in drop]
        declared = self._declared_names()
        on_page = set(declared) if declared is not None else {f.name for f in self.model._meta.concrete_fields
                                                               if f.editable}
        on_page |= set(base)
        return fields + [value for name, value in displays.items() if name in on_page]

    def get_fieldsets(self, request, obj=None):
        hidden, displays, _masked = self.policy_layout(request, obj)
        fieldsets = []
        for title, options in super().get_fieldsets(request, obj):
            fields, seen = [], set()
            for entry in options.get("fields", ()):
                line = entry if isinstance(entry, list | tuple) else (entry,)
                kept = []
                for name in line:
                    name = displays.get(name, name) if isinstance(name, str) else name
                    if (isinstance(name, str) and name in hidden) or id(name) in seen:
                        continue
                    seen.add(id(name))
                    kept.append(name)
                if kept:
                    fields.append(tuple(kept) if isinstance(entry, list | tuple) else kept[0])
            fieldsets.append((title, {**options, "fields": fields}))
        return fieldsets

    def _policy_form(self, form, request, obj):
        if not privacy.governs(self.model):
            return form
        _hidden, _displays, masked = self.policy_layout(request, obj)
        attrs = {"privacy_user": request.user, "privacy_masked": tuple(masked)}
        return type(form.__name__, (PolicyFormMixin, form), attrs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        return self._policy_form(super().get_form(request, obj, change=change, **kwargs), request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = self._policy_form(formset.form, request, obj)
        return formset

    # --- lists, searches, filters ---------------------------------------------------------------
    def _column(self, request, name):
        """A list column as the policy gives it: the name, a PolicyValue, or None (left out)."""
        if not isinstance(name, str) or name == "__str__":
            return name
        found = resolve(self.model, name)
        if found is None or not privacy.governs(found[0]):
            return name
        model, field = found
        how = privacy.access(request.user, model, field.name)
        if "__" in name:
            # Through a relation the row is not the record the policy judges: plain values only.
            return name if how == A.SHOW and not privacy.audited_fields(model, [field.name]) else None
        if how == A.HIDDEN:
            return None
        if how == A.SHOW and not privacy.audited_fields(model, [field.name]):
            return name
        key = ("column", id(self), name)
        layouts = _state(request)["layouts"]
        if key not in layouts:
            layouts[key] = PolicyValue(request, model, field.name)
        return layouts[key]

    def get_list_display(self, request):
        columns = (self._column(request, name) for name in super().get_list_display(request))
        return [column for column in columns if column is not None]

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        if links is None:
            return None
        kept = [link for link in links if link in list_display]
        return kept or list(list_display)[:1]

    def _searchable(self, request, lookup, *, text=True):
        """Whether rows may be found by ``lookup``; ``text``: by the words of a search box, which
        ciphertext never matches (encrypted values are found through ``blind_search`` only)."""
        found = resolve(self.model, lookup)
        if found is None:
            return True
        model, field = found
        if text and isinstance(field, EncryptedTextField):
            return False
        return privacy.searchable(request.user, model, field.name)

    def get_search_fields(self, request):
        return [name for name in super().get_search_fields(request) if self._searchable(request, name)]

    def get_list_filter(self, request):
        kept = []
        for entry in super().get_list_filter(request):
            lookup = entry[0] if isinstance(entry, list | tuple) else entry
            if isinstance(lookup, str):
                found = resolve(self.model, lookup)
                if found is not None and privacy.governs(found[0]):
                    model, field = found
                    # A filter lists the stored values as its choices: it is a search.
                    if not privacy.searchable(request.user, model, field.name) or (
                            _text_field(field) and privacy.access(request.user, model, field.name) != A.SHOW):
                        continue
            kept.append(entry)
        return kept

    def lookup_allowed(self, lookup, value, request=None):
        # The admin allows any query-string filter on a local field; a filter is a search.
        if request is not None and not self._searchable(request, lookup, text=False):
            return False
        return super().lookup_allowed(lookup, value, request)

    # --- audit of what was shown -----------------------------------------------------------------
    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        response = super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)
        if obj is not None:
            forms_shown = [context["adminform"].form]
            for inline in context.get("inline_admin_formsets", ()):
                forms_shown += inline.formset.forms
            for form in forms_shown:
                for name in getattr(form, "plaintext_shown", ()):
                    note_shown(request, form.instance, name)
        response.add_post_render_callback(lambda rendered: write_views(request))
        return response

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "add_post_render_callback"):
            response.add_post_render_callback(lambda rendered: write_views(request))
        return response

    # --- reveal ---------------------------------------------------------------------------------
    def get_urls(self):
        urls = super().get_urls()
        if not privacy.governs(self.model):
            return urls
        meta = self.model._meta
        view = self.admin_site.admin_view(self.reveal_view)
        return [path("<path:object_id>/reveal/", view, name=f"{meta.app_label}_{meta.model_name}_reveal"), *urls]

    def revealable(self, request):
        names = privacy.audited_fields(self.model, [f.name for f in self.model._meta.concrete_fields
                                                    if not f.name.endswith("_index")])
        return privacy.revealable_fields(request.user, self.model, names)

    def reveal_view(self, request, object_id):
        """GET: which fields and why; POST: the plaintext, for ``privacy.REVEAL_SECONDS``, and the
        audit row ``<app>.<model>.revealed`` with the reason (``privacy.reveal``)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        names = self.revealable(request)
        # A role that may reveal nothing here learns nothing about the row either.
        if not names:
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_view_or_change_permission(request, obj):
            raise Http404
        meta = self.model._meta
        choices = [(name, meta.get_field(name).verbose_name) for name in names]
        values = None
        if request.method == "POST":
            form = RevealForm(request.POST)
            form.fields["names"].choices = choices
            if form.is_valid():
                try:
                    plain = privacy.reveal(actor=request.user, obj=obj, names=form.cleaned_data["names"],
                                           reason=form.cleaned_data["reason"], surface="admin", ip=request_ip(request))
                except ValidationError as exc:
                    form.add_error("reason", exc.message_dict.get("reason", exc.messages))
                else:
                    values = [(meta.get_field(name).verbose_name, value) for name, value in plain.items()]
        else:
            wanted = [name for name in request.GET.getlist("field") if name in names]
            form = RevealForm(initial={"names": wanted or names[:1]})
            form.fields["names"].choices = choices
        change_url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[quote(obj.pk)],
                             current_app=self.admin_site.name)
        context = {
            **self.admin_site.each_context(request), "opts": meta, "original": obj, "form": form, "values": values,
            "seconds": privacy.REVEAL_SECONDS, "change_url": change_url,
            "title": _("Reveal: %(object)s") % {"object": obj},
        }
        response = TemplateResponse(request, self.reveal_template, context)
        response["Cache-Control"] = "no-store, private"
        return response

