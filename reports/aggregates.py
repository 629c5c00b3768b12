"""Pre-computed tallies of the bulletin's largest figures, kept exact by PostgreSQL triggers.

Why triggers: families, check-ins, disbursements and check-ups change through the services, the
admin, the API, bulk ``COPY`` loads and raw SQL; triggers see every one of them, in the writer's
own transaction, so a tally is never behind the records it counts and every figure still equals
its drill-down (``reports.drilldown`` lists the records themselves).

What is additive and what is not:
- families by (region path, category, risk level, status) are a snapshot (``FamilyTally``);
  disbursements (count and amount) and free check-ups per (month, region path, …) are sums
  (``DisbursementTally``, ``CheckupTally``): a subtree's figure for whole months is the sum of its rows;
- families contacted in a period are distinct families, not a sum of months, so each calendar
  month, quarter and year is tallied on its own (``ContactTally``): a check-in changes a tally only
  when it is the family's first (or, deleted, its last) of that period, which the trigger decides by
  counting the family's check-ins of the period on the ``(family, occurred_at)`` index. Another
  period (a custom range) is counted from the records.
A family that moves or changes status moves its rows between tallies; so do a member changing
family, and a volunteer or fund changing region (where a payment is attributed).

Inserts and deletes (and every change of check-ins) are handled by statement-level triggers with
transition tables: one set-based pass per statement, not one per row. Updates of the other tables
are additive row by row, so they fire row triggers only ``WHEN`` a tallied column changed: the many
updates of due dates and notes cost nothing. A statement that writes more than
``INCREMENTAL_LIMIT`` rows (a bulk load), a row the triggers cannot attribute (its family written or
deleted out of order, foreign keys being checked at commit), a change of region paths or a
``TRUNCATE`` marks the tallies stale instead: figures are then counted from the records until
``rebuild`` (nightly, ``manage.py rebuild_aggregates``, the end of ``seed_demo``) recomputes
everything in a few set-based statements. A bulk loader can also switch the triggers off for the
load (``deferred``).

Tallies are read only for users whose reach is a whole region subtree (superusers, administrators
and region managers); a caseload's figures are counted from its records.
"""
import calendar
import datetime
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import Substr, TruncMonth
from django.utils import timezone

from casemgmt.core import reach
from families.models import CheckIn, Family
from services.models import Disbursement, HealthCheckup

logger = logging.getLogger(__name__)

INCREMENTAL_LIMIT = 5000
ACTIVE = Family.Status.ACTIVE

# ---- the triggers ----------------------------------------------------------------------------------

# Calendar periods of a moment, as (period, first day) rows.
PERIODS = """(VALUES ('m', date_trunc('month', {at} AT TIME ZONE zone)::date),
                     ('q', date_trunc('quarter', {at} AT TIME ZONE zone)::date),
                     ('y', date_trunc('year', {at} AT TIME ZONE zone)::date))"""
PERIOD_END = ("(({start} + CASE {period} WHEN 'm' THEN interval '1 month' WHEN 'q' THEN interval '3 months' "
              "ELSE interval '1 year' END)::timestamp AT TIME ZONE zone)")

# Where a disbursement is attributed (as ReportScope._disbursements does) and its fund's region;
# ``lost`` when a row it names is missing (written or deleted out of order within a transaction).
DISBURSEMENT_KEYS = """
SELECT date_trunc('month', d.paid_on)::date AS month, d.kind::text AS kind,
       coalesce(f.region_path, mf.region_path, vr.path, fr.path)::text AS region_path, fr.path::text AS fund_path,
       d.amount, (d.family_id IS NOT NULL AND f.id IS NULL) OR (d.member_id IS NOT NULL AND mf.id IS NULL)
                 OR (d.volunteer_id IS NOT NULL AND vr.id IS NULL) OR fr.id IS NULL AS lost
FROM {rows} d
LEFT JOIN families_family f ON f.id = d.family_id
LEFT JOIN families_familymember m ON m.id = d.member_id
LEFT JOIN families_family mf ON mf.id = m.family_id
LEFT JOIN volunteers_volunteer v ON v.id = d.volunteer_id
LEFT JOIN core_region vr ON vr.id = v.region_id
LEFT JOIN services_fund fu ON fu.id = d.fund_id
LEFT JOIN core_region fr ON fr.id = fu.region_id"""
DISBURSEMENT_COLUMNS = ("paid_on", "kind", "amount", "family_id", "member_id", "volunteer_id", "fund_id")
ROW_DISBURSEMENT = "(SELECT " + ", ".join(f"{{r}}.{c} AS {c}" for c in DISBURSEMENT_COLUMNS) + ")"

CHECKUP_KEYS = """
SELECT date_trunc('month', h.date)::date AS month, f.region_path::text AS region_path, f.id IS NULL AS lost
FROM {rows} h
LEFT JOIN families_familymember m ON m.id = h.member_id
LEFT JOIN families_family f ON f.id = m.family_id
WHERE h.is_free"""
CHECKUP_COLUMNS = ("date", "is_free", "member_id")
ROW_CHECKUP = "(SELECT " + ", ".join(f"{{r}}.{c} AS {c}" for c in CHECKUP_COLUMNS) + ")"

