"""casemgmt.core.statements.CompiledStatements: a statement kept per shape gives, value for value,
what the ORM writes itself; whatever cannot be rebound safely is compiled every time instead."""
import datetime

import pytest
from django.db.models import Q
from django.utils import timezone

from casemgmt.core.models import Region
from casemgmt.core.statements import CompiledStatements
from families.models import Family

pytestmark = pytest.mark.django_db


def _by_code_or_parent(code, parent):
    return Region.objects.filter(Q(code=code) | Q(parent_id=parent)).values_list("id", flat=True)


def test_a_kept_statement_binds_each_calls_values_where_the_orm_puts_them(regions):
    statements = CompiledStatements()
    zhangpu = regions["zhangpu"]
    for code, parent in (("350623000000", zhangpu.pk), ("350600000000", -1), ("x'; DROP TABLE core_region; --", 0)):
        sql, params = statements.get("region", _by_code_or_parent, code=code, parent=parent)
        assert (sql, tuple(params)) == _by_code_or_parent(code, parent).query.sql_with_params()
        assert sorted(row.pk for row in Region.objects.raw(f"SELECT id FROM ({sql}) AS found", params)) == sorted(
            Region.objects.filter(Q(code=code) | Q(parent_id=parent)).values_list("id", flat=True))
    assert len(statements.kept()) == 1
    assert Region.objects.filter(code="350623000000").exists()


def test_a_value_that_changes_the_orms_sql_keeps_nothing(regions):
    """A stand-in beyond a small column's range would drop the condition: compared with the call's
    own statement, it is found out and nothing is kept."""
    statements = CompiledStatements()

    def build(code, level):
        return Region.objects.filter(code=code, level__gte=level)
    for level in (3, 2):
        sql, params = statements.get("level", build, code="350623000000", level=level)
        assert (sql, tuple(params)) == build("350623000000", level).query.sql_with_params()
    assert statements.kept() == {}


def test_a_startswith_pattern_is_rebound_escaped_as_the_orm_escapes_it(families):
    """A region subtree (``path LIKE 'prefix%'``) is one statement for every region."""
    statements = CompiledStatements()

    def build(path):
        return Family.objects.filter(region_path__startswith=path).values_list("id", flat=True)
    for path in ("350623", "350624", "35_6%", ""):
        sql, params = statements.get("subtree", build, path=path)
        assert (sql, tuple(params)) == build(path).query.sql_with_params()
        assert sorted(row.pk for row in Family.objects.raw(f"SELECT id FROM ({sql}) AS found", params)) == sorted(
            build(path))
    assert len(statements.kept()) == 1
    assert (statements.hits, statements.misses) == (3, 1)


@pytest.mark.parametrize("build", [
    lambda path: Family.objects.filter(region_path__contains=path),  # the value inside another LIKE pattern
    lambda path: Family.objects.filter(region_path=path, updated_at__lt=timezone.now()),  # a moment of time
])
def test_what_cannot_be_rebound_is_compiled_every_time(build, families):
    statements = CompiledStatements()
    for path in ("350623", "350624"):
        sql, params = statements.get("families", build, path=path)
        expected_sql, expected = build(path).query.sql_with_params()
        assert len(params) == len(expected)
        assert sql == expected_sql and [p for p in params if not isinstance(p, datetime.datetime)] == [
            p for p in expected if not isinstance(p, datetime.datetime)]
    assert statements.kept() == {}


def test_a_value_written_into_the_sql_is_not_kept(families):
    statements = CompiledStatements()
    sql, params = statements.get("first n", lambda n: Family.objects.order_by("id")[:n], n=2)
    assert (sql, tuple(params)) == Family.objects.order_by("id")[:2].query.sql_with_params()
    assert statements.kept() == {}
