"""Serializer building blocks shared by every app's API.

- ``ScopedRelatedField``: a writable foreign key whose choices are only the rows in the caller's
  reach, so nobody can point a record at (or move it into) another region or family.
- ``PolicyFieldsMixin``: the fields the privacy policy governs (``casemgmt.core.privacy``) as the
  requesting user may see them: left out, masked (plaintext through the audited ``reveal`` action,
  ``RevealMixin`` in viewsets.py), plaintext, or plaintext on their own records only.
- ``ColumnReadMixin``: the same output as DRF's, read faster, for serializers on hot lists.
- ``BoundedTextField``: what every ModelSerializer makes of a model's ``TextField`` (DRF's field
  mapping, extended once here): free text up to ``FREE_TEXT_MAX_LENGTH`` characters, not unbounded.
"""
import copy
import operator

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject

from casemgmt.core import privacy, reach
from casemgmt.core.statements import row_id


class BoundedTextField(serializers.CharField):
    """A model ``TextField`` in the API: at most ``FREE_TEXT_MAX_LENGTH`` characters (a model's
    text columns have no length of their own, and a megabyte of note is no note)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", settings.FREE_TEXT_MAX_LENGTH)
        super().__init__(**kwargs)


# For every ModelSerializer of the project, including encrypted text (a TextField subclass): the
# mapping is looked up along the model field's classes when a serializer builds its fields.
serializers.ModelSerializer.serializer_field_mapping[models.TextField] = BoundedTextField


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key that must name a row the requesting user can reach (else "does not exist").

    Over a plain ``Model.objects.all()`` the restricted read is a statement written once per reach
    shape (``reach.compiled_in_reach``): a check-in names its family, and building the reach
    condition for that one row cost more than reading it. With ``lock_for_update``, inside a
    transaction the row is read ``FOR UPDATE`` (the write that names it then holds it already)."""

    def __init__(self, *, lock_for_update=False, **kwargs):
        self.lock_for_update = lock_for_update
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        queryset = super().get_queryset()
        user = getattr(request, "user", None)
        return reach.restrict(queryset, user) if user is not None else queryset.none()

    def to_internal_value(self, data):
        user = getattr(self.context.get("request"), "user", None)
        if user is None or self.pk_field is not None or not _plain_queryset(self.queryset):
            return super().to_internal_value(data)
        model = self.queryset.model
        pk = row_id(model, data, self.queryset.db)
        if pk is None:  # DRF's own answer: of the wrong type, or no such row
            return super().to_internal_value(data)
        if not reach.can_use(user, model):  # restrict() gives no rows at all
            self.fail("does_not_exist", pk_value=data)
        lock = self.lock_for_update and connections[self.queryset.db].in_atomic_block

        def row(user, pk):
            rows = reach.restrict(model._default_manager.all(), user).filter(pk=pk)
            return rows.select_for_update(of=("self",)) if lock else rows

        statement = reach.compiled_in_reach.get(user, ("related", model._meta.label_lower, lock), row, pk=pk)
        found = list(model._default_manager.raw(*statement))
        if not found:
            self.fail("does_not_exist", pk_value=data)
        found[0].locked_for_update = lock
        return found[0]


def _plain_queryset(queryset):
    """Whether ``queryset`` is all the rows of its model's default manager, nothing filtered,
    annotated or loaded along."""
    query = queryset.query
    plain = queryset.model._default_manager.all()
    return (type(queryset) is type(plain) and not query.where and not query.annotations and not query.select_related
            and not query.extra and not query.is_sliced and not plain.query.where)


def _policy_name(model, field, name):
    """The model field a serializer field ``name`` shows (its source's first step), or None. The
    fields are not bound yet when ``get_fields`` asks: an unset source is the field's name."""
    source = field.source or name
    if source == "*":
        return None
    first = source.split(".")[0]
    try:
        model._meta.get_field(first)
    except FieldDoesNotExist:
        return None
    return first


def _dropped(field, how, owned):
    """Whether a field given as ``how`` is left out of an answer: hidden, shown on one's own records
    of a model without owners, or masked but not text (a masked number or date has no honest form)."""
    A = privacy.Access
    if how == A.HIDDEN or (how == A.OWN and not owned):
        return True
    masked_text = isinstance(field, serializers.CharField) and not isinstance(field, serializers.ChoiceField)
    return how in (A.REVEAL, A.MASKED) and not masked_text