# Disbursements whose attribution moves from ``old_path`` to ``new_path``, given a set ``mv(id,
# old_path, new_path)`` of moved families, members or volunteers: (month, kind, path, fund path, sign, amount).
MOVED_DISBURSEMENTS = """
SELECT date_trunc('month', d.paid_on)::date, d.kind::text, s.path, fr.path::text, s.sign, d.amount
FROM ({matched}) AS d
JOIN services_fund fu ON fu.id = d.fund_id
JOIN core_region fr ON fr.id = fu.region_id
CROSS JOIN LATERAL (VALUES (d.old_path, -1), (d.new_path, 1)) AS s(path, sign)"""

FUNCTIONS = f"""
-- The time zone to cut months in, or NULL when the tallies are not maintained (no state row, or
-- stale). A writer above READ COMMITTED cannot see a check-in committed meanwhile by another, so
-- its change makes the tallies stale rather than wrong.
CREATE OR REPLACE FUNCTION reports_tally_zone() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    zone text;
BEGIN
    SELECT time_zone INTO zone FROM reports_aggregatestate WHERE id = 1 AND stale_since IS NULL;
    IF zone IS NOT NULL AND current_setting('transaction_isolation') <> 'read committed' THEN
        PERFORM reports_tally_stale();
        RETURN NULL;
    END IF;
    RETURN zone;
END $$;

CREATE OR REPLACE FUNCTION reports_tally_stale() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reports_aggregatestate SET stale_since = now() WHERE id = 1 AND stale_since IS NULL;
END $$;

-- (The helpers are PL/pgSQL rather than SQL functions so that their plans are cached per session.)

-- Too many rows for one statement to update incrementally, or rows it cannot attribute: stale.
CREATE OR REPLACE FUNCTION reports_tally_gives_up(n int, lost boolean) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(n, 0) > {INCREMENTAL_LIMIT} OR coalesce(lost, false) THEN
        PERFORM reports_tally_stale();
        RETURN true;
    END IF;
    RETURN false;
END $$;

CREATE OR REPLACE FUNCTION reports_tally_families(paths text[], categories text[], risks text[], statuses text[],
                                                  signs int[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reports_familytally AS t (region_path, category, risk_level, status, families)
    SELECT u.p, u.c, u.r, u.s, sum(u.g) FROM unnest(paths, categories, risks, statuses, signs) AS u(p, c, r, s, g)
    GROUP BY 1, 2, 3, 4 HAVING sum(u.g) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (region_path, category, risk_level, status) DO UPDATE SET families = t.families + excluded.families;
END $$;

CREATE OR REPLACE FUNCTION reports_tally_disbursements(months date[], kinds text[], paths text[], fund_paths text[],
                                                       signs int[], amounts numeric[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reports_disbursementtally AS t (month, kind, region_path, fund_region_path, disbursements, amount)
    SELECT u.m, u.k, u.p, u.fp, sum(u.g), sum(u.g * u.a)
    FROM unnest(months, kinds, paths, fund_paths, signs, amounts) AS u(m, k, p, fp, g, a)
    GROUP BY 1, 2, 3, 4 HAVING sum(u.g) <> 0 OR sum(u.g * u.a) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (month, kind, region_path, fund_region_path) DO UPDATE
        SET disbursements = t.disbursements + excluded.disbursements, amount = t.amount + excluded.amount;
END $$;

CREATE OR REPLACE FUNCTION reports_tally_checkups(months date[], paths text[], signs int[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reports_checkuptally AS t (month, region_path, checkups)
    SELECT u.m, u.p, sum(u.g) FROM unnest(months, paths, signs) AS u(m, p, g)
    GROUP BY 1, 2 HAVING sum(u.g) <> 0 ORDER BY 1, 2
    ON CONFLICT (month, region_path) DO UPDATE SET checkups = t.checkups + excluded.checkups;
END $$;

-- A family leaving (-1) or entering (+1) a (path, status) key, in every period in which it has a check-in.
CREATE OR REPLACE FUNCTION reports_tally_family_contacts(ids bigint[], paths text[], statuses text[], signs int[],
                                                         zone text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reports_contacttally AS t (period, starts_on, status, region_path, families)
    SELECT k.period, k.starts_on, u.s, u.p, sum(u.g)
    FROM unnest(ids, paths, statuses, signs) AS u(f, p, s, g)
    CROSS JOIN LATERAL (
        SELECT DISTINCT p.period, p.starts_on FROM families_checkin c
        CROSS JOIN LATERAL {PERIODS.format(at="c.occurred_at")} AS p(period, starts_on)
        WHERE c.family_id = u.f
    ) AS k
    GROUP BY 1, 2, 3, 4 HAVING sum(u.g) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (period, starts_on, status, region_path) DO UPDATE SET families = t.families + excluded.families;
END $$;

-- Check-ins added (+1) or removed (-1): a family's period changes its tally only if the family had
-- no check-in in it before (added) or has none left (removed).
CREATE OR REPLACE FUNCTION reports_tally_checkins(ids bigint[], moments timestamptz[], signs int[], zone text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ids IS NULL OR reports_tally_gives_up(cardinality(ids), false) THEN
        RETURN;
    END IF;
    -- Serialise with every other writer of these families' check-ins and with changes of the families
    -- themselves (checkin_record holds this lock already), so the counts below see committed rows.
    PERFORM 1 FROM families_family WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    IF reports_tally_gives_up(0, EXISTS (SELECT 1 FROM unnest(ids) AS u(f)
                                         WHERE NOT EXISTS (SELECT 1 FROM families_family WHERE id = u.f))) THEN
        RETURN;
    END IF;
    WITH delta AS (
        SELECT u.f, k.period, k.starts_on, sum(u.g) AS change
        FROM unnest(ids, moments, signs) AS u(f, at, g)
        CROSS JOIN LATERAL {PERIODS.format(at="u.at")} AS k(period, starts_on)
        GROUP BY 1, 2, 3 HAVING sum(u.g) <> 0
    ), counted AS (
        SELECT d.*, (SELECT count(*) FROM families_checkin c WHERE c.family_id = d.f
                       AND c.occurred_at >= d.starts_on::timestamp AT TIME ZONE zone
                       AND c.occurred_at < {PERIOD_END.format(start="d.starts_on", period="d.period")}) AS remaining
        FROM delta d
    )
    INSERT INTO reports_contacttally AS t (period, starts_on, status, region_path, families)
    SELECT c.period, c.starts_on, f.status, f.region_path, sum(CASE WHEN c.remaining > 0 THEN 1 ELSE -1 END)
    FROM counted c JOIN families_family f ON f.id = c.f
    WHERE (c.remaining > 0) <> (c.remaining - c.change > 0)
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (period, starts_on, status, region_path) DO UPDATE SET families = t.families + excluded.families;
END $$;

-- ---- check-ins ----
CREATE OR REPLACE FUNCTION reports_checkins_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    zone text := reports_tally_zone();
BEGIN
    IF zone IS NOT NULL THEN
        PERFORM reports_tally_checkins(array_agg(family_id), array_agg(occurred_at), array_agg(1), zone) FROM new_rows;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_checkins_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    zone text := reports_tally_zone();
BEGIN
    IF zone IS NOT NULL THEN
        PERFORM reports_tally_checkins(array_agg(family_id), array_agg(occurred_at), array_agg(-1), zone) FROM old_rows;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_checkins_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    zone text := reports_tally_zone();
BEGIN
    IF zone IS NOT NULL THEN
        -- Only a change of family or time moves a check-in between tallies (not an edit of its notes).
        PERFORM reports_tally_checkins(array_agg(m.family_id), array_agg(m.occurred_at), array_agg(m.sign), zone)
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES (o.family_id, o.occurred_at, -1), (n.family_id, n.occurred_at, 1))
            AS m(family_id, occurred_at, sign)
        WHERE (o.family_id, o.occurred_at) IS DISTINCT FROM (n.family_id, n.occurred_at);
    END IF;
    RETURN NULL;
END $$;

-- ---- families ----
CREATE OR REPLACE FUNCTION reports_families_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF reports_tally_zone() IS NOT NULL THEN
        PERFORM reports_tally_families(array_agg(region_path::text), array_agg(category::text),
                                       array_agg(risk_level::text), array_agg(status::text), array_agg(1))
        FROM new_rows;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_families_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- (Their check-ins and members are gone already; if not, deleting those later finds no family: stale.)
    IF reports_tally_zone() IS NOT NULL THEN
        PERFORM reports_tally_families(array_agg(region_path::text), array_agg(category::text),
                                       array_agg(risk_level::text), array_agg(status::text), array_agg(-1))
        FROM old_rows;
    END IF;
    RETURN NULL;
END $$;

-- ---- moves: records whose attribution follows a family, member, volunteer or fund to a new region ----
CREATE OR REPLACE FUNCTION reports_move_family_records(ids bigint[], old_paths text[], new_paths text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM reports_tally_disbursements(array_agg(x.month), array_agg(x.kind), array_agg(x.path),
                                        array_agg(x.fund_path), array_agg(x.sign), array_agg(x.amount))
    FROM ({MOVED_DISBURSEMENTS.format(matched='''
        SELECT d.*, mv.old_path, mv.new_path FROM unnest(ids, old_paths, new_paths) AS mv(id, old_path, new_path)
        JOIN services_disbursement d ON d.family_id = mv.id
        UNION ALL
        SELECT d.*, mv.old_path, mv.new_path FROM unnest(ids, old_paths, new_paths) AS mv(id, old_path, new_path)
        JOIN families_familymember fm ON fm.family_id = mv.id
        JOIN services_disbursement d ON d.member_id = fm.id AND d.family_id IS NULL''')})
        AS x(month, kind, path, fund_path, sign, amount);
    PERFORM reports_tally_checkups(array_agg(date_trunc('month', h.date)::date), array_agg(s.path), array_agg(s.sign))
    FROM unnest(ids, old_paths, new_paths) AS mv(id, old_path, new_path)
    JOIN families_familymember fm ON fm.family_id = mv.id
    JOIN services_healthcheckup h ON h.member_id = fm.id AND h.is_free
    CROSS JOIN LATERAL (VALUES (mv.old_path, -1), (mv.new_path, 1)) AS s(path, sign);
END $$;

CREATE OR REPLACE FUNCTION reports_move_member_records(ids bigint[], old_paths text[], new_paths text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM reports_tally_disbursements(array_agg(x.month), array_agg(x.kind), array_agg(x.path),
                                        array_agg(x.fund_path), array_agg(x.sign), array_agg(x.amount))
    FROM ({MOVED_DISBURSEMENTS.format(matched='''
        SELECT d.*, mv.old_path, mv.new_path FROM unnest(ids, old_paths, new_paths) AS mv(id, old_path, new_path)
        JOIN services_disbursement d ON d.member_id = mv.id AND d.family_id IS NULL''')})
        AS x(month, kind, path, fund_path, sign, amount);
    PERFORM reports_tally_checkups(array_agg(date_trunc('month', h.date)::date), array_agg(s.path), array_agg(s.sign))
    FROM unnest(ids, old_paths, new_paths) AS mv(id, old_path, new_path)
    JOIN services_healthcheckup h ON h.member_id = mv.id AND h.is_free
    CROSS JOIN LATERAL (VALUES (mv.old_path, -1), (mv.new_path, 1)) AS s(path, sign);
END $$;

CREATE OR REPLACE FUNCTION reports_move_volunteer_records(ids bigint[], old_paths text[], new_paths text[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM reports_tally_disbursements(array_agg(x.month), array_agg(x.kind), array_agg(x.path),
                                        array_agg(x.fund_path), array_agg(x.sign), array_agg(x.amount))
    FROM ({MOVED_DISBURSEMENTS.format(matched='''
        SELECT d.*, mv.old_path, mv.new_path FROM unnest(ids, old_paths, new_paths) AS mv(id, old_path, new_path)
        JOIN services_disbursement d ON d.volunteer_id = mv.id AND d.family_id IS NULL AND d.member_id IS NULL''')})
        AS x(month, kind, path, fund_path, sign, amount);
END $$;

-- A fund's region is every disbursement's fund region, and where those naming nobody went.
CREATE OR REPLACE FUNCTION reports_move_fund_records(ids bigint[], old_paths text[], new_paths text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM reports_tally_disbursements(array_agg(date_trunc('month', d.paid_on)::date), array_agg(d.kind::text),
                                        array_agg(coalesce(f.region_path, mf.region_path, vr.path, s.fund_path)::text),
                                        array_agg(s.fund_path), array_agg(s.sign), array_agg(d.amount))
    FROM unnest(ids, old_paths, new_paths) AS mv(id, old_path, new_path)
    JOIN services_disbursement d ON d.fund_id = mv.id
    LEFT JOIN families_family f ON f.id = d.family_id
    LEFT JOIN families_familymember m ON m.id = d.member_id
    LEFT JOIN families_family mf ON mf.id = m.family_id
    LEFT JOIN volunteers_volunteer v ON v.id = d.volunteer_id
    LEFT JOIN core_region vr ON vr.id = v.region_id
    CROSS JOIN LATERAL (VALUES (mv.old_path, -1), (mv.new_path, 1)) AS s(fund_path, sign);
END $$;

-- Row triggers for updates (WHEN a tallied column changed, so other updates cost nothing): what they
-- do is additive, row by row. (Not so for check-ins: see reports_tally_checkins.)
CREATE OR REPLACE FUNCTION reports_family_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    zone text := reports_tally_zone();
BEGIN
    IF zone IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM reports_tally_families(ARRAY[OLD.region_path::text, NEW.region_path::text],
                                   ARRAY[OLD.category::text, NEW.category::text],
                                   ARRAY[OLD.risk_level::text, NEW.risk_level::text],
                                   ARRAY[OLD.status::text, NEW.status::text], ARRAY[-1, 1]);
    IF (OLD.region_path, OLD.status) IS DISTINCT FROM (NEW.region_path, NEW.status) THEN
        PERFORM reports_tally_family_contacts(ARRAY[OLD.id, NEW.id], ARRAY[OLD.region_path::text, NEW.region_path::text],
                                              ARRAY[OLD.status::text, NEW.status::text], ARRAY[-1, 1], zone);
    END IF;
    IF OLD.region_path IS DISTINCT FROM NEW.region_path THEN
        PERFORM reports_move_family_records(ARRAY[NEW.id], ARRAY[OLD.region_path::text], ARRAY[NEW.region_path::text]);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_member_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_path text;
    new_path text;
BEGIN
    IF reports_tally_zone() IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT region_path INTO old_path FROM families_family WHERE id = OLD.family_id;
    SELECT region_path INTO new_path FROM families_family WHERE id = NEW.family_id;
    IF old_path IS NULL OR new_path IS NULL THEN
        PERFORM reports_tally_stale();
    ELSIF old_path <> new_path THEN
        PERFORM reports_move_member_records(ARRAY[NEW.id], ARRAY[old_path], ARRAY[new_path]);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_volunteer_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF reports_tally_zone() IS NOT NULL THEN
        PERFORM reports_move_volunteer_records(ARRAY[NEW.id],
                                               ARRAY[(SELECT path::text FROM core_region WHERE id = OLD.region_id)],
                                               ARRAY[(SELECT path::text FROM core_region WHERE id = NEW.region_id)]);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_fund_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF reports_tally_zone() IS NOT NULL THEN
        PERFORM reports_move_fund_records(ARRAY[NEW.id],
                                          ARRAY[(SELECT path::text FROM core_region WHERE id = OLD.region_id)],
                                          ARRAY[(SELECT path::text FROM core_region WHERE id = NEW.region_id)]);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_disbursement_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF reports_tally_zone() IS NOT NULL THEN
        PERFORM reports_disbursements_apply(array_agg(k.month), array_agg(k.kind), array_agg(k.region_path),
                                            array_agg(k.fund_path), array_agg(k.sign), array_agg(k.amount),
                                            bool_or(k.lost))
        FROM (SELECT *, -1 AS sign FROM ({DISBURSEMENT_KEYS.format(rows=ROW_DISBURSEMENT.format(r="OLD"))}) AS g
              UNION ALL
              SELECT *, 1 FROM ({DISBURSEMENT_KEYS.format(rows=ROW_DISBURSEMENT.format(r="NEW"))}) AS a) AS k;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_checkup_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF reports_tally_zone() IS NOT NULL THEN
        PERFORM reports_checkups_apply(array_agg(k.month), array_agg(k.region_path), array_agg(k.sign), bool_or(k.lost))
        FROM (SELECT *, -1 AS sign FROM ({CHECKUP_KEYS.format(rows=ROW_CHECKUP.format(r="OLD"))}) AS g
              UNION ALL
              SELECT *, 1 FROM ({CHECKUP_KEYS.format(rows=ROW_CHECKUP.format(r="NEW"))}) AS a) AS k;
    END IF;
    RETURN NULL;
END $$;

-- ---- disbursements ----
CREATE OR REPLACE FUNCTION reports_disbursements_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF reports_tally_zone() IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN  -- (updates: reports_disbursement_changed, row by row)
        PERFORM reports_disbursements_apply(array_agg(k.month), array_agg(k.kind), array_agg(k.region_path),
                                            array_agg(k.fund_path), array_agg(1), array_agg(k.amount), bool_or(k.lost))
        FROM ({DISBURSEMENT_KEYS.format(rows="new_rows")}) AS k;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM reports_disbursements_apply(array_agg(k.month), array_agg(k.kind), array_agg(k.region_path),
                                            array_agg(k.fund_path), array_agg(-1), array_agg(k.amount), bool_or(k.lost))
        FROM ({DISBURSEMENT_KEYS.format(rows="old_rows")}) AS k;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_disbursements_apply(months date[], kinds text[], paths text[], fund_paths text[],
                                                       signs int[], amounts numeric[], lost boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF months IS NOT NULL AND NOT reports_tally_gives_up(cardinality(months), lost) THEN
        PERFORM reports_tally_disbursements(months, kinds, paths, fund_paths, signs, amounts);
    END IF;
END $$;

-- ---- health check-ups ----
CREATE OR REPLACE FUNCTION reports_checkups_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF reports_tally_zone() IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN  -- (updates: reports_checkup_changed, row by row)
        PERFORM reports_checkups_apply(array_agg(k.month), array_agg(k.region_path), array_agg(1), bool_or(k.lost))
        FROM ({CHECKUP_KEYS.format(rows="new_rows")}) AS k;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM reports_checkups_apply(array_agg(k.month), array_agg(k.region_path), array_agg(-1), bool_or(k.lost))
        FROM ({CHECKUP_KEYS.format(rows="old_rows")}) AS k;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_checkups_apply(months date[], paths text[], signs int[], lost boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF months IS NOT NULL AND NOT reports_tally_gives_up(cardinality(months), lost) THEN
        PERFORM reports_tally_checkups(months, paths, signs);
    END IF;
END $$;

-- ---- what the triggers cannot follow: re-coded regions, truncated tables ----
CREATE OR REPLACE FUNCTION reports_region_recoded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM reports_tally_stale();
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_tables_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM reports_tally_stale();
    RETURN NULL;
END $$;
"""


