"""A serializer's output built by PostgreSQL, for the hottest reads (a caseload, a family's page,
a search).

``Projection(serializer)`` walks the readable fields of an *instantiated* serializer — so the
fields a role never receives are already gone — and builds one SQL expression that writes, row
by row, the very text DRF's renderer writes of ``serializer.data``: the same keys in the same
order, the same values, written the same way (compact). The database then answers a page of cards in one statement, nested lists
included, instead of a query per relation and a Python object per row and field.

What it knows how to build (anything else raises ``Unsupported`` when the projection is built, and
the view answers the ordinary way — never a silently different answer):

- a model column reached through forward relations (``region.code``): text, choices, integers,
  booleans, dates as PostgreSQL writes them (ISO 8601, as DRF does), date-times formatted in SQL
  exactly as DRF formats them (``isoformat()`` in the current time zone, ``Z`` for UTC);
- a foreign key as its id; a nested serializer over a forward relation (``null`` when absent);
  relations are subqueries on the related row's primary key, never joins, so that the expression
  reads only its model's own table and is compiled once (``Projection.text``);
- a nested list (``many=True``) declared in the parent's ``Meta.sql_lists``:
  ``{name: function(outer_ref) -> queryset of the child model, ordered}``;
- a method field declared in ``Meta.sql_methods``: ``{name: function() -> expression}`` over the serializer's model;
- an encrypted column: its ciphertext travels in the JSON and is decrypted (and masked, for the
  reader, as ``core.privacy`` says) in Python afterwards, by ``Projection.finish``.

tests/api/test_sqljson.py compares both outputs for every role on rows with every kind of value.
"""
import re
import zoneinfo

from django.db import DEFAULT_DB_ALIAS, connection, models
from django.db.models import Expression, F, OuterRef, Subquery, TextField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from rest_framework import serializers
from rest_framework.settings import api_settings

from casemgmt.core.crypto import EncryptedTextField

from .serializers import PolicyFieldsMixin

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The serializer fields whose value PostgreSQL's json writes as DRF does, each with the columns it
# may read (a CharField over a number, say, is a string in DRF's answer and a number in json's).
_TEXT = (models.CharField, models.TextField)
_PLAIN = (
    (serializers.ChoiceField, (*_TEXT, models.IntegerField)),
    (serializers.CharField, _TEXT),
    (serializers.IntegerField, (models.IntegerField,)),
    (serializers.BooleanField, (models.BooleanField,)),
)


class Unsupported(Exception):
    """A field the projection cannot build; the caller answers through the serializer instead."""


class JsonText(TextField):
    """The type of an expression whose text is already JSON (``JsonObject``, ``JsonArray``): a value
    of an object is written as it is, not quoted as a string."""


class JsonObject(Expression):
    """A JSON object as text, written as DRF's renderer writes it (compact: no space after ``,`` or
    ``:``), with its keys in the serializer's order: ``'{"id":' || to_json(id)::text || ...``.
    (``json_build_object`` writes ``"id" : 1, ``: the cards could not go into a response as they
    are.) The keys are field names, checked to be identifiers and written into the SQL."""

    output_field = JsonText()

    def __init__(self, items):
        super().__init__()
        for key, _value in items:
            if not _KEY.match(key):
                raise Unsupported(f"{key!r} is not a plain field name")
        self.keys = [key for key, _value in items]
        self.values = [value for _key, value in items]

    def get_source_expressions(self):
        return self.values

    def set_source_expressions(self, exprs):
        self.values = list(exprs)

    def as_sql(self, compiler, connection):
        if not self.keys:
            return "'{}'", []
        parts, params = [], []
        for i, (key, value) in enumerate(zip(self.keys, self.values, strict=True)):
            sql, value_params = compiler.compile(value)
            if not isinstance(getattr(value, "output_field", None), JsonText):
                sql = f"to_json({sql})::text"  # PostgreSQL escapes a string as Python's json does
            parts.append(f"""'{"," if i else "{"}"{key}":' || coalesce({sql}, 'null')""")
            params.extend(value_params)
        return f"({' || '.join(parts)} || '}}')", params


class JsonArray(Subquery):
    """The subquery's one column of JSON text as a JSON array, in its order (ARRAY() keeps the
    order of its subquery), ``[]`` when it has no rows."""

    template = "'[' || array_to_string(ARRAY(%(subquery)s), ',') || ']'"
    output_field = JsonText()


