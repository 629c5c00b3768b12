"""Statements the ORM writes once per shape, the values that vary rebound on every call.

Compiling a queryset costs a hot request more than running it: a family's page, the family a
check-in names, the cadence rule of that family. ``CompiledStatements.get(key, build, **values)``
calls ``build(**values)`` once per ``key`` with stand-ins — parameters no real value can be — finds
where they went among the statement's parameters, and from then on only puts the call's values in
their places. ``key`` must say everything else that shapes the statement.

A string stand-in may also have become the ``LIKE`` pattern of ``__startswith`` (a region subtree:
``path LIKE 'prefix%'``); its place then takes the call's value escaped as the ORM escapes it, so
that a statement is kept per shape of reach, not per region. A statement is not kept, and is
compiled on every call, when a stand-in went anywhere else (inside another pattern, or written into
the SQL) or when a parameter is anything but a plain number, string, boolean or NULL (a moment of
time, say: kept, it would stay that moment).

``hits`` and ``misses`` count the calls that found their statement kept and those that compiled it."""
import decimal
import threading
from collections import OrderedDict

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections

# Stand-ins: integers and strings no id, code or path is.
_INT = -7_316_051_902_844_197_003
_STATIC = (str, int, float, bool, decimal.Decimal, type(None))


def _stand_in(value, i):
    if type(value) is int:
        return _INT - i
    if type(value) is str:
        return f"\x1fstand-in {i}\x1f"
    raise TypeError(f"a {type(value).__name__} cannot be rebound in a kept statement")


def _like_prefix(value):
    """The parameter ``__startswith`` makes of ``value``: its wildcards escaped, then ``%``."""
    return connections[DEFAULT_DB_ALIAS].ops.prep_for_like_query(value) + "%"


def row_id(model, value, using=DEFAULT_DB_ALIAS):
    """``value`` as a primary key of ``model`` that a statement can take, or None: not a number (a
    boolean is not one), or beyond the column's range, where the ORM would drop the condition."""
    if isinstance(value, bool):
        return None
    try:
        pk = model._meta.pk.to_python(value)
    except (TypeError, ValueError, ValidationError):
        return None
    low, high = connections[using].ops.integer_field_range(model._meta.pk.get_internal_type())
    return pk if isinstance(pk, int) and low <= pk <= high else None


def rows_of(sql, params, using=DEFAULT_DB_ALIAS, limit=None):
    """The rows of a statement as dicts, the columns as the database driver reads them (a kept
    statement has no queryset to read it with); ``limit``: fetch no more than that many."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        found = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
        return [dict(zip(names, row, strict=True)) for row in found]


class With:
    """``WITH name AS MATERIALIZED (queryset), … main``: a statement whose ``main`` queryset reads
    the rows of other querysets by name (``RawSQL('SELECT * FROM name')``), each computed once
    however often it is read. Django writes no CTE; this is one, for ``CompiledStatements`` and
    anything else that takes ``thing.query.sql_with_params()``."""

    def __init__(self, main, **named):
        self.main, self.named = main, named

    @property
    def query(self):
        return self

    def sql_with_params(self):
        quote = connections[self.main.db].ops.quote_name
        parts, params = [], []
        for name, queryset in self.named.items():
            sql, named_params = queryset.query.sql_with_params()
            parts.append(f"{quote(name)} AS MATERIALIZED ({sql})")
            params += named_params
        sql, main_params = self.main.query.sql_with_params()
        return f"WITH {', '.join(parts)} {sql}", (*params, *main_params)


class CompiledStatements:
    def __init__(self, size=512):
        self.size = size
        self.statements = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key, build, **values):
        """``(sql, params)`` of ``build(**values).query``."""
        cache_key = (key, tuple((name, type(value)) for name, value in values.items()))
        with self.lock:
            kept = self.statements.get(cache_key)
            if kept is not None:
                self.statements.move_to_end(cache_key)
                self.hits += 1
            else:
                self.misses += 1
        if kept is None:
            statement = build(**values).query.sql_with_params()
            kept = self._compile(build, values, statement)
            if kept is not None:
                with self.lock:
                    self.statements[cache_key] = kept
                    while len(self.statements) > self.size:
                        self.statements.popitem(last=False)
            return statement
        sql, params, slots = kept
        bound = list(params)
        actual = list(values.values())
        for position, which, like in slots:
            value = _like_prefix(actual[which]) if like else actual[which]
            bound[position] = type(params[position])(value)  # the ORM's own wrapper (psycopg's Int8...)
        return sql, bound

    @staticmethod
    def _compile(build, values, statement):
        """The statement with stand-ins, kept only if it is, stand-ins aside, the very statement
        ``build`` gave for this call's values: a value can change the SQL the ORM writes (an
        integer beyond its column's range drops the condition), and then nothing is kept."""
        actual = list(values.values())
        stand_ins = [_stand_in(value, i) for i, value in enumerate(actual)]
        try:
            sql, params = build(**dict(zip(values, stand_ins, strict=True))).query.sql_with_params()
        except (ValueError, TypeError, ArithmeticError):  # the ORM refused a stand-in (a negative slice, say)
            return None
        expected_sql, expected = statement
        if sql != expected_sql or len(params) != len(expected) or any(str(s) in sql for s in stand_ins):
            return None  # another shape, or a value written into the SQL itself (a LIMIT, say)
        patterns = [_like_prefix(s) if isinstance(s, str) else None for s in stand_ins]
        slots = []
        for position, (param, given) in enumerate(zip(params, expected, strict=True)):
            if isinstance(param, (int, str)) and not isinstance(param, bool) and param in stand_ins:
                which = stand_ins.index(param)
                if given != actual[which]:
                    return None
                slots.append((position, which, False))
            elif isinstance(param, str) and param in patterns:
                which = patterns.index(param)
                if given != _like_prefix(actual[which]):
                    return None
                slots.append((position, which, True))
            elif not isinstance(param, _STATIC) or param != given:
                return None  # a stand-in inside another parameter (a LIKE pattern), or a moment of time
        return sql, tuple(params), tuple(slots)

    def kept(self):
        """What is kept now: {key: (sql, params, slots)}."""
        with self.lock:
            return dict(self.statements)

    def clear(self):
        with self.lock:
            self.statements.clear()
            self.hits = self.misses = 0