def _changed(columns):
    return (f"WHEN (({', '.join(f'OLD.{c}' for c in columns)}) IS DISTINCT FROM "
            f"({', '.join(f'NEW.{c}' for c in columns)}))")


NEW = "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
OLD = "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
BOTH = "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
TRIGGERS = [
    # (trigger and function name, event, table, how it fires)
    ("reports_checkins_inserted", "INSERT", "families_checkin", NEW),
    ("reports_checkins_deleted", "DELETE", "families_checkin", OLD),
    ("reports_checkins_updated", "UPDATE", "families_checkin", BOTH),
    ("reports_families_inserted", "INSERT", "families_family", NEW),
    ("reports_families_deleted", "DELETE", "families_family", OLD),
    ("reports_family_changed", "UPDATE", "families_family",
     "FOR EACH ROW " + _changed(("region_path", "category", "risk_level", "status"))),
    ("reports_member_moved", "UPDATE", "families_familymember", "FOR EACH ROW " + _changed(("family_id",))),
    ("reports_volunteer_moved", "UPDATE", "volunteers_volunteer", "FOR EACH ROW " + _changed(("region_id",))),
    ("reports_fund_moved", "UPDATE", "services_fund", "FOR EACH ROW " + _changed(("region_id",))),
    ("reports_region_recoded", "UPDATE", "core_region", "FOR EACH ROW " + _changed(("path",))),
    ("reports_disbursements_inserted", "INSERT", "services_disbursement", NEW, "reports_disbursements_written"),
    ("reports_disbursements_deleted", "DELETE", "services_disbursement", OLD, "reports_disbursements_written"),
    ("reports_disbursement_changed", "UPDATE", "services_disbursement", "FOR EACH ROW " + _changed(DISBURSEMENT_COLUMNS)),
    ("reports_checkups_inserted", "INSERT", "services_healthcheckup", NEW, "reports_checkups_written"),
    ("reports_checkups_deleted", "DELETE", "services_healthcheckup", OLD, "reports_checkups_written"),
    ("reports_checkup_changed", "UPDATE", "services_healthcheckup", "FOR EACH ROW " + _changed(CHECKUP_COLUMNS)),
] + [
    (f"reports_{table}_truncated", "TRUNCATE", table, "FOR EACH STATEMENT", "reports_tables_truncated")
    for table in ("families_checkin", "families_family", "families_familymember", "services_disbursement",
                  "services_healthcheckup", "services_fund", "volunteers_volunteer", "core_region")
]