class IsoDateTime(Expression):
    """A ``timestamptz`` as DRF's DateTimeField writes it: ``datetime.isoformat()`` in ``zone``
    (microseconds only when there are any), ``Z`` instead of ``+00:00``."""

    output_field = TextField()

    def __init__(self, value, zone):
        super().__init__()
        self.value, self.zone = value, zone

    def get_source_expressions(self):
        return [self.value]

    def set_source_expressions(self, exprs):
        (self.value,) = exprs

    def as_sql(self, compiler, connection):
        ts, params = compiler.compile(self.value)
        if params:  # the column itself, written several times below, must need no parameters
            raise TypeError("IsoDateTime formats a plain column")
        local = f"({ts} AT TIME ZONE {_zone_literal(self.zone)})"
        offset = f"({local} - ({ts} AT TIME ZONE 'UTC'))"
        # NULL in, NULL out: every part is NULL for a NULL time, and so is their concatenation.
        sql = (
            # isoformat() writes microseconds only when there are any: ".000000" is only ever those.
            f"replace(to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '')"
            f" || CASE WHEN {offset} = interval '0' THEN 'Z' WHEN {offset} < interval '0'"
            f" THEN '-' || to_char(-{offset}, 'HH24:MI') ELSE '+' || to_char({offset}, 'HH24:MI') END"
        )
        return sql, []


def _zone_literal(zone):
    """A time zone name as an SQL literal (written into the statement: a parameter repeated for
    every time of every card made the statement slow to send). Only a real zone name passes."""
    zoneinfo.ZoneInfo(zone)
    if not re.fullmatch(r"[A-Za-z0-9/_+-]+", zone):
        raise Unsupported(f"time zone {zone!r}")
    return f"'{zone}'"


