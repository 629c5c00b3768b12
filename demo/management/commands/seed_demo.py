"""``manage.py seed_demo``: a believable, deterministic Zhangzhou dataset (see demo.generator)."""
import datetime
import os
import time

from django.core.management.base import BaseCommand, CommandError

from casemgmt.core import dbroles
from demo.generator import seed_demo
from families.models import Family


class Command(BaseCommand):
    help = "Create demo data for Zhangzhou: regions, staff, families with a year of casework, volunteers and services."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1, help="random seed; the same seed and --today give the same data")
        parser.add_argument("--families", type=int, default=200, help="number of families to create")
        parser.add_argument("--today", type=datetime.date.fromisoformat, default=None,
                            help="reference date (YYYY-MM-DD) the year of casework ends on; default: today")
        parser.add_argument("--if-empty", action="store_true", help="do nothing if any family exists")
        parser.add_argument("--workers", type=int, default=None,
                            help="parallel writer processes on PostgreSQL (default: one per CPU from 20,000 families)")

    def handle(self, *args, seed, families, today, if_empty, workers, **options):
        if families < 0:
            raise CommandError("--families must not be negative.")
        if if_empty and Family.objects.exists():
            self.stdout.write("Families exist already; no demo data added.")
            return
        if workers is None:
            workers = (os.cpu_count() or 1) if families >= 20000 else 1
        started = time.monotonic()
        # A bulk load switches the tallies' triggers off and may rebuild indexes: the owner's work.
        with dbroles.default_as_owner():
            seed_demo(seed=seed, families=families, today=today, workers=workers, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(
            f"Demo data: {families} families (seed {seed}) in {time.monotonic() - started:.1f} s."))
