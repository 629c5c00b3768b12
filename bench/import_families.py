"""Benchmark: generate a 10,000-row families-with-members workbook and import it (check + write).

Run against a scratch database (it writes 5,000 families and rolls nothing back):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<scratch> .venv/bin/python manage.py migrate
    DATABASE_URL=... .venv/bin/python bench/import_families.py [rows]
"""
import datetime
import io
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casemgmt.settings")

import django  # noqa: E402

django.setup()

from openpyxl import Workbook  # noqa: E402

from casemgmt.core.idcard import make_id_number  # noqa: E402
from casemgmt.core.models import Region, Role, User  # noqa: E402
from reports.imports import FAMILY_COLUMNS, families_import  # noqa: E402


def region_tree():
    L = Region.Level
    parent = None
    for code, name, level in (("35", "福建省", L.PROVINCE), ("3506", "漳州市", L.CITY), ("350623", "漳浦县", L.COUNTY),
                              ("350623100", "绥安镇", L.TOWNSHIP), ("350623100201", "东门村", L.VILLAGE)):
        parent, _ = Region.objects.get_or_create(code=Region.normalize_code(code),
                                                 defaults={"name": name, "level": level, "parent": parent})
    return parent


def build(rows, tag):
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append([str(c.heading) for c in FAMILY_COLUMNS])
    base = datetime.date(1950, 1, 1) + datetime.timedelta(days=int(tag[:4], 16) % 3000)
    for i in range(rows):
        family = i // 2
        birth = base + datetime.timedelta(days=family % 9000)
        sequence = (family // 9000) * 2 + i % 2 + 1 + 10 * (i % 2)
        sheet.append([f"B{tag}-{family:05d}", "失独", "350623100201", f"东门村{family}号", f"王{i}",
                      "父亲" if i % 2 == 0 else "母亲", make_id_number("350623", birth, sequence), "13800000000", "否"])
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    village = region_tree()
    actor, _ = User.objects.get_or_create(username="bench-importer", defaults={"role": Role.ADMIN, "is_staff": True})
    actor.is_superuser = True
    actor.save()
    start = time.monotonic()
    upload = build(rows, uuid.uuid4().hex[:6])
    generated = time.monotonic()
    preview = families_import(actor=actor, upload=upload, commit=False)
    checked = time.monotonic()
    assert preview.ok, preview.problems[:5]
    result = families_import(actor=actor, upload=upload, commit=True)
    done = time.monotonic()
    print(f"village {village}: {rows} rows -> {result.created}")
    print(f"generate {generated - start:.1f}s, check only {checked - generated:.1f}s, check+import {done - checked:.1f}s")


if __name__ == "__main__":
    main()
