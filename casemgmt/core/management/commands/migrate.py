"""``manage.py migrate`` as the owner of the schema: with ``DATABASE_OWNER_URL`` set, "default"
connects as the owner for the whole command, so that the tables it creates belong to the owner, and
the application's role receives its privileges afterwards (``dbroles.grant_if_owner``)."""
from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import DEFAULT_DB_ALIAS, connections

from casemgmt.core import dbroles


class Command(MigrateCommand):
    def handle(self, *args, **options):
        if options["database"] != DEFAULT_DB_ALIAS:
            return super().handle(*args, **options)
        with dbroles.default_as_owner():
            result = super().handle(*args, **options)
            dbroles.grant_if_owner(connections[DEFAULT_DB_ALIAS])
        return result