def _trigger(name, event, table, fires, function=None):
    return f"CREATE OR REPLACE TRIGGER {name} AFTER {event} ON {table} {fires} EXECUTE FUNCTION {function or name}();"


FUNCTION_SIGNATURES = (
    "reports_checkins_inserted()", "reports_checkins_deleted()", "reports_checkins_updated()",
    "reports_families_inserted()", "reports_families_deleted()", "reports_family_changed()", "reports_member_moved()",
    "reports_volunteer_moved()", "reports_fund_moved()", "reports_region_recoded()", "reports_disbursements_written()",
    "reports_disbursement_changed()", "reports_checkups_written()", "reports_checkup_changed()",
    "reports_tables_truncated()",
    "reports_move_family_records(bigint[], text[], text[])", "reports_move_member_records(bigint[], text[], text[])",
    "reports_move_volunteer_records(bigint[], text[], text[])", "reports_move_fund_records(bigint[], text[], text[])",
    "reports_disbursements_apply(date[], text[], text[], text[], int[], numeric[], boolean)",
    "reports_checkups_apply(date[], text[], int[], boolean)",
    "reports_tally_checkins(bigint[], timestamptz[], int[], text)",
    "reports_tally_family_contacts(bigint[], text[], text[], int[], text)",
    "reports_tally_checkups(date[], text[], int[])",
    "reports_tally_disbursements(date[], text[], text[], text[], int[], numeric[])",
    "reports_tally_families(text[], text[], text[], text[], int[])",
    "reports_tally_gives_up(int, boolean)", "reports_tally_zone()", "reports_tally_stale()",
)