class PolicyFieldsMixin:
    """The fields of a governed model as ``core.privacy`` gives them to the requesting user: a field
    they never get is not in their answer at all (it may still be written, if the model permissions
    allow); a masked or revealable one is masked; one shown on their own records only is empty on
    the others. Without a request nothing governed is shown."""

    def get_fields(self):
        fields = super().get_fields()
        model = self.Meta.model
        self._policy_masks, self._policy_own = {}, []
        if not privacy.governs(model):
            return fields
        request = self.context.get("request")
        user = getattr(request, "user", None)
        owned = model._meta.label_lower in privacy.OWNERS
        for name, field in list(fields.items()):
            source = _policy_name(model, field, name)
            if source is None:
                continue
            how = privacy.access(user, model, source)
            if _dropped(field, how, owned):
                # Writing stays as the model permissions say: a contact person records the mental
                # state they saw without reading anybody's history of it.
                if field.read_only:
                    del fields[name]
                else:
                    field.write_only = True
            elif how in (privacy.Access.REVEAL, privacy.Access.MASKED):
                self._policy_masks[name] = privacy.field_of(model, source).mask
            elif how == privacy.Access.OWN:
                self._policy_own.append(name)
        return fields

    @property
    def policy_masks(self):
        """{serializer field: masking function} of this request (after ``fields`` was read)."""
        self.fields  # noqa: B018 — builds them, and the masks with them
        return self._policy_masks

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name, mask in self.policy_masks.items():
            if data.get(name):
                data[name] = mask(data[name])
        if self._policy_own:
            user = getattr(self.context.get("request"), "user", None)
            if not privacy.is_own(user, instance):
                for name in self._policy_own:
                    if name in data:
                        data[name] = ""
        return data


def _is_column(model, source):
    """Whether ``source`` (``"name"``, ``"region.code"``) leads through forward relations to a
    column of ``model``: reading it is plain attribute access, never a call."""
    *relations, last = source.split(".")
    try:
        for name in relations:
            field = model._meta.get_field(name)
            if not (field.concrete and (field.many_to_one or field.one_to_one)):
                return False
            model = field.related_model
        field = model._meta.get_field(last)
    except FieldDoesNotExist:
        return False
    return field.concrete and not field.is_relation


class ColumnReadMixin:
    """``to_representation`` of a ModelSerializer without DRF's attribute machinery for fields that
    read a model column (``get_attribute`` checks each step for a mapping and a callable, for each
    of the thousands of fields a page of 50 families with members and contacts has). The value still
    goes through the field's own ``to_representation``; every other field is read DRF's way, and
    so is a column whose object is missing. tests/api/test_hot_paths.py compares both outputs.

    The fields ModelSerializer builds from the model (the same for every request: it reads only
    the class) are built once per class and copied, a third of the cost, as DRF copies declared
    fields; ``get_fields`` of subclasses and mixins still adjusts them per request."""

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            cls._built_fields = built
        return copy.deepcopy(built)

    def _read_plan(self):
        plan = self.__dict__.get("_column_plan")
        if plan is None:
            model = self.Meta.model
            plan = self._column_plan = [
                (field.field_name, field, operator.attrgetter(field.source)
                 if field.source != "*" and not isinstance(field, serializers.RelatedField | serializers.ManyRelatedField)
                 and _is_column(model, field.source) else None)
                for field in self._readable_fields
            ]
        return plan

    def to_representation(self, instance):
        data = {}
        for name, field, read in self._read_plan():
            if read is not None:
                try:
                    value = read(instance)
                except AttributeError:  # e.g. a null relation on the way: DRF's defaults apply
                    read = None
                else:
                    data[name] = None if value is None else field.to_representation(value)
                    continue
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            data[name] = None if check is None else field.to_representation(attribute)
        return data


class RevealRequestSerializer(serializers.Serializer):
    names = serializers.ListField(
        child=serializers.CharField(max_length=64), min_length=1, max_length=10,
        help_text=_("Names of the masked fields to reveal."),
    )
    reason = serializers.CharField(max_length=500, help_text=_("Why the plaintext is needed (audited)."))

    def validate_names(self, names):
        allowed = self.context.get("revealable", ())
        unknown = [name for name in names if name not in allowed]
        if unknown:
            raise serializers.ValidationError(
                _("These fields cannot be revealed: %(names)s.") % {"names": ", ".join(unknown)}, code="not_revealable"
            )
        return names


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class RevealedValuesField(serializers.DictField):
    pass


class RevealResponseSerializer(serializers.Serializer):
    values = RevealedValuesField(help_text=_("The plaintext of each revealed field."))


class PolicyFieldsSchema(OpenApiSerializerExtension):
    """In the schema of answers, fields some role never receives are optional (not ``required``);
    a request still has to send every field its serializer requires."""

    target_class = "casemgmt.api.serializers.PolicyFieldsMixin"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            return schema
        model = self.target.Meta.model
        owned = model._meta.label_lower in privacy.OWNERS
        dropped = {name for name, field in self.target.fields.items()
                   if (source := _policy_name(model, field, name)) is not None
                   and any(_dropped(field, privacy.TABLE[privacy.field_of(model, source).kind][role], owned)
                           for role in privacy.ROLES)}
        if "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in dropped]
            if not schema["required"]:
                del schema["required"]
        return schema
