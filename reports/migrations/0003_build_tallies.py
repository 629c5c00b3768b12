"""Data migration: count the families and check-ins already there, so the tallies are exact from now on.

The recomputation is frozen here as it was (``reports.aggregates.rebuild`` recomputes with today's rules).
"""
from django.conf import settings
from django.db import migrations

# (table, its columns, the recomputation from the records)
TALLIES = [
    ("reports_familytally", "region_path, category, risk_level, status, families", """
SELECT region_path, category, risk_level, status, count(*) FROM families_family GROUP BY 1, 2, 3, 4"""),
    ("reports_contacttally", "period, starts_on, status, region_path, families", """
WITH masks AS (
        SELECT family_id, date_trunc('year', local)::date AS year,
               bit_or(1 << (extract(month FROM local)::int - 1)) AS months
        FROM (SELECT family_id, occurred_at AT TIME ZONE %(zone)s AS local FROM families_checkin) AS c
        GROUP BY 1, 2
    ), patterns AS (
        SELECT m.year, m.months, f.status, f.region_path, count(*) AS families
        FROM masks m JOIN families_family f ON f.id = m.family_id GROUP BY 1, 2, 3, 4
    )
    SELECT p.period, (t.year + p.months_in * interval '1 month')::date, t.status, t.region_path, sum(t.families)
    FROM patterns t JOIN (VALUES ('y', 0, 4095), ('q', 0, 7), ('q', 3, 56), ('q', 6, 448), ('q', 9, 3584),
('m', 0, 1), ('m', 1, 2), ('m', 2, 4), ('m', 3, 8), ('m', 4, 16), ('m', 5, 32), ('m', 6, 64),
('m', 7, 128), ('m', 8, 256), ('m', 9, 512), ('m', 10, 1024), ('m', 11, 2048)) AS p(period, months_in, bits) ON t.months & p.bits <> 0
    GROUP BY 1, 2, 3, 4"""),
    ("reports_disbursementtally", "month, kind, region_path, fund_region_path, disbursements, amount", """
SELECT month, kind, region_path, fund_path, count(*), sum(amount) FROM (
SELECT date_trunc('month', d.paid_on)::date AS month, d.kind::text AS kind,
       coalesce(f.region_path, mf.region_path, vr.path, fr.path)::text AS region_path, fr.path::text AS fund_path,
       d.amount, (d.family_id IS NOT NULL AND f.id IS NULL) OR (d.member_id IS NOT NULL AND mf.id IS NULL)
                 OR (d.volunteer_id IS NOT NULL AND vr.id IS NULL) OR fr.id IS NULL AS lost
FROM services_disbursement d
LEFT JOIN families_family f ON f.id = d.family_id
LEFT JOIN families_familymember m ON m.id = d.member_id
LEFT JOIN families_family mf ON mf.id = m.family_id
LEFT JOIN volunteers_volunteer v ON v.id = d.volunteer_id
LEFT JOIN core_region vr ON vr.id = v.region_id
LEFT JOIN services_fund fu ON fu.id = d.fund_id
LEFT JOIN core_region fr ON fr.id = fu.region_id) AS k GROUP BY 1, 2, 3, 4"""),
    ("reports_checkuptally", "month, region_path, checkups", """
SELECT month, region_path, count(*) FROM (
SELECT date_trunc('month', h.date)::date AS month, f.region_path::text AS region_path, f.id IS NULL AS lost
FROM services_healthcheckup h
LEFT JOIN families_familymember m ON m.id = h.member_id
LEFT JOIN families_family f ON f.id = m.family_id
WHERE h.is_free) AS k GROUP BY 1, 2"""),
]

STATE = """INSERT INTO reports_aggregatestate (id, time_zone, built_at, stale_since)
VALUES (1, %(zone)s, now(), NULL) ON CONFLICT (id) DO UPDATE
SET time_zone = excluded.time_zone, built_at = excluded.built_at, stale_since = NULL"""


def recount(schema_editor, tallies):
    with schema_editor.connection.cursor() as cursor:
        for table, columns, recompute in tallies:
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute(f"INSERT INTO {table} ({columns}) {recompute}", {"zone": settings.TIME_ZONE})
        cursor.execute(STATE, {"zone": settings.TIME_ZONE})


def build(apps, schema_editor):
    recount(schema_editor, TALLIES)


class Migration(migrations.Migration):
    dependencies = [("reports", "0002_tally_triggers")]
    operations = [migrations.RunPython(build, migrations.RunPython.noop)]
