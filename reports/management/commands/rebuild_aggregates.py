"""``manage.py rebuild_aggregates``: recompute the report tallies from the records (after a bulk load)."""
from django.core.management.base import BaseCommand

from reports import aggregates


class Command(BaseCommand):
    help = "Recompute the report tallies (families, families contacted, disbursements, free check-ups) from the records."

    def handle(self, *args, **options):
        result = aggregates.rebuild()
        rows = ", ".join(f"{table.removeprefix('reports_')} {n}" for table, n in result.rows.items())
        drift = "were not maintained before" if result.drift is None else f"{result.drift} rows had drifted"
        self.stdout.write(f"Report tallies rebuilt in {result.seconds:.1f} s ({rows}); {drift}.")