class Projection:
    """The JSON of ``serializer`` (instantiated, with its context) as one SQL expression over its
    model, and the Python steps left for encrypted values (``finish``)."""

    def __init__(self, serializer):
        self.zone = str(timezone.get_current_timezone())
        _zone_literal(self.zone)  # a zone it can write into the SQL, or Unsupported now, not when compiled
        if api_settings.DATETIME_FORMAT != "iso-8601" or api_settings.DATE_FORMAT != "iso-8601":
            raise Unsupported("only ISO 8601 dates and times are built in SQL")
        if not api_settings.UNICODE_JSON or not api_settings.COMPACT_JSON:
            raise Unsupported("the renderer's settings")
        self.steps = []  # (path to a list of dicts or a dict, key, function of the value)
        self.model = serializer.Meta.model
        self.expression = self._object(serializer, path=())
        self._compiled = None

    # ---- building ------------------------------------------------------------------------------
    # Everything is relative to the serializer's model; a relation is a subquery by primary key, so
    # the expression names no join of its own and can be compiled once (``text``).
    def _object(self, serializer, *, path):
        model = serializer.Meta.model
        masked = serializer.policy_masks if isinstance(serializer, PolicyFieldsMixin) else {}
        if isinstance(serializer, PolicyFieldsMixin) and serializer._policy_own:
            raise Unsupported("fields shown on the reader's own records only")
        return JsonObject([(field.field_name, self._value(serializer, model, field, path, masked.get(field.field_name)))
                           for field in serializer._readable_fields])

    def _value(self, serializer, model, field, path, masker):
        name = field.field_name
        if isinstance(field, serializers.ListSerializer):
            build = getattr(serializer.Meta, "sql_lists", {}).get(name)
            if build is None:
                raise Unsupported(f"list {name} without Meta.sql_lists")
            return JsonArray(build(OuterRef("pk")).values(json=self._object(field.child, path=(*path, name, "*"))))
        if isinstance(field, serializers.BaseSerializer):
            return self._through(model, field.source.split("."), lambda related: self._object(field, path=(*path, name)))
        if isinstance(field, serializers.SerializerMethodField):
            build = getattr(serializer.Meta, "sql_methods", {}).get(name)
            if build is None:
                raise Unsupported(f"method field {name} without Meta.sql_methods")
            return build()
        if field.source == "*":
            raise Unsupported(f"{name} reads the whole object")
        *relations, last = field.source.split(".")
        return self._through(model, relations, lambda related: self._column(related, field, last, path, masker))

    def _through(self, model, relations, build):
        """``build(model)`` of the model at the end of the forward ``relations``, each a subquery on
        the related row's primary key (``NULL`` when there is none)."""
        if not relations:
            return build(model)
        first, *rest = relations
        relation = model._meta.get_field(first)
        if not (relation.concrete and (relation.many_to_one or relation.one_to_one)):
            raise Unsupported(f"{first} is not a forward relation")
        related = relation.related_model
        inner = self._through(related, rest, build)
        # No ordering: one row at most (a model's default ordering would sort it all the same).
        return Subquery(related._default_manager.filter(pk=OuterRef(relation.attname)).order_by().values(v=inner))

    def _column(self, model, field, name, path, masker):
        column = model._meta.get_field(name)
        if not column.concrete:
            raise Unsupported(f"{field.field_name} is not a column")
        if isinstance(field, serializers.RelatedField):
            if not isinstance(field, serializers.PrimaryKeyRelatedField) or not (column.many_to_one or column.one_to_one):
                raise Unsupported(f"{field.field_name} is not a foreign key given by its id")
            return F(column.attname)
        if column.is_relation:
            raise Unsupported(f"{field.field_name} is a relation")
        if isinstance(column, EncryptedTextField):
            if not isinstance(field, serializers.CharField):
                raise Unsupported(f"{field.field_name} is encrypted but not text")
            self.steps.append((path, field.field_name, _reveal(column, masker)))
            return F(name)
        if masker:
            self.steps.append((path, field.field_name, masker))
        if isinstance(field, serializers.DateTimeField) and isinstance(column, models.DateTimeField):
            return IsoDateTime(F(name), self.zone)
        if isinstance(field, serializers.DateField) and type(column) is models.DateField:
            return F(name)
        for kind, columns in _PLAIN:
            if isinstance(field, kind):
                if isinstance(column, columns):
                    return F(name)
                break
        raise Unsupported(f"{field.field_name}: {type(field).__name__} over {type(column).__name__}")

    # ---- using ---------------------------------------------------------------------------------
    def text(self):
        """The card as ``text``, for ``queryset.values(card=projection.text())`` on a queryset of the
        model. Compiled once: the expression names only the model's own table (its relations are
        subqueries), which is the base table of such a queryset, so the SQL is the same in every
        one of them and resolving ~50 columns per request is spared."""
        if self._compiled is None:
            query = self.model._default_manager.values(card=self.expression).query
            compiler = query.get_compiler(DEFAULT_DB_ALIAS)
            sql, params = compiler.compile(query.annotations["card"])
            table = connection.ops.quote_name(self.model._meta.db_table)
            if table not in sql:
                raise Unsupported("the card reads nothing of its own table")
            self._compiled = (sql, tuple(params))
        return RawSQL(*self._compiled, output_field=JsonText())

    @property
    def final(self):
        """Whether the database's text is the card as it is: nothing to decrypt or mask (``finish``)."""
        return not self.steps

    def finish(self, card):
        """Decrypt and mask what the database could not, in place; returns the card."""
        for path, key, function in self.steps:
            for holder in _holders(card, path):
                value = holder.get(key)
                if value:
                    holder[key] = function(value)
        return card


def _reveal(column, mask):
    def reveal(value):
        plain = column.from_db_value(value, None, None)
        return mask(plain) if mask and plain else plain
    return reveal


def _holders(card, path):
    holders = [card]
    for step in path:
        if step == "*":
            holders = [item for holder in holders for item in holder]
        else:
            holders = [holder[step] for holder in holders if holder.get(step) is not None]
    return holders


_cache = {}


def projection_of(serializer_class, *variant, make):
    """The ``Projection`` of the serializer ``make()`` makes (of ``serializer_class``, with its
    context), built once per serializer class, time zone and ``variant`` (what else decides its
    fields, e.g. whether the reader may see sensitive data): a request that finds it made makes no
    serializer. ``None`` when a field cannot be built in SQL."""
    key = (serializer_class, str(timezone.get_current_timezone()), *variant)
    if key not in _cache:
        try:
            _cache[key] = Projection(make())
        except Unsupported:
            _cache[key] = None
    return _cache[key]
