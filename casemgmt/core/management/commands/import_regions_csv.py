"""``manage.py import_regions_csv FILE``: townships and villages from a statistical-code CSV."""
from django.core.management.base import BaseCommand, CommandError

from casemgmt.core.models import Region
from casemgmt.core.regions import RegionImportError, regions_import_csv


class Command(BaseCommand):
    help = (
        "Import townships and villages from a CSV of 12-digit statistical division codes "
        "(columns code, name[, urban_rural_code] or 统计用区划代码, 城乡分类代码, 名称). All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the CSV file (UTF-8 or GB18030)")

    def handle(self, *args, file, **options):
        try:
            with open(file, "rb") as handle:
                stats = regions_import_csv(file=handle)
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        except RegionImportError as exc:
            for line, message in exc.errors:
                self.stderr.write(f"{file}:{line}: {message}")
            raise CommandError(f"{len(exc.errors)} row(s) cannot be imported; nothing was written.") from exc
        counts = ", ".join(f"{Region.Level(level).label}: {n}" for level, n in stats.by_level.items() if n)
        self.stdout.write(self.style.SUCCESS(
            f"Imported {counts or 'nothing'}; created {stats.created}, updated {stats.updated}, unchanged {stats.unchanged}."
        ))
