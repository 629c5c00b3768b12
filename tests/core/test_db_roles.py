"""The application's database role, tried against the real PostgreSQL: it reads and writes, appends
to the audit trail, and is refused everything that could empty the trail or change the schema;
only the owner purges old audit rows.

With DATABASE_OWNER_URL set (as in CI) the whole suite runs as the application's role, and these
tests try that very connection. With one superuser role, ``as_app`` makes a role the way ``db_roles``
does (``dbroles.grant``) and switches to it inside a transaction that is rolled back."""
import contextlib
import datetime
import io
import os

import pgtrigger
import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from casemgmt.core import dbroles
from casemgmt.core.audit import audit_log, updated_and_logged
from casemgmt.core.management.commands.db_roles import Command as DbRolesCommand
from casemgmt.core.models import AuditEvent
from casemgmt.security.services import audit_purge
from families import services as family_services
from families.models import Family, FamilyMember

STAND_IN = f"casemgmt_test_app_{os.getpid()}"
# The append-only trigger's name (and its function's) in the database, as django-pgtrigger derives it.
APPEND_ONLY = pgtrigger.registered("core.AuditEvent:append_only")[0][1].get_pgid(AuditEvent)


def _stand_in(conn):
    """A role with the application's grants, in ``conn``'s open transaction (rolled back with it)."""
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {STAND_IN} NOLOGIN")
    dbroles.grant(conn, STAND_IN)
    return STAND_IN


@contextlib.contextmanager
def as_app():
    """The application's role on "default", in a transaction rolled back at the end."""
    with transaction.atomic():
        if dbroles.configured():
            role = dbroles.app_role()
        else:
            role = _stand_in(connection)
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL ROLE {role}")
        yield role
        transaction.set_rollback(True)


@contextlib.contextmanager
def as_owner():
    """The owner's connection, in a transaction rolled back at the end; yields it and the
    application's role."""
    with dbroles.as_owner() as alias, transaction.atomic(using=alias):
        owner = connections[alias]
        yield owner, dbroles.app_role() or _stand_in(owner)
        transaction.set_rollback(True, using=alias)


def current_user(conn=connection):
    with conn.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        return cursor.fetchone()


def privileges(conn, role, table):
    kinds = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
    with conn.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join("has_table_privilege(%s, %s, %s)" for _ in kinds),
                       [value for kind in kinds for value in (role, table, kind)])
        return {kind for kind, granted in zip(kinds, cursor.fetchone(), strict=True) if granted}


def test_the_suite_runs_as_a_role_that_owns_nothing(db):
    if os.environ.get("CI") == "true":
        assert dbroles.configured(), ".ci/run must run the suite as the application's role"
    with as_app() as role:
        user, superuser = current_user()
        assert user == role and not superuser
        with connection.cursor() as cursor:
            cursor.execute("""SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
                              AND pg_has_role(c.relowner, 'USAGE')""")
            assert cursor.fetchall() == []
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            tables = [name for (name,) in cursor.fetchall()]
        assert len(tables) > 50
        for table in tables:
            expected = {"SELECT", "INSERT"} if table == "core_auditevent" else {"SELECT", "INSERT", "UPDATE", "DELETE"}
            assert privileges(connection, role, table) == expected, table


REFUSED = {
    "truncate the audit trail": "TRUNCATE core_auditevent",
    "update an audit row": "UPDATE core_auditevent SET event = 'forged' WHERE id = {event}",
    "delete an audit row": "DELETE FROM core_auditevent WHERE id = {event}",
    "disable the append-only trigger": f"ALTER TABLE core_auditevent DISABLE TRIGGER {APPEND_ONLY}",
    "disable every trigger": "ALTER TABLE core_auditevent DISABLE TRIGGER ALL",
    "drop the trigger": f"DROP TRIGGER {APPEND_ONLY} ON core_auditevent",
    "replace the trigger's function": f"CREATE OR REPLACE FUNCTION {APPEND_ONLY}() RETURNS trigger "
                                      "AS $$ BEGIN RETURN OLD; END $$ LANGUAGE plpgsql",
    "skip triggers for the session": "SET session_replication_role = replica",
    "ignore the trigger as pgtrigger.ignore does": f"SELECT set_config('pgtrigger.ignore', '{{{{{APPEND_ONLY}}}}}', true); "
                                                   "DELETE FROM core_auditevent WHERE id = {event}",
    "take the table": "ALTER TABLE core_auditevent OWNER TO CURRENT_USER",
    "drop the audit trail": "DROP TABLE core_auditevent",
    "drop another table": "DROP TABLE families_family CASCADE",
    "truncate another table": "TRUNCATE families_checkin",
    "alter another table": "ALTER TABLE families_family ADD COLUMN x int",
    "disable another table's triggers": "ALTER TABLE families_checkin DISABLE TRIGGER ALL",
    "create a table in public": "CREATE TABLE public.casemgmt_probe (id int)",
}