def installed(using=None):
    """Whether this database maintains the tallies (PostgreSQL only; elsewhere figures are always counted)."""
    return (using or connection).vendor == "postgresql"


def install(using=None):
    """Create (or replace) the trigger functions and triggers. Idempotent."""
    using = using or connection
    if not installed(using):
        return
    with using.cursor() as cursor:
        cursor.execute(FUNCTIONS)
        cursor.execute("\n".join(_trigger(*spec) for spec in TRIGGERS))


def uninstall(using=None):
    using = using or connection
    if not installed(using):
        return
    with using.cursor() as cursor:
        for name, _event, table, *_rest in TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for signature in FUNCTION_SIGNATURES:
            cursor.execute(f"DROP FUNCTION IF EXISTS {signature}")


# ---- rebuilding ------------------------------------------------------------------------------------

TALLIES = {
    # table: (key columns, value columns, the recomputation)
    "reports_familytally": (
        "region_path, category, risk_level, status", "families",
        "SELECT region_path, category, risk_level, status, count(*) FROM families_family GROUP BY 1, 2, 3, 4"),
    "reports_contacttally": (
        # One pass over the check-ins: each family's months with a check-in, as a 12-bit mask per
        # year; families sharing a (year, mask, status, path) are counted together; each mask then
        # counts towards the year, the quarters and the months whose bits it has.
        "period, starts_on, status, region_path", "families", """
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
            ('m', 7, 128), ('m', 8, 256), ('m', 9, 512), ('m', 10, 1024), ('m', 11, 2048)) AS p(period, months_in, bits)
          ON t.months & p.bits <> 0
        GROUP BY 1, 2, 3, 4"""),
    "reports_disbursementtally": (
        "month, kind, region_path, fund_region_path", "disbursements, amount",
        f"SELECT month, kind, region_path, fund_path, count(*), sum(amount) "
        f"FROM ({DISBURSEMENT_KEYS.format(rows='services_disbursement')}) AS k GROUP BY 1, 2, 3, 4"),
    "reports_checkuptally": (
        "month, region_path", "checkups",
        f"SELECT month, region_path, count(*) FROM ({CHECKUP_KEYS.format(rows='services_healthcheckup')}) AS k "
        f"GROUP BY 1, 2"),
}
# Locked while rebuilding: everything a tally is computed from.
SOURCES = ("families_family", "families_checkin", "families_familymember", "services_disbursement",
           "services_healthcheckup", "services_fund", "volunteers_volunteer", "core_region")


