"""The two PostgreSQL roles (docs/deploy.md): the owner of the schema, which migrates, and the role
web and worker processes connect as, which may read and write every table but owns none.

A role that owns a table can TRUNCATE it, ALTER it and disable its triggers, whatever it was granted:
the audit trail's append-only trigger protects nothing against it. The application's role therefore
owns nothing; on ``core_auditevent`` it may only INSERT and SELECT. The owner is reached through the
database alias ``owner`` (``DATABASE_OWNER_URL``), which the router gives to the ORM only inside
``as_owner()``; without that setting everything is "default", as on a laptop."""
import contextlib
import contextvars

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

OWNER = "owner"
# The one table the application may only append to and read.
APPEND_ONLY = ("core_auditevent",)
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
APPEND_ONLY_PRIVILEGES = "SELECT, INSERT"
SEQUENCE_PRIVILEGES = "USAGE, SELECT"

_as_owner = contextvars.ContextVar("casemgmt_db_as_owner", default=False)


def configured():
    """Whether the owner has a connection of its own (``DATABASE_OWNER_URL``)."""
    return OWNER in settings.DATABASES


def app_role():
    """The role the owner grants to: DATABASE_URL's, or "" without an owner of its own."""
    return settings.DATABASE_APP_ROLE if configured() else ""


@contextlib.contextmanager
def as_owner():
    """Inside, the ORM reads and writes through the owner's connection (``audit_purge``, the one
    deletion of audit rows); yields that connection's alias."""
    token = _as_owner.set(True)
    try:
        yield OWNER if configured() else DEFAULT_DB_ALIAS
    finally:
        _as_owner.reset(token)


class OwnerRouter:
    """Ordinary reads and writes go to "default"; only code inside ``as_owner()`` reaches the owner."""

    def db_for_read(self, model, **hints):
        return OWNER if _as_owner.get() and configured() else None

    db_for_write = db_for_read


_CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")


@contextlib.contextmanager
def default_as_owner():
    """For a whole management command (``migrate``): "default" connects as the owner while inside,
    so that every statement of the command, migrations' own included, runs as the owner. Opens no
    new transaction: call it with none open on "default"."""
    connection = connections[DEFAULT_DB_ALIAS]
    if not configured():
        yield
        return
    owner = settings.DATABASES[OWNER]
    saved = {key: connection.settings_dict.get(key) for key in _CREDENTIALS}
    if all(saved[key] == owner.get(key) for key in _CREDENTIALS):
        yield
        return
    connection.close()
    connection.settings_dict.update({key: owner.get(key) for key in _CREDENTIALS})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def owns(connection, table):
    """Whether ``connection``'s role owns ``table`` (a superuser counts as every role)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
    return bool(row and row[0])


def grant_statements(connection, role):
    """The statements that give ``role`` exactly the application's privileges on ``connection``'s
    database, whatever it had before: run by the owner, in one transaction."""
    qn = connection.ops.quote_name
    role, database = qn(role), qn(connection.settings_dict["NAME"])
    statements = [
        f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}",
        # Nobody but the owner creates objects in the schema (PostgreSQL before 15 let everyone).
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"REVOKE ALL ON SCHEMA public FROM {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        # No TRUNCATE, REFERENCES or TRIGGER, whatever was granted before.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA public TO {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
        f"GRANT {SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA public TO {role}",
        # Tables a later migration creates get the same at once, before the grants are applied again.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {TABLE_PRIVILEGES} ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO {role}",
    ]
    for table in APPEND_ONLY:
        if table in connection.introspection.table_names():
            statements += [f"REVOKE ALL ON {qn(table)} FROM {role}",
                           f"GRANT {APPEND_ONLY_PRIVILEGES} ON {qn(table)} TO {role}"]
    return statements


def grant(connection, role=None):
    """Apply the application role's privileges as ``connection``'s role, which must own the schema.
    Returns the statements run (none without an application role of its own)."""
    role = role or app_role()
    if not role:
        return []
    statements = grant_statements(connection, role)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
    return statements


def grant_if_owner(connection):
    """After ``migrate``: the tables a migration created get the application's privileges, and the
    audit trail loses those default privileges gave it. Only the owner can; as any other role (or
    without an application role of its own) this changes nothing."""
    if app_role() and owns(connection, "django_migrations"):
        return grant(connection)
    return []
