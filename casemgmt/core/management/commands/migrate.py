"""``manage.py migrate`` as the owner of the schema: with ``DATABASE_OWNER_URL`` set, "default"
connects as the owner for the whole command, so that the tables it creates belong to the owner, and
the application's role receives its privileges afterwards (``dbroles.grant_if_owner``)."""
from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import DEFAULT_DB_ALIAS, connections

from casemgmt.core import dbroles, keys


class Command(MigrateCommand):
    def handle(self, *args, **options):
        if options["database"] != DEFAULT_DB_ALIAS:
            with keys.unchecked():
                return super().handle(*args, **options)
        # Migrating works whatever the keys; the fingerprint is written afterwards only if they fit.
        with keys.unchecked(), dbroles.default_as_owner():
            result = super().handle(*args, **options)
            dbroles.grant_if_owner(connections[DEFAULT_DB_ALIAS])
        return result
