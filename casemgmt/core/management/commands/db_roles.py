"""``manage.py db_roles``: as the owner (``DATABASE_OWNER_URL``), create the application's role
of ``DATABASE_URL`` when it is missing (with that URL's password; the owner needs CREATEROLE for
this), check that it is an ordinary role that owns nothing, and give it exactly the application's
privileges. Safe to run again at any time; ``migrate`` applies the same privileges after it."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from psycopg import sql

from casemgmt.core import dbroles


class Command(BaseCommand):
    help = "Create the application's database role if missing and grant it the application's privileges."

    def handle(self, *args, **options):
        if not dbroles.configured():
            raise CommandError("db_roles needs DATABASE_OWNER_URL (the schema owner) beside DATABASE_URL "
                               "(the application's role); see docs/deploy.md.")
        connection = connections[dbroles.OWNER]
        role = dbroles.app_role()
        if not role:
            raise CommandError("DATABASE_URL must name the application's role (postgres://ROLE:PASSWORD@host/db).")
        password = settings.DATABASES["default"].get("PASSWORD") or None
        with transaction.atomic(using=dbroles.OWNER), connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            owner = cursor.fetchone()[0]
            if owner == role:
                raise CommandError("DATABASE_URL and DATABASE_OWNER_URL name the same role: the application "
                                   "needs a role of its own.")
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            exists = cursor.fetchone() is not None
            cursor.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
            may_alter = cursor.fetchone()[0]
            # A utility statement takes no parameters: the password goes in as a quoted literal.
            secret = sql.SQL(" PASSWORD {}").format(sql.Literal(password)) if password else sql.SQL("")
            if not exists and not may_alter:
                raise CommandError(f"Role {role} does not exist and {owner} may not create roles: as a superuser, "
                                   f"CREATE ROLE {role} LOGIN PASSWORD '...'; then run db_roles again.")
            if not exists:
                cursor.execute((sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
                    sql.Identifier(role)) + secret).as_string(cursor.connection))
                self.stdout.write(f"Role {role} created.")
            elif password and may_alter:
                # DATABASE_URL says the password: changing it there and running this again rotates it.
                cursor.execute((sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role)) + secret).as_string(
                    cursor.connection))
            problems = self.problems(cursor, role, owner, connection.settings_dict["NAME"])
            if problems:
                raise CommandError(f"Role {role} may do more than the application should:\n  " + "\n  ".join(problems))
        statements = dbroles.grant(connection, role)
        self.stdout.write(f"{len(statements)} grants applied to {role} as {owner}.")

    @staticmethod
    def problems(cursor, role, owner, database):
        """What would let ``role`` empty the audit trail or change the schema."""
        found = []
        cursor.execute("""SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication
                          FROM pg_roles WHERE rolname = %s""", [role])
        for name, value in zip(("SUPERUSER", "CREATEROLE", "CREATEDB", "BYPASSRLS", "REPLICATION"), cursor.fetchone(),
                               strict=True):
            if value:
                found.append(f"it has {name}: ALTER ROLE {role} NO{name};")
        cursor.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", [role, owner])
        if cursor.fetchone()[0]:
            found.append(f"it is a member of {owner}: REVOKE {owner} FROM {role};")
        cursor.execute("""SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
                               + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
                               + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
                               + (SELECT count(*) FROM pg_database WHERE datdba = r.oid AND datname = %s)
                          FROM pg_roles r WHERE r.rolname = %s""", [database, role])
        owned = cursor.fetchone()[0]
        if owned:
            found.append(f"it owns {owned} objects: as a superuser, REASSIGN OWNED BY {role} TO {owner};")
        return found
