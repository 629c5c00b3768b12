"""The admin's side of the privacy matrix, generated from the policy and the admin registry.

Pages: the changelist and one change page of every registered admin whose model the policy
governs or whose inlines show a governed model, so an admin or a field added later is tried too.
Stored plaintexts: every personal text field of every governed row is overwritten with a marker of
its own (``plant``), built from the field's kind here, not from the admin's code; a page's HTML is
then searched for them. What a page may show is read from ``privacy.access`` alone.
"""
import itertools
import re

from django.apps import apps
from django.contrib import admin
from django.db import models

from casemgmt.core import privacy
from casemgmt.core.crypto import EncryptedTextField

K = privacy.Kind
# The kinds a page may show only as the table says (RECORD, NAME and PROFILE are everybody's).
PERSONAL_KINDS = privacy.REDACTED_KINDS
ROLE_USERS = ("root", "city_admin", "manager", "alice", "contact", "coordinator", "volunteer_user", "auditor")


def governed_models():
    return [apps.get_model(label) for label in privacy.FIELDS]


def is_text(field):
    return isinstance(field, models.CharField | models.TextField | EncryptedTextField) and not field.choices


def personal_fields(model):
    """(field, spec) of ``model``'s personal fields: the ones whose reads the table restricts."""
    out = []
    if not privacy.governs(model):
        return out
    for field in model._meta.concrete_fields:
        spec = privacy.field_of(model, field.name)
        if spec.kind in PERSONAL_KINDS:
            out.append((field, spec))
    return out


def pages():
    """``(model, model_admin)`` of every admin page that can show a governed field."""
    chosen = []
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower):
        inline_models = [inline.model for inline in model_admin.inlines]
        if privacy.governs(model) or any(privacy.governs(m) for m in inline_models):
            chosen.append((model, model_admin))
    return chosen


_counter = itertools.count(1)


def marker_for(field, spec):
    """A stored value of the field's kind that no page shows by accident, and whose masked form
    (by the masker the policy names) does not contain it."""
    n = next(_counter)
    masker = spec.masker or privacy.DEFAULT_MASKER.get(spec.kind, "text")
    if field.name.endswith("_index"):
        return f"{n:08x}" + "ab" * 28  # a blind index: 64 hex characters
    if masker == "id_number":
        return f"35062319{n:09d}X"
    if masker == "phone":
        return f"137{n:08d}"
    if masker == "account":
        return f"6222{n:011d}8888"
    return f"秘密{spec.kind}{n:05d}内容"


def plant():
    """Overwrite every personal text field of every governed row with its own marker.
    Returns ``{marker: (label, pk, field name)}``."""
    planted = {}
    for model in governed_models():
        fields = [(f, s) for f, s in personal_fields(model) if is_text(f)]
        if not fields:
            continue
        for pk in model._base_manager.values_list("pk", flat=True):
            values = {}
            for field, spec in fields:
                value = marker_for(field, spec)
                if getattr(field, "max_length", None) and len(value) > field.max_length:
                    value = value[-field.max_length:]
                values[field.name] = value
                planted[value] = (model._meta.label_lower, pk, field.name)
            # ``update`` encrypts through the field as ``save`` does, and leaves derived columns alone.
            model._base_manager.filter(pk=pk).update(**values)
    return planted


def field_class(html, name):
    """Whether the page has an element of field ``name`` (fieldset row, inline cell, list column)."""
    return re.search(rf'class="[^"]*\b(field|column)-{re.escape(name)}\b[^_]', html) is not None


def allows_plaintext(user, obj, name):
    how = privacy.access(user, obj, name)
    return how == privacy.Access.SHOW or (how == privacy.Access.OWN and privacy.is_own(user, obj))
