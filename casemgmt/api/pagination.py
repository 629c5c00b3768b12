"""Pagination of the API lists.

``StandardPagination``: page numbers with a total ``count``, a client-chosen page size up to 200 —
the default, for lists of a few thousand rows at most. Its ordering (the ``ordering`` parameter,
else the view's or the model's default) always ends with the primary key (``stable``): rows that
tie on every sort key would otherwise come back in whatever order the database finds them, and
page 2 could repeat rows of page 1 while others are never shown.

``KeysetPagination``: for the lists that reach a million rows (families). It never counts and never
skips rows with OFFSET: a page is "the next rows after the last one seen" in the list's own
ordering, a condition on the ordering columns that an index answers directly, so page 400 of a
caseload costs what page 1 costs. The ordering (the ``ordering`` parameter, else the view's
default) always ends with the primary key, so every row has exactly one place and no row is
skipped or repeated when the list changes between two pages (a check-in moving a family's due
date moves it to its new place in the list).
"""
import base64
import binascii
import datetime
import decimal
import json
from collections import namedtuple

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import BooleanField, Expression, F, Q, QuerySet, Value
from rest_framework import exceptions, serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import BasePagination, CursorPagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


def stable(queryset):
    """``queryset`` with the primary key ending its ordering, in the direction of the last key (an
    index on (key, id) then serves both directions); as it is when the pk ends it already, and for
    anything but a plain queryset (a grouped one would group by the pk too)."""
    if not isinstance(queryset, QuerySet) or queryset.query.group_by is not None:
        return queryset
    query = queryset.query
    ordering = list(query.order_by) or (list(query.get_meta().ordering) if query.default_ordering else [])
    pk_names = {"pk", queryset.model._meta.pk.name, queryset.model._meta.pk.attname}
    last = ordering[-1] if ordering else None
    if isinstance(last, str) and last.lstrip("-") in pk_names:
        return queryset
    descending = (last.startswith("-") if isinstance(last, str)
                  else bool(getattr(last, "descending", False)))
    return queryset.order_by(*ordering, "-pk" if descending else "pk")


