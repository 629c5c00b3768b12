"""Pre-computed tallies of the bulletin's largest figures, kept exact by PostgreSQL triggers.

Why triggers: families, check-ins, disbursements and check-ups change through the services, the
admin, the API, bulk ``COPY`` loads and raw SQL; triggers see every one of them, in the writer's
own transaction, so a tally is never behind the records it counts and every figure still equals
its drill-down (``reports.drilldown`` lists the records themselves).

What is additive and what is not:
- families by (region path, category, risk level, status) are a snapshot (``FamilyTally``);
  disbursements (count and amount) and free check-ups per (month, region path, …) are sums
  (``DisbursementTally``, ``CheckupTally``): a subtree's figure for whole months is the sum of its rows;
- activity participants per (month, activity region path, category) are sums (``AttendanceTally``);
- people insured in a period (distinct members on the rosters of bought policies running in it) are
  tallied per calendar month, quarter and year and per region subtree (``InsuredTally``): a roster
  row changes a tally only when it is the member's first (or, deleted, last) among that subtree's
  policies touching the period; a policy changing status, dates or region moves its roster along;
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

from casemgmt.core import dbroles, reach
from families.models import CheckIn, Family
from services.models import ActivityAttendance, Disbursement, HealthCheckup

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

# Policies that were bought (reports.statistics.SPENT_POLICY_STATUSES), as SQL.
SPENT_POLICIES = "('active', 'expired')"
# The calendar periods a policy running from {starts} to {ends} (dates) touches, as (period, first day) rows.
POLICY_PERIODS = """(SELECT 'm', g::date FROM generate_series(date_trunc('month', {starts}), {ends}, interval '1 month') g
  UNION ALL SELECT 'q', g::date FROM generate_series(date_trunc('quarter', {starts}), {ends}, interval '3 months') g
  UNION ALL SELECT 'y', g::date FROM generate_series(date_trunc('year', {starts}), {ends}, interval '1 year') g)"""
# The region subtrees a path lies in: its prefixes at every level's path length, "" for all regions.
PREFIX_LENGTHS = "ARRAY[0, 2, 4, 6, 9, 12]"
PREFIXES = f"(SELECT substr({{path}}, 1, l) FROM unnest({PREFIX_LENGTHS}) AS l WHERE l <= length({{path}}))"

# Where and when an attendance row counts: its activity's month, region path and category (none
# when the activity was cancelled); ``lost`` when its activity is missing.
ATTENDANCE_KEYS = """
SELECT date_trunc('month', a.starts_at AT TIME ZONE zone)::date AS month, r.path::text AS region_path,
       a.category::text AS category, a.id IS NULL AS lost
