"""``manage.py anonymise_expired [--dry-run]``: anonymise the families whose case closed longer ago
than ``FAMILY_RETENTION_YEARS``, keeping the statistics (run it from the beat schedule or cron)."""
from django.core.management.base import BaseCommand

from families.retention import families_anonymise_expired


class Command(BaseCommand):
    help = "Anonymise families whose retention period has ended."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, dry_run, **options):
        families = families_anonymise_expired(dry_run=dry_run)
        verb = "would be anonymised" if dry_run else "anonymised"
        self.stdout.write(f"{len(families)} families {verb}.")