def requested_page_size(request, name, default, maximum):
    """The ``name`` query parameter as a page size: ``default`` when absent, at most ``maximum``; a
    value that is not a whole number from 1 up is a 400 (DRF would quietly use the default, and
    the schema promises an integer of at least 1)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        size = serializers.IntegerField(min_value=1).run_validation(raw)
    except exceptions.ValidationError as exc:
        raise exceptions.ValidationError({name: exc.detail}) from None
    return min(size, maximum)


def _at_least_one(parameters):
    for parameter in parameters:
        parameter["schema"] = {**parameter["schema"], "minimum": 1}
    return parameters


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        return super().paginate_queryset(stable(queryset), request, view)

    def get_page_size(self, request):
        return requested_page_size(request, self.page_size_query_param, self.page_size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        return _at_least_one(super().get_schema_operation_parameters(view))


# One column of the ordering: its field name, whether it sorts descending, whether it may be NULL.
Key = namedtuple("Key", "name descending nullable")
Cursor = namedtuple("Cursor", "reverse values")


def _after(keys, values):
    """Rows strictly after ``values`` in the order of ``keys``, NULL sorting above every value (as
    PostgreSQL sorts: ASC NULLS LAST, DESC NULLS FIRST)."""
    condition = Q(pk__in=[])
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        if value is None:
            beyond = Q(**{f"{key.name}__isnull": False}) if key.descending else Q(pk__in=[])
            same = Q(**{f"{key.name}__isnull": True})
        else:
            beyond = Q(**{f"{key.name}__{'lt' if key.descending else 'gt'}": value})
            if key.nullable and not key.descending:
                beyond |= Q(**{f"{key.name}__isnull": True})
            same = Q(**{key.name: value})
        condition |= equal & beyond
        equal &= same
    return condition


class _RowBeyond(Expression):
    """``(a, b, …) > (x, y, …)`` (``<`` when descending): a row comparison, which an index on
    (a, b, …) answers by starting its scan right after the cursor, ties on ``a`` included."""

    output_field = BooleanField()

    def __init__(self, keys, values):
        super().__init__()
        self.descending = keys[0].descending
        self.operands = [F(key.name) for key in keys] + [Value(value) for value in values]

    def get_source_expressions(self):
        return self.operands

    def set_source_expressions(self, exprs):
        self.operands = list(exprs)

    def as_sql(self, compiler, connection):
        half = len(self.operands) // 2
        compiled = [compiler.compile(operand) for operand in self.operands]
        columns, values = compiled[:half], compiled[half:]
        sql = "({}) {} ({})".format(", ".join(c for c, _ in columns), "<" if self.descending else ">",
                                     ", ".join(v for v, _ in values))
        return sql, tuple(p for _, params in compiled for p in params)


def _stretches(keys, values):
    """``_after`` as one or two conditions to read in turn, each a range of an index on the first
    column (an OR of ranges is not): the rest of the cursor's stretch of that column (its NULLs or
    its values) and, when the other stretch sorts after it, the whole of that one."""
    lead, value, rest = keys[0], values[0], _after(keys[1:], values[1:])
    if value is None:
        stretches = [Q(**{f"{lead.name}__isnull": True}) & rest]
        if lead.descending:  # NULLs first, then every value
            stretches.append(Q(**{f"{lead.name}__isnull": False}))
        return stretches
    if all(key.descending == lead.descending and not key.nullable for key in keys[1:]):
        # NULLs of the lead fail a row comparison, as they must (they have their own stretch).
        stretches = [Q(_RowBeyond(keys, values))]
    else:
        bound, beyond = ("lte", "lt") if lead.descending else ("gte", "gt")
        stretches = [Q(**{f"{lead.name}__{bound}": value})
                     & (Q(**{f"{lead.name}__{beyond}": value}) | (Q(**{lead.name: value}) & rest))]
    if lead.nullable and not lead.descending:  # every value, then the NULLs
        stretches.append(Q(**{f"{lead.name}__isnull": True}))
    return stretches


def _plain(value):
    # Full precision (DjangoJSONEncoder cuts microseconds), read back by the field's to_python().
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be a cursor position")


class KeysetPagination(BasePagination):
    """``?cursor=`` pages of ``page_size`` rows (default 50, at most 200) with ``next`` and
    ``previous`` links and no total count; see the module docstring."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    cursor_query_param = "cursor"
    # DRF's own message, translated by DRF's catalogue.
    invalid_cursor_message = CursorPagination.invalid_cursor_message
    template = "rest_framework/pagination/previous_and_next.html"

    def paginate_queryset(self, queryset, request, view=None, fetch=list):
        """The page's rows; ``fetch(sliced queryset)`` reads each slice (by default, as it is)."""
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        forward = self.ordering_keys(queryset)
        cursor = self.decode_cursor(request, forward, queryset.model)
        reverse = bool(cursor and cursor.reverse)
        keys = [key._replace(descending=key.descending != reverse) for key in forward]
        queryset = queryset.order_by(*self.order_by(keys))
        rows = []
        # One query; a second only when the page runs past the end of the cursor's stretch (_stretches).
        for condition in _stretches(keys, cursor.values) if cursor else [Q()]:
            rows += fetch(queryset.filter(condition)[: self.page_size + 1 - len(rows)])
            if len(rows) > self.page_size:
                break
        return self._settle(forward, rows, after_cursor=cursor is not None, reverse=reverse)

    def first_page(self, request, keys, rows):
        """The first page of the ordering ``keys`` (``ordering_keys``), read by the caller:
        ``rows`` are its first ``page_size`` + 1 rows (dicts with the ordering's columns) at most."""
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        return self._settle(keys, list(rows), after_cursor=False, reverse=False)

    def later_page(self, request, keys, rows, *, reverse):
        """A page after (or, ``reverse``, before) a cursor, read by the caller (``bindable``):
        ``rows`` are its ``page_size`` + 1 rows at most, in the direction read."""
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        return self._settle(keys, list(rows), after_cursor=True, reverse=reverse)

    def bindable(self, request, forward, model):
        """For a caller that keeps its statements (``casemgmt.core.statements``): the cursor of
        ``request`` for the ordering ``forward`` as ``(reverse, keys, present, position)`` — the keys
        in the direction to read, which of the cursor's values are set, and those values as plain
        numbers and strings (a date as its ISO text, which PostgreSQL reads back as the column's
        type) — with ``conditions(present, values)`` giving the stretches to read (``_stretches``).
        None without a cursor, or when a stretch would compare a value otherwise than in a row
        comparison (the ORM would prepare it by its field, and no kept statement could rebind it)."""
        cursor = self.decode_cursor(request, forward, model)
        if cursor is None:
            return None
        keys = [key._replace(descending=key.descending != cursor.reverse) for key in forward]
        if not all(key.descending == keys[0].descending and not key.nullable for key in keys[1:]):
            return None
        present = tuple(value is not None for value in cursor.values)
        position = [value if type(value) in (int, str) else _plain(value) for value in cursor.values if value is not None]
        return cursor.reverse, keys, present, position

    @staticmethod
    def conditions(keys, present, values):
        """The stretches (``_stretches``) after the position whose set values are ``values``."""
        values = iter(values)
        return _stretches(keys, [next(values) if here else None for here in present])

    def _settle(self, forward, rows, *, after_cursor, reverse):
        more, page = len(rows) > self.page_size, rows[: self.page_size]
        if reverse:
            page.reverse()
            self.has_previous, self.has_next = more, True
        else:
            self.has_previous, self.has_next = after_cursor, more
        self.keys, self.page = forward, page
        self.display_page_controls = self.has_previous or self.has_next
        return page

    def get_page_size(self, request):
        return requested_page_size(request, self.page_size_query_param, self.page_size, self.max_page_size)

    # ---- the ordering --------------------------------------------------------------------------
    def ordering_keys(self, queryset):
        """The queryset's ordering (plain fields of the model), up to the first unique field; the
        primary key ends it when there is none."""
        meta = queryset.model._meta
        keys = []
        for item in queryset.query.order_by or meta.ordering:
            if not isinstance(item, str) or item == "?":
                raise TypeError(f"KeysetPagination orders by field names only, not {item!r}.")
            name = item.lstrip("-")
            field = meta.pk if name == "pk" else meta.get_field(name)
            keys.append(Key(field.attname, item.startswith("-"), field.null))
            if field.primary_key or (field.unique and not field.null):
                return keys
        # In the direction of the last column, so that an index on (column, id) serves both ways.
        return [*keys, Key(meta.pk.attname, bool(keys) and keys[-1].descending, False)]

    @staticmethod
    def order_by(keys):
        """The ``order_by()`` of the ordering ``keys``, NULLs placed as PostgreSQL places them."""
        expressions = []
        for key in keys:
            expression = F(key.name)
            if key.descending:
                expressions.append(expression.desc(nulls_first=True) if key.nullable else expression.desc())
            else:
                expressions.append(expression.asc(nulls_last=True) if key.nullable else expression.asc())
        return expressions

    # ---- cursors -------------------------------------------------------------------------------
    def decode_cursor(self, request, keys, model):
        encoded = request.query_params.get(self.cursor_query_param)
        if not encoded:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(encoded.encode("ascii")))
            names, values = data["k"], data["v"]
            if names != [key.name for key in keys] or len(values) != len(keys):
                raise ValueError("the cursor belongs to another ordering")
            values = [None if value is None else model._meta.get_field(key.name).to_python(value)
                      for key, value in zip(keys, values, strict=True)]
            return Cursor(bool(data.get("r")), values)
        except (TypeError, ValueError, KeyError, UnicodeError, binascii.Error, FieldDoesNotExist, ValidationError):
            raise NotFound(self.invalid_cursor_message) from None

    def encode_cursor(self, row, reverse):
        # A model instance, or a dict of a ``values()`` page (the columns of the ordering included).
        values = [row[key.name] if isinstance(row, dict) else getattr(row, key.name) for key in self.keys]
        data = {"k": [key.name for key in self.keys], "v": values}
        if reverse:
            data["r"] = 1
        raw = json.dumps(data, default=_plain, separators=(",", ":")).encode()
        return replace_query_param(self.base_url, self.cursor_query_param, base64.urlsafe_b64encode(raw).decode("ascii"))

    def get_next_link(self):
        if not self.has_next:
            return None
        if not self.page:  # stepped back past the start: the list from its first row
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self.encode_cursor(self.page[-1], reverse=False)

    def get_previous_link(self):
        if not self.has_previous:
            return None
        if not self.page:
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self.encode_cursor(self.page[0], reverse=True)

    # ---- response and schema -------------------------------------------------------------------
    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {**link, "example": f"http://api.example.org/accounts/?{self.cursor_query_param}=eyJr"},
                "previous": link,
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": str(CursorPagination.cursor_query_description), "schema": {"type": "string"}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": str(PageNumberPagination.page_size_query_description),
             "schema": {"type": "integer", "minimum": 1}},
        ]

    def get_html_context(self):
        return {"previous_url": self.get_previous_link(), "next_url": self.get_next_link()}

    def get_results(self, data):
        return data["results"]