FROM {rows} x
LEFT JOIN services_activity a ON a.id = x.activity_id
LEFT JOIN core_region r ON r.id = a.region_id
WHERE a.status IS DISTINCT FROM 'cancelled'"""

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

-- ---- people insured: distinct members per (calendar period, region subtree) ----
-- Roster entries (a member on a bought policy of region ``path`` running from ``starts`` to ``ends``)
-- added (+1) or removed (-1): a member changes a period's tally of a subtree only when it is their
-- first (added) or last (removed) roster row among that subtree's policies touching the period; the
-- count of what remains is taken after the statement, on the roster's member index.
CREATE OR REPLACE FUNCTION reports_tally_insured(members bigint[], paths text[], starts date[], ends date[],
                                                 signs int[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH delta AS (
        SELECT u.m, k.period, k.starts_on, x.prefix, sum(u.g) AS change
        FROM unnest(members, paths, starts, ends, signs) AS u(m, p, s, e, g)
        CROSS JOIN LATERAL {POLICY_PERIODS.format(starts="u.s", ends="u.e")} AS k(period, starts_on)
        CROSS JOIN LATERAL {PREFIXES.format(path="u.p")} AS x(prefix)
        GROUP BY 1, 2, 3, 4 HAVING sum(u.g) <> 0
    ), rosters AS (
        SELECT r.member_id, g.path::text AS path, p.starts_on, p.ends_on
        FROM services_insuredperson r
        JOIN services_insurancepolicy p ON p.id = r.policy_id
        JOIN core_region g ON g.id = p.region_id
        WHERE r.member_id IN (SELECT DISTINCT m FROM delta) AND p.status IN {SPENT_POLICIES}
    ), counted AS (
        SELECT d.m, d.period, d.starts_on, d.prefix, d.change, count(r.member_id) AS remaining
        FROM delta d
        LEFT JOIN rosters r ON r.member_id = d.m AND left(r.path, length(d.prefix)) = d.prefix
             AND r.ends_on >= d.starts_on
             AND r.starts_on < (d.starts_on + CASE d.period WHEN 'm' THEN interval '1 month'
                                WHEN 'q' THEN interval '3 months' ELSE interval '1 year' END)
        GROUP BY 1, 2, 3, 4, 5
    )
    INSERT INTO reports_insuredtally AS t (period, starts_on, region_prefix, people)
    SELECT c.period, c.starts_on, c.prefix, sum(CASE WHEN c.remaining > 0 THEN 1 ELSE -1 END)
    FROM counted c
    WHERE (c.remaining > 0) <> (c.remaining - c.change > 0)
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (period, starts_on, region_prefix) DO UPDATE SET people = t.people + excluded.people;
END $$;

-- Roster rows (member, policy) added (+1) or removed (-1), with the policies as they are now.
CREATE OR REPLACE FUNCTION reports_insured_apply(members bigint[], policies bigint[], signs int[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF members IS NULL OR reports_tally_gives_up(cardinality(members), false) THEN
        RETURN;
    END IF;
    -- Serialise with changes of these policies (their status, dates, region) and with every other
    -- writer of these members' roster rows, so the counts see committed rows.
    PERFORM 1 FROM services_insurancepolicy WHERE id = ANY(policies) ORDER BY id FOR SHARE;
    PERFORM 1 FROM families_familymember WHERE id = ANY(members) ORDER BY id FOR NO KEY UPDATE;
    IF reports_tally_gives_up(0, EXISTS (SELECT 1 FROM unnest(policies) AS u(p)
                                         WHERE NOT EXISTS (SELECT 1 FROM services_insurancepolicy WHERE id = u.p))) THEN
        RETURN;
    END IF;
    PERFORM reports_tally_insured(array_agg(u.m), array_agg(g.path::text), array_agg(p.starts_on),
                                  array_agg(p.ends_on), array_agg(u.g))
    FROM unnest(members, policies, signs) AS u(m, pol, g)
    JOIN services_insurancepolicy p ON p.id = u.pol
    JOIN core_region g ON g.id = p.region_id
    WHERE p.status IN {SPENT_POLICIES}
    HAVING count(*) > 0;
END $$;

CREATE OR REPLACE FUNCTION reports_roster_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF reports_tally_zone() IS NOT NULL THEN
        PERFORM reports_insured_apply(array_agg(member_id), array_agg(policy_id), array_agg(1)) FROM new_rows;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_roster_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF reports_tally_zone() IS NOT NULL THEN
        PERFORM reports_insured_apply(array_agg(member_id), array_agg(policy_id), array_agg(-1)) FROM old_rows;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_roster_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF reports_tally_zone() IS NOT NULL THEN
        PERFORM reports_insured_apply(array_agg(m.member_id), array_agg(m.policy_id), array_agg(m.sign))
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES (o.member_id, o.policy_id, -1), (n.member_id, n.policy_id, 1))
            AS m(member_id, policy_id, sign)
        WHERE (o.member_id, o.policy_id) IS DISTINCT FROM (n.member_id, n.policy_id);
    END IF;
    RETURN NULL;
END $$;

-- A policy bought, cancelled, re-dated or moved to another region: its whole roster leaves the old
-- (period, subtree) keys and enters the new ones.
CREATE OR REPLACE FUNCTION reports_policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    members bigint[];
    old_path text;
    new_path text;
    was_spent boolean := OLD.status IN {SPENT_POLICIES};
    is_spent boolean := NEW.status IN {SPENT_POLICIES};
BEGIN
    IF reports_tally_zone() IS NULL OR NOT (was_spent OR is_spent)
       OR (was_spent AND is_spent AND (OLD.region_id, OLD.starts_on, OLD.ends_on)
                                      IS NOT DISTINCT FROM (NEW.region_id, NEW.starts_on, NEW.ends_on)) THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(member_id ORDER BY member_id) INTO members FROM services_insuredperson WHERE policy_id = NEW.id;
    IF members IS NULL OR reports_tally_gives_up(cardinality(members), false) THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM families_familymember WHERE id = ANY(members) ORDER BY id FOR NO KEY UPDATE;
    SELECT path INTO old_path FROM core_region WHERE id = OLD.region_id;
    SELECT path INTO new_path FROM core_region WHERE id = NEW.region_id;
    PERFORM reports_tally_insured(array_agg(c.m), array_agg(c.p), array_agg(c.s), array_agg(c.e), array_agg(c.g))
    FROM unnest(members) AS u(m)
    CROSS JOIN LATERAL (SELECT u.m, old_path, OLD.starts_on, OLD.ends_on, -1 WHERE was_spent
                        UNION ALL SELECT u.m, new_path, NEW.starts_on, NEW.ends_on, 1 WHERE is_spent) AS c(m, p, s, e, g);
    RETURN NULL;
END $$;

-- ---- activity participants: additive by (month, region path, category) ----
CREATE OR REPLACE FUNCTION reports_tally_attendance(months date[], paths text[], categories text[], signs int[],
                                                    lost boolean) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF months IS NULL OR reports_tally_gives_up(cardinality(months), lost) THEN
        RETURN;
    END IF;
    INSERT INTO reports_attendancetally AS t (month, region_path, category, participants)
    SELECT u.m, u.p, u.c, sum(u.g) FROM unnest(months, paths, categories, signs) AS u(m, p, c, g)
    GROUP BY 1, 2, 3 HAVING sum(u.g) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (month, region_path, category) DO UPDATE SET participants = t.participants + excluded.participants;
END $$;

CREATE OR REPLACE FUNCTION reports_attendance_written() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    zone text := reports_tally_zone();
BEGIN
    IF zone IS NULL THEN
        RETURN NULL;
    END IF;
    -- Serialise with changes of these activities (reports_activity_changed counts their attendance).
    IF TG_OP = 'INSERT' THEN  -- (updates: reports_attendance_moved, row by row)
        PERFORM 1 FROM services_activity WHERE id IN (SELECT activity_id FROM new_rows) ORDER BY id FOR SHARE;
        PERFORM reports_tally_attendance(array_agg(k.month), array_agg(k.region_path), array_agg(k.category),
                                         array_agg(1), bool_or(k.lost))
        FROM ({ATTENDANCE_KEYS.format(rows="new_rows")}) AS k;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM 1 FROM services_activity WHERE id IN (SELECT activity_id FROM old_rows) ORDER BY id FOR SHARE;
        PERFORM reports_tally_attendance(array_agg(k.month), array_agg(k.region_path), array_agg(k.category),
                                         array_agg(-1), bool_or(k.lost))
        FROM ({ATTENDANCE_KEYS.format(rows="old_rows")}) AS k;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_attendance_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    zone text := reports_tally_zone();
BEGIN
    IF zone IS NOT NULL THEN
        PERFORM 1 FROM services_activity WHERE id IN (OLD.activity_id, NEW.activity_id) ORDER BY id FOR SHARE;
        PERFORM reports_tally_attendance(array_agg(k.month), array_agg(k.region_path), array_agg(k.category),
                                         array_agg(k.sign), bool_or(k.lost))
        FROM (SELECT *, -1 AS sign FROM ({ATTENDANCE_KEYS.format(rows="(SELECT OLD.activity_id AS activity_id)")}) AS g
              UNION ALL
              SELECT *, 1 FROM ({ATTENDANCE_KEYS.format(rows="(SELECT NEW.activity_id AS activity_id)")}) AS a) AS k;
    END IF;
    RETURN NULL;
END $$;

-- An activity re-dated, re-categorised, moved or (un)cancelled takes its participants along.
CREATE OR REPLACE FUNCTION reports_activity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    zone text := reports_tally_zone();
    n int;
BEGIN
    IF zone IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO n FROM services_activityattendance WHERE activity_id = NEW.id;
    IF n > 0 THEN
        PERFORM reports_tally_attendance(array_agg(k.month), array_agg(k.path), array_agg(k.category),
                                         array_agg(k.sign), false)
        FROM (SELECT date_trunc('month', OLD.starts_at AT TIME ZONE zone)::date,
                     (SELECT path::text FROM core_region WHERE id = OLD.region_id), OLD.category::text, -n
              WHERE OLD.status <> 'cancelled'
              UNION ALL
              SELECT date_trunc('month', NEW.starts_at AT TIME ZONE zone)::date,
                     (SELECT path::text FROM core_region WHERE id = NEW.region_id), NEW.category::text, n
              WHERE NEW.status <> 'cancelled') AS k(month, path, category, sign);
    END IF;
    RETURN NULL;
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
    ("reports_roster_inserted", "INSERT", "services_insuredperson", NEW),
    ("reports_roster_deleted", "DELETE", "services_insuredperson", OLD),
    ("reports_roster_updated", "UPDATE", "services_insuredperson", BOTH),
    ("reports_policy_changed", "UPDATE", "services_insurancepolicy",
     "FOR EACH ROW " + _changed(("status", "region_id", "starts_on", "ends_on"))),
    ("reports_attendance_inserted", "INSERT", "services_activityattendance", NEW, "reports_attendance_written"),
    ("reports_attendance_deleted", "DELETE", "services_activityattendance", OLD, "reports_attendance_written"),
    ("reports_attendance_moved", "UPDATE", "services_activityattendance", "FOR EACH ROW " + _changed(("activity_id",))),
    ("reports_activity_changed", "UPDATE", "services_activity",
     "FOR EACH ROW " + _changed(("status", "region_id", "starts_at", "category"))),
] + [
    (f"reports_{table}_truncated", "TRUNCATE", table, "FOR EACH STATEMENT", "reports_tables_truncated")
    for table in ("families_checkin", "families_family", "families_familymember", "services_disbursement",
                  "services_healthcheckup", "services_fund", "volunteers_volunteer", "core_region",
                  "services_insuredperson", "services_insurancepolicy", "services_activityattendance",
                  "services_activity")
]


def _trigger(name, event, table, fires, function=None):
    return f"CREATE OR REPLACE TRIGGER {name} AFTER {event} ON {table} {fires} EXECUTE FUNCTION {function or name}();"


FUNCTION_SIGNATURES = (
    "reports_checkins_inserted()", "reports_checkins_deleted()", "reports_checkins_updated()",
    "reports_families_inserted()", "reports_families_deleted()", "reports_family_changed()", "reports_member_moved()",
    "reports_volunteer_moved()", "reports_fund_moved()", "reports_region_recoded()", "reports_disbursements_written()",
    "reports_disbursement_changed()", "reports_checkups_written()", "reports_checkup_changed()",
    "reports_tables_truncated()",
    "reports_roster_inserted()", "reports_roster_deleted()", "reports_roster_updated()", "reports_policy_changed()",
    "reports_attendance_written()", "reports_attendance_moved()", "reports_activity_changed()",
    "reports_insured_apply(bigint[], bigint[], int[])",
    "reports_tally_insured(bigint[], text[], date[], date[], int[])",
    "reports_tally_attendance(date[], text[], text[], int[], boolean)",
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

# The calendar periods of a year as (period, months after January, bits of a 12-bit month mask).
MONTH_BITS = """(VALUES ('y', 0, 4095), ('q', 0, 7), ('q', 3, 56), ('q', 6, 448), ('q', 9, 3584),
    ('m', 0, 1), ('m', 1, 2), ('m', 2, 4), ('m', 3, 8), ('m', 4, 16), ('m', 5, 32), ('m', 6, 64),
    ('m', 7, 128), ('m', 8, 256), ('m', 9, 512), ('m', 10, 1024), ('m', 11, 2048))"""

TALLIES = {
    # table: (key columns, value columns, the recomputation)
    "reports_familytally": (
        "region_path, category, risk_level, status", "families",
        "SELECT region_path, category, risk_level, status, count(*) FROM families_family GROUP BY 1, 2, 3, 4"),
    "reports_contacttally": (
        # One pass over the check-ins: each family's months with a check-in, as a 12-bit mask per
        # year; families sharing a (year, mask, status, path) are counted together; each mask then
        # counts towards the year, the quarters and the months whose bits it has.
        "period, starts_on, status, region_path", "families", f"""
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
        FROM patterns t JOIN {MONTH_BITS} AS p(period, months_in, bits) ON t.months & p.bits <> 0
        GROUP BY 1, 2, 3, 4"""),
    "reports_disbursementtally": (
        "month, kind, region_path, fund_region_path", "disbursements, amount",
        f"SELECT month, kind, region_path, fund_path, count(*), sum(amount) "
        f"FROM ({DISBURSEMENT_KEYS.format(rows='services_disbursement')}) AS k GROUP BY 1, 2, 3, 4"),
    "reports_checkuptally": (
        "month, region_path", "checkups",
        f"SELECT month, region_path, count(*) FROM ({CHECKUP_KEYS.format(rows='services_healthcheckup')}) AS k "
        f"GROUP BY 1, 2"),
    "reports_insuredtally": (
        # Like the contacts: each member's months on a bought policy, as a 12-bit mask per year and
        # subtree; members sharing a (year, subtree, mask) are counted together, then each mask
        # counts towards the year, the quarters and the months whose bits it has.
        "period, starts_on, region_prefix", "people", f"""
        WITH spans AS (
            SELECT r.member_id, g.path::text AS path, y.year::date AS year,
                   (1 << CASE WHEN p.ends_on >= y.year + interval '1 year' THEN 12
                              ELSE extract(month FROM p.ends_on)::int END)
                   - (1 << CASE WHEN p.starts_on < y.year THEN 0 ELSE extract(month FROM p.starts_on)::int - 1 END)
                   AS months
            FROM services_insuredperson r
            JOIN services_insurancepolicy p ON p.id = r.policy_id
            JOIN core_region g ON g.id = p.region_id
            CROSS JOIN LATERAL generate_series(date_trunc('year', p.starts_on), p.ends_on, interval '1 year') AS y(year)
            WHERE p.status IN {SPENT_POLICIES}
        ), by_path AS (
            SELECT member_id, year, path, bit_or(months) AS months FROM spans GROUP BY 1, 2, 3
        ), masks AS (
            SELECT b.member_id, b.year, x.prefix, bit_or(b.months) AS months
            FROM by_path b CROSS JOIN LATERAL {PREFIXES.format(path="b.path")} AS x(prefix) GROUP BY 1, 2, 3
        ), patterns AS (
            SELECT year, prefix, months, count(*) AS people FROM masks GROUP BY 1, 2, 3
        )
        SELECT p.period, (t.year + p.months_in * interval '1 month')::date, t.prefix, sum(t.people)
        FROM patterns t JOIN {MONTH_BITS} AS p(period, months_in, bits) ON t.months & p.bits <> 0
        GROUP BY 1, 2, 3"""),
    "reports_attendancetally": (
        "month, region_path, category", "participants",
        f"SELECT month, region_path, category, count(*) "
        f"FROM ({ATTENDANCE_KEYS.format(rows='services_activityattendance').replace('zone', '%(zone)s')}) AS k "
        f"GROUP BY 1, 2, 3"),
}
# Locked while rebuilding: everything a tally is computed from.
SOURCES = ("families_family", "families_checkin", "families_familymember", "services_disbursement",
           "services_healthcheckup", "services_fund", "volunteers_volunteer", "core_region", "services_insuredperson",
           "services_insurancepolicy", "services_activityattendance", "services_activity")


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
        if dbroles.owns(using, SOURCES[0]):
            # The functions as this code has them, whatever was installed before. Only the owner
            # may replace them: the application's role (the nightly task) recomputes with what
            # the last migration installed.
            install(using)
        cursor.execute("SELECT time_zone FROM reports_aggregatestate WHERE id = 1 AND stale_since IS NULL")
        maintained = (cursor.fetchone() or (None,))[0] == zone
        for table, (keys, values, recompute) in TALLIES.items():
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
            if not cursor.fetchone()[0]:  # a migration earlier than the table's own
                continue
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
BULK_TABLES = ("families_family", "families_checkin", "services_disbursement", "services_healthcheckup",
               "services_insuredperson", "services_insurancepolicy", "services_activityattendance", "services_activity")


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
    if not all(reach.can_use(user, model) for model in (Family, CheckIn, HealthCheckup, Disbursement, ActivityAttendance)):
        return False
    if user.is_superuser:
        return True
    return user.role in reach.REGION_ROLES and path.startswith(user.reach_path)


def sees_every_roster(user):
    """Whether ``reach.restrict`` leaves insured people unnarrowed for ``user`` (a superuser, a national
    administrator): a regional reader sees the roster rows of members living in their reach, which
    the tally by the policy's region cannot tell apart, so their people covered are counted."""
    return user.is_superuser or (user.role in reach.REGION_ROLES and not user.reach_path)


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
    attendance: list | None = None  # {"month", "sub", "category", "n"}; None: not whole months
    insured: int | None = None  # people covered in the whole scope; None: not a calendar period, or a narrowed reader


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
    insured = key and sees_every_roster(user)
    if key:
        params.update(period=key[0], starts_on=key[1], path=scope.path)
        if insured:
            parts.append("SELECT 'insured', NULL, NULL, NULL, NULL, NULL::date, sum(people), NULL FROM reports_insuredtally "
                         "WHERE period = %(period)s AND starts_on = %(starts_on)s AND region_prefix = %(path)s")
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
            ("SELECT 'attendance', substr(region_path, 1, %(length)s), category, NULL, NULL, month, sum(participants), "
             "NULL FROM reports_attendancetally WHERE month BETWEEN %(first)s AND %(last)s AND region_path LIKE %(prefix)s "
             "GROUP BY 2, 3, 6 HAVING sum(participants) <> 0"),
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
    if insured:
        found.insured = next((n for kind, *_rest, n, _amount in rows if kind == "insured"), None) or 0
    if months:
        if by_month:
            found.contacted_by_month = {day: n for kind, *_rest, day, n, _amount in rows if kind == "month"}
        found.disbursements = [{"kind": a, "month": day, "sub": sub, "n": n, "amount": amount}
                               for kind, sub, a, _b, _c, day, n, amount in rows if kind == "disbursement"]
        found.checkups = [{"month": day, "sub": sub, "n": n}
                          for kind, sub, _a, _b, _c, day, n, _amount in rows if kind == "checkup"]
        found.attendance = [{"month": day, "sub": sub, "category": a, "n": n}
                            for kind, sub, a, _b, _c, day, n, _amount in rows if kind == "attendance"]
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