@dataclass(frozen=True)
class RebuildResult:
    rows: dict  # table -> rows
    drift: int | None  # rows the triggers had wrong (None: the tallies were not being maintained)
    seconds: float


def rebuild(using=None):
    """Recompute every tally from the records and mark them exact; returns what it found.

    Writers of the counted tables wait (``SHARE`` lock) while it runs, so nothing changes between
    the recomputation and the replacement; readers do not wait. Rows that differ from what the
    triggers had kept (``drift``) mean a bug or a write that bypassed them, and are logged.
    """
    using = using or connection
    started = time.monotonic()
    if not installed(using):
        return RebuildResult({}, None, 0.0)
    zone = settings.TIME_ZONE
    rows, drift = {}, 0
    with transaction.atomic(using=using.alias), using.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {', '.join(SOURCES)} IN SHARE MODE")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        install(using)  # the functions as this code has them, whatever was installed before
        cursor.execute("SELECT time_zone FROM reports_aggregatestate WHERE id = 1 AND stale_since IS NULL")
        maintained = (cursor.fetchone() or (None,))[0] == zone
        for table, (keys, values, recompute) in TALLIES.items():
            fresh = f"{table}_fresh"
            cursor.execute(f"DROP TABLE IF EXISTS {fresh}")
            cursor.execute(f"CREATE TEMP TABLE {fresh} ON COMMIT DROP AS {recompute}", {"zone": zone})
            if maintained:
                # Rows present on one side only (a row whose counts are all zero is as good as absent).
                kept = f"SELECT {keys}, {values} FROM {table} WHERE ({values}) <> ({_zeros(values)})"
                cursor.execute(f"SELECT (SELECT count(*) FROM ({kept} EXCEPT ALL SELECT * FROM {fresh}) AS gone)"
                               f" + (SELECT count(*) FROM (SELECT * FROM {fresh} EXCEPT ALL {kept}) AS missing)")
                drift += cursor.fetchone()[0]
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute(f"INSERT INTO {table} ({keys}, {values}) SELECT * FROM {fresh}")
            rows[table] = cursor.rowcount
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("""INSERT INTO reports_aggregatestate (id, time_zone, built_at, stale_since)
                          VALUES (1, %(zone)s, now(), NULL) ON CONFLICT (id) DO UPDATE
                          SET time_zone = excluded.time_zone, built_at = excluded.built_at, stale_since = NULL""",
                       {"zone": zone})
    if drift:
        logger.error("Report tallies had drifted from the records (%s rows); rebuilt.", drift)
    return RebuildResult(rows, drift if maintained else None, round(time.monotonic() - started, 3))