@pytest.mark.parametrize("statement", REFUSED.values(), ids=REFUSED.keys())
def test_the_application_role_is_refused(people, statement):
    event = audit_log(actor=people["alice"], event="families.family.viewed")
    with as_app():
        with pytest.raises(DatabaseError) as refusal, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement.format(event=event.pk))
        assert isinstance(refusal.value.__cause__, psycopg.errors.InsufficientPrivilege), refusal.value
        # Refused by the role's privileges, before the append-only trigger is even asked.
        assert "append-only" not in str(refusal.value)
        assert AuditEvent.objects.get(pk=event.pk).event == "families.family.viewed"
        with connection.cursor() as cursor:
            cursor.execute("""SELECT tgenabled FROM pg_trigger
                              WHERE tgname = %s AND tgrelid = 'core_auditevent'::regclass""", [APPEND_ONLY])
            assert cursor.fetchone() == ("O",)


def test_the_application_role_still_does_its_work(client, people, regions, families):
    with as_app() as role:
        before = AuditEvent.objects.count()
        family = family_services.family_register(actor=people["alice"], region=regions["village"], category="bereaved",
                                                 file_number="ZP-9001", address="测试路2号")
        member = FamilyMember.objects.create(family=family, name="张三", relation="father")
        FamilyMember.objects.filter(pk=member.pk).update(name="张四")
        updated_and_logged(Family.objects.filter(pk=family.pk), {"address": "测试路3号"}, actor=people["alice"],
                           event="families.family.updated", obj=family)
        audit_log(actor=people["alice"], event="families.family.viewed", obj=family)
        client.force_login(people["alice"])
        assert client.get(f"/api/v1/families/{families['own'].pk}/").status_code == 200
        member.delete()
        assert not FamilyMember.objects.filter(pk=member.pk).exists()
        assert Family.objects.get(pk=family.pk).address == "测试路3号"
        assert AuditEvent.objects.count() >= before + 4
        assert current_user()[0] == role


@pytest.mark.django_db(transaction=True, databases="__all__")  # the owner sees only committed rows
def test_only_the_owner_purges_old_audit_rows(people):
    now = timezone.now()
    old = AuditEvent.objects.create(event="old.4", at=now - datetime.timedelta(days=4 * 365))
    with as_app(), pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=old.pk).delete()
    assert audit_purge(before=now - datetime.timedelta(days=3 * 365 + 30)) == 1
    assert not AuditEvent.objects.filter(pk=old.pk).exists()
    assert AuditEvent.objects.filter(event="security.audit.purged").latest("id").after["deleted"] == 1
    with dbroles.as_owner() as alias:
        assert dbroles.owns(connections[alias], "core_auditevent")


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_later_migrations_tables_get_the_same_grants(db):
    with as_owner() as (owner, role):
        with owner.cursor() as cursor:
            cursor.execute("CREATE TABLE casemgmt_probe (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)")
        assert privileges(owner, role, "casemgmt_probe") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
        # A migration that made the audit trail anew: after migrate, the application appends only.
        with owner.cursor() as cursor:
            cursor.execute("GRANT UPDATE, DELETE, TRUNCATE ON core_auditevent TO " + role)
        dbroles.grant(owner, role)
        assert privileges(owner, role, "core_auditevent") == {"SELECT", "INSERT"}


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_db_roles_checks_the_role_and_grants_again(db):
    if not dbroles.configured():
        with pytest.raises(CommandError, match="DATABASE_OWNER_URL"):
            call_command("db_roles")
        return
    for _ in range(2):  # idempotent
        call_command("db_roles", stdout=io.StringIO())
    owner = connections[dbroles.OWNER]
    assert privileges(owner, dbroles.app_role(), "core_auditevent") == {"SELECT", "INSERT"}
    with owner.cursor() as cursor:
        owner_role = current_user(owner)[0]
        assert DbRolesCommand.problems(cursor, dbroles.app_role(), owner_role, owner.settings_dict["NAME"]) == []
        # The owner itself would be no application role: it owns every table.
        assert any("owns" in problem for problem in
                   DbRolesCommand.problems(cursor, owner_role, "pg_database_owner", owner.settings_dict["NAME"]))
