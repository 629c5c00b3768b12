"""The database holds the triggers and helpers that are declared, no more and no fewer.

The test database is built by replaying every migration from an empty one, so what it holds is what
the migrations replay: the declared triggers (django-pgtrigger, ``reports.triggers`` and
``AuditEvent.Meta.triggers``) installed and enabled with the SQL they are declared with, the helper
functions with the text ``reports.triggers.HELPERS`` gives them, and nothing that the hand-installed
triggers of earlier versions left behind. A bulk load switches the tally triggers off and on again
with pgtrigger's own switch.
"""
import re

import pgtrigger
import pgtrigger.core
import pytest
from django.db import connection
from pgtrigger import installation

from reports import aggregates, triggers

pytestmark = pytest.mark.django_db

HELPER = re.compile(r"CREATE OR REPLACE FUNCTION (\w+)\(([^)]*)\).*?AS \$\$(.*?)\$\$;", re.DOTALL)


def _rows(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_every_declared_trigger_is_installed_and_enabled_as_declared():
    declared = pgtrigger.registered()
    assert {uri for uri, _ in _uris(declared)} >= {"core.AuditEvent:append_only", "families.CheckIn:tally_checkins_inserted"}
    statuses = {uri: trigger.get_installation_status(model) for uri, (model, trigger) in _uris(declared)}
    assert {uri: status for uri, status in statuses.items() if status != (pgtrigger.core.INSTALLED, True)} == {}
    # What `manage.py pgtrigger prune` would remove: triggers of pgtrigger's that nothing declares.
    assert installation.prunable() == []


def test_the_migrations_leave_exactly_the_declared_triggers_and_functions():
    declared = {trigger.get_pgid(model) for model, trigger in pgtrigger.registered()}
    tables = {model._meta.db_table for model, _trigger in pgtrigger.registered()}
    installed = _rows("""SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                         WHERE NOT t.tgisinternal AND c.relname = ANY(%s)""", [list(tables)])
    assert {name for (name,) in installed} == declared
    functions = _rows("""SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
                         AND prorettype = 'trigger'::regtype""")
    assert {name for (name,) in functions} == declared


def test_the_helpers_are_those_declared_with_their_declared_text():
    declared = {name: (arguments, body) for name, arguments, body in HELPER.findall(triggers.HELPERS)}
    assert len(declared) == triggers.HELPERS.count("CREATE OR REPLACE FUNCTION") > 10
    installed = _rows("""SELECT proname, prosrc FROM pg_proc WHERE pronamespace = 'public'::regnamespace
                         AND proname LIKE 'reports\\_%%' ORDER BY 1""")
    # One function per name (a changed signature would leave the old one behind), none undeclared.
    assert [name for name, _src in installed] == sorted(declared)
    # A helper changed in reports.triggers without a migration carrying its new text fails here.
    changed = [name for name, src in installed if src != declared[name][1]]
    assert changed == []


def test_the_tally_triggers_call_only_declared_helpers():
    helpers = set(re.findall(r"CREATE OR REPLACE FUNCTION (\w+)\(", triggers.HELPERS))
    called = set()
    for model, trigger in triggers.registered():
        called |= set(re.findall(r"\b(reports_\w+)\(", trigger.compile(model).install_sql))
    called |= set(re.findall(r"\b(reports_\w+)\(", triggers.HELPERS.split("CREATE OR REPLACE FUNCTION", 1)[1]))
    assert called - helpers == set()


def _enabled(tables):
    return dict(_rows("""SELECT t.tgname, t.tgenabled <> 'D' FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                         WHERE NOT t.tgisinternal AND c.relname = ANY(%s)""", [list(tables)]))


@pytest.mark.db_owner  # switching triggers off is the owner's (bulk loads), never the application's
def test_a_bulk_load_switches_the_tally_triggers_off_and_on_again():
    bulk = {trigger.get_pgid(model) for model, trigger in triggers.registered()
            if model._meta.db_table in aggregates.BULK_TABLES}
    tables = {model._meta.db_table for model, _trigger in triggers.registered()}
    assert bulk and all(_enabled(tables).values())
    with aggregates.deferred():
        during = _enabled(tables)
        assert {name for name, on in during.items() if not on} == bulk
        assert all(trigger.get_installation_status(model)[1] is False
                   for model, trigger in triggers.registered() if trigger.get_pgid(model) in bulk)
    assert all(_enabled(tables).values())


def _uris(pairs):
    return [(trigger.get_uri(model), (model, trigger)) for model, trigger in pairs]