# Tables that bulk loads fill (``seed_demo``).
BULK_TABLES = ("families_family", "families_checkin", "services_disbursement", "services_healthcheckup")


@contextmanager
def deferred(using=None):
    """For a bulk load: inside the block the tally triggers of ``BULK_TABLES`` are off, so PostgreSQL
    keeps no transition tables for them (at a million families, gigabytes of check-ins), and the
    tallies count as stale; at the end the triggers are back and ``rebuild`` recomputes everything.

    One transaction: switching triggers locks those tables against other writers until it ends.
    """
    using = using or connection
    if not installed(using):
        yield
        return
    names = [(name, table) for name, _event, table, *_rest in TRIGGERS if table in BULK_TABLES]

    def switch(action):
        with using.cursor() as cursor:
            # Foreign keys are checked at commit, and a table with checks pending cannot be altered:
            # check the pending ones now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for name, table in names:
                cursor.execute(f"ALTER TABLE {table} {action} TRIGGER {name}")

    with transaction.atomic(using=using.alias):
        with using.cursor() as cursor:
            cursor.execute("SELECT reports_tally_stale()")
        switch("DISABLE")
        yield
        switch("ENABLE")
        rebuild(using)


def _zeros(values):
    return ", ".join("0" for _ in values.split(","))


# ---- reading ---------------------------------------------------------------------------------------

def sees_whole_subtree(user, path):
    """Whether ``reach.restrict`` shows ``user`` every family, check-in and check-up under ``path``.

    True for superusers, and for administrators and region managers asking about a region inside
    their reach: their condition is the reach prefix (or a break-the-glass family, which adds
    nothing inside that prefix). Disbursements are the exception, narrowed by the fund's region
    (see ``_granted_disbursements``). Caseload roles see their caseload only, which tallies by
    region cannot answer.
    """
    if not all(reach.can_use(user, model) for model in (Family, CheckIn, HealthCheckup, Disbursement)):
        return False
    if user.is_superuser:
        return True
    return user.role in reach.REGION_ROLES and path.startswith(user.reach_path)


def calendar_period(period):
    """``(kind, first day)`` when the period is exactly a calendar month, quarter or year, else None."""
    start, end = period.start, period.end
    if start.day != 1:
        return None
    for kind, months, first_months in (("m", 1, range(1, 13)), ("q", 3, (1, 4, 7, 10)), ("y", 12, (1,))):
        last_month = start.month + months - 1
        if start.month in first_months and last_month <= 12 and (
                end == datetime.date(start.year, last_month, calendar.monthrange(start.year, last_month)[1])):
            return kind, start
    return None


def whole_months(period):
    """Whether the period starts on a first and ends on a last day of a month."""
    end = period.end
    return period.start.day == 1 and end.day == calendar.monthrange(end.year, end.month)[1]


@dataclass
class Tallies:
    """What the tallies say about a scope, by sub-region (the first ``length`` characters of a path)."""

    families: list = field(default_factory=list)  # {"sub", "category", "risk_level", "status", "n"}
    contacted: dict | None = None  # sub -> active families contacted in the period; None: not a calendar period
    contacted_by_month: dict | None = None  # month -> families contacted (any status); None: not whole months
    disbursements: list | None = None  # {"kind", "month", "sub", "n", "amount"}; None: not whole months
    checkups: list | None = None  # {"month", "sub", "n"}; None: not whole months


