"""Benchmark: a 10,000-row disbursements workbook (a county's special-assistance payments) through the
record templates of ``reports.import_kinds`` — check only, check and write, and the same file again
(which must write nothing) — rolled back after.

The payments go to the families of the county with the most families on record, by file number,
out of a fund made for the run; a family appears on several rows with different dates when the
county has fewer families than rows. ``bench/run.py`` reports it beside the families import.
"""
import datetime
import io
import time

from django.db import transaction
from django.db.models import Count
from openpyxl import Workbook

from casemgmt.core.models import Region
from families.models import Family
from reports.import_kinds import TEMPLATES
from services.models import Fund

KIND = "disbursements"


class _Rollback(Exception):
    pass


def build(rows, file_numbers, fund):
    """The workbook of ``rows`` special-assistance payments to ``file_numbers`` (cycled) from ``fund``."""
    columns = TEMPLATES[KIND].columns
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append([str(c.heading) for c in columns])
    start = datetime.date(fund.year, 1, 1)
    for i in range(rows):
        values = {"fund": fund.name, "fund_year": fund.year, "kind": "特扶金" if i % 4 else "其他",
                  "file_number": file_numbers[i % len(file_numbers)], "amount": f"{500 + i % 7 * 100}.00",
                  "goods": "", "paid_on": (start + datetime.timedelta(days=i // len(file_numbers)))
                  .isoformat(), "period": f"{fund.year}"}
        sheet.append([values.get(c.key, "") for c in columns])
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


def benchmark(actor, rows=10_000):
    """{check_seconds, import_seconds, again_seconds, created, again, rows}; nothing is kept."""
    template = TEMPLATES[KIND]
    result = {"rows": rows, "template": KIND}
    try:
        with transaction.atomic():
            county = (Family.objects.values("region_path").annotate(n=Count("id")).order_by("-n")
                      .values_list("region_path", flat=True).first() or "")[:6]
            file_numbers = list(Family.objects.filter(region_path__startswith=county).order_by("id")
                                .values_list("file_number", flat=True)[:rows])
            fund = Fund.objects.create(name="基准特扶金", programme="special_assistance", year=2025, budget=10_000_000,
                                       region=Region.objects.get(path=county))
            upload = build(rows, file_numbers, fund)
            for label, commit in (("check_seconds", False), ("import_seconds", True), ("again_seconds", True)):
                upload.seek(0)
                started = time.perf_counter()
                done = template.run(actor=actor, upload=upload, commit=commit)
                result[label] = time.perf_counter() - started
                assert done.ok, done.problems[:5]
                result["created" if label == "import_seconds" else "again"] = done.created
            raise _Rollback
    except _Rollback:
        pass
    return result


def report_lines(result):
    """The benchmark report's paragraph for ``result``."""
    return ["", f"## {result['rows']:,}-row Excel import of records (reports.import_kinds, template "
                f"`{result['template']}`)", "",
            f"- check only: {result['check_seconds']:.1f} s; check and write: {result['import_seconds']:.1f} s "
            f"({result['created']}); the same file again: {result['again_seconds']:.1f} s ({result['again']}). "
            f"Target < 60 s → {'yes' if result['import_seconds'] < 60 else 'NO'}."]
