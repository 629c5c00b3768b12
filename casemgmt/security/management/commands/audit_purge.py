"""``manage.py audit_purge --before YYYY-MM-DD``: delete audit events older than the date — refused
for anything younger than the retention period (at least three years). The only deleting path."""
import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import ProgrammingError
from django.utils import timezone

from casemgmt.security.services import audit_purge


class Command(BaseCommand):
    help = "Delete audit events older than --before (at least AUDIT_RETENTION_DAYS old)."

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, type=datetime.date.fromisoformat)

    def handle(self, *args, before, **options):
        at = timezone.make_aware(datetime.datetime.combine(before, datetime.time()))
        try:
            deleted = audit_purge(before=at)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except ProgrammingError as exc:  # the application's role may not delete audit rows
            raise CommandError(f"{exc}: audit_purge runs as the schema's owner, with DATABASE_OWNER_URL "
                               "set (docs/deploy.md).") from exc
        self.stdout.write(f"{deleted} audit events deleted.")