def tallies(scope, length=0, by_month=False):
    """The tallied figures of ``scope`` (one query, two for a regional user's break-the-glass grants),
    or None when they must be counted from the records. ``by_month`` adds the families contacted
    month by month (``contacted_by_month``)."""
    if not installed() or not sees_whole_subtree(scope.user, scope.path):
        return None
    period, user = scope.period, scope.user
    params = {"prefix": scope.path + "%", "length": length, "active": ACTIVE, "first": period.start,
              "last": period.end}
    parts = [
        ("SELECT 'state', time_zone, NULL, NULL, NULL, NULL::date, NULL::bigint, NULL::numeric "
         "FROM reports_aggregatestate WHERE id = 1 AND stale_since IS NULL"),
        ("SELECT 'family', substr(region_path, 1, %(length)s), category, risk_level, status, NULL::date, sum(families), "
         "NULL FROM reports_familytally WHERE region_path LIKE %(prefix)s GROUP BY 2, 3, 4, 5 HAVING sum(families) <> 0"),
    ]
    key = calendar_period(period)
    if key:
        params.update(period=key[0], starts_on=key[1])
        parts.append("SELECT 'contacted', substr(region_path, 1, %(length)s), NULL, NULL, NULL, NULL::date, "
                     "sum(families), NULL FROM reports_contacttally WHERE period = %(period)s "
                     "AND starts_on = %(starts_on)s AND status = %(active)s AND region_path LIKE %(prefix)s GROUP BY 2")
    months = whole_months(period)
    if months:
        # A regional user sees the disbursements of funds in their reach (plus, below, those of their grants).
        unrestricted = user.is_superuser or not user.reach_path
        params["fund_prefix"] = "%" if unrestricted else user.reach_path + "%"
        if by_month:
            parts.append("SELECT 'month', NULL, NULL, NULL, NULL, starts_on, sum(families), NULL FROM reports_contacttally "
                         "WHERE period = 'm' AND starts_on BETWEEN %(first)s AND %(last)s AND region_path LIKE %(prefix)s "
                         "GROUP BY starts_on HAVING sum(families) <> 0")
        parts += [
            ("SELECT 'disbursement', substr(region_path, 1, %(length)s), kind, NULL, NULL, month, sum(disbursements), "
             "sum(amount) FROM reports_disbursementtally WHERE month BETWEEN %(first)s AND %(last)s "
             "AND region_path LIKE %(prefix)s AND fund_region_path LIKE %(fund_prefix)s GROUP BY 2, 3, 6 "
             "HAVING sum(disbursements) <> 0 OR sum(amount) <> 0"),
            ("SELECT 'checkup', substr(region_path, 1, %(length)s), NULL, NULL, NULL, month, sum(checkups), NULL "
             "FROM reports_checkuptally WHERE month BETWEEN %(first)s AND %(last)s AND region_path LIKE %(prefix)s "
             "GROUP BY 2, 6 HAVING sum(checkups) <> 0"),
        ]
    with connection.cursor() as cursor:
        # One statement: the state and the tallies are read in one snapshot.
        cursor.execute(" UNION ALL ".join(f"({part})" for part in parts), params)
        rows = cursor.fetchall()
    states = [row[1] for row in rows if row[0] == "state"]
    # Months were cut in the zone the tallies were built in; Period bounds are local to the current one.
    if not (states and states[0] == settings.TIME_ZONE == timezone.get_current_timezone_name()):
        return None
    found = Tallies()
    found.families = [{"sub": sub, "category": a, "risk_level": b, "status": c, "n": n}
                      for kind, sub, a, b, c, _day, n, _amount in rows if kind == "family"]
    if key:
        found.contacted = {sub: n for kind, sub, *_rest, n, _amount in rows if kind == "contacted"}
    if months:
        if by_month:
            found.contacted_by_month = {day: n for kind, *_rest, day, n, _amount in rows if kind == "month"}
        found.disbursements = [{"kind": a, "month": day, "sub": sub, "n": n, "amount": amount}
                               for kind, sub, a, _b, _c, day, n, amount in rows if kind == "disbursement"]
        found.checkups = [{"month": day, "sub": sub, "n": n}
                          for kind, sub, _a, _b, _c, day, n, _amount in rows if kind == "checkup"]
        if not unrestricted:
            found.disbursements += _granted_disbursements(scope, length)
    return found


def _granted_disbursements(scope, length):
    """Disbursements a regional user sees through a live break-the-glass grant on the recipient family
    although their fund lies outside the user's reach (``reach.restrict``), grouped as the tallies are."""
    user, period = scope.user, scope.period
    rows = (Disbursement.objects.filter(family__in=reach.break_glass_family_ids(user),
                                        family__region_path__startswith=scope.path,
                                        paid_on__range=(period.start, period.end))
            .exclude(fund__region__path__startswith=user.reach_path).order_by()
            .annotate(month=TruncMonth("paid_on"), sub=Substr("family__region_path", 1, length))
            .values("kind", "month", "sub").annotate(n=Count("pk"), amount=Sum("amount")))
    return [{**row, "amount": row["amount"] or Decimal("0")} for row in rows]
