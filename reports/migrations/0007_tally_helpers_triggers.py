"""The helper functions the declared tally triggers share (``reports.triggers.HELPERS``, frozen here),
in place of the triggers and trigger functions that 0002 and 0006 installed by hand: the triggers are
now declared with django-pgtrigger, and their migrations (in the apps whose tables they watch) follow
this one."""
import importlib

from django.db import migrations

DROP_HAND_INSTALLED = """
DROP TRIGGER IF EXISTS reports_checkins_inserted ON families_checkin;
DROP TRIGGER IF EXISTS reports_checkins_deleted ON families_checkin;
DROP TRIGGER IF EXISTS reports_checkins_updated ON families_checkin;
DROP TRIGGER IF EXISTS reports_families_inserted ON families_family;
DROP TRIGGER IF EXISTS reports_families_deleted ON families_family;
DROP TRIGGER IF EXISTS reports_family_changed ON families_family;
DROP TRIGGER IF EXISTS reports_member_moved ON families_familymember;
DROP TRIGGER IF EXISTS reports_volunteer_moved ON volunteers_volunteer;
DROP TRIGGER IF EXISTS reports_fund_moved ON services_fund;
DROP TRIGGER IF EXISTS reports_region_recoded ON core_region;
DROP TRIGGER IF EXISTS reports_disbursements_inserted ON services_disbursement;
DROP TRIGGER IF EXISTS reports_disbursements_deleted ON services_disbursement;
DROP TRIGGER IF EXISTS reports_disbursement_changed ON services_disbursement;
DROP TRIGGER IF EXISTS reports_checkups_inserted ON services_healthcheckup;
DROP TRIGGER IF EXISTS reports_checkups_deleted ON services_healthcheckup;
DROP TRIGGER IF EXISTS reports_checkup_changed ON services_healthcheckup;
DROP TRIGGER IF EXISTS reports_families_checkin_truncated ON families_checkin;
DROP TRIGGER IF EXISTS reports_families_family_truncated ON families_family;
DROP TRIGGER IF EXISTS reports_families_familymember_truncated ON families_familymember;
DROP TRIGGER IF EXISTS reports_services_disbursement_truncated ON services_disbursement;
DROP TRIGGER IF EXISTS reports_services_healthcheckup_truncated ON services_healthcheckup;
DROP TRIGGER IF EXISTS reports_services_fund_truncated ON services_fund;
DROP TRIGGER IF EXISTS reports_volunteers_volunteer_truncated ON volunteers_volunteer;
DROP TRIGGER IF EXISTS reports_core_region_truncated ON core_region;
DROP TRIGGER IF EXISTS reports_roster_inserted ON services_insuredperson;
DROP TRIGGER IF EXISTS reports_roster_deleted ON services_insuredperson;
DROP TRIGGER IF EXISTS reports_roster_updated ON services_insuredperson;
DROP TRIGGER IF EXISTS reports_policy_changed ON services_insurancepolicy;
DROP TRIGGER IF EXISTS reports_attendance_inserted ON services_activityattendance;
DROP TRIGGER IF EXISTS reports_attendance_deleted ON services_activityattendance;
DROP TRIGGER IF EXISTS reports_attendance_moved ON services_activityattendance;
DROP TRIGGER IF EXISTS reports_activity_changed ON services_activity;
DROP TRIGGER IF EXISTS reports_services_insuredperson_truncated ON services_insuredperson;
DROP TRIGGER IF EXISTS reports_services_insurancepolicy_truncated ON services_insurancepolicy;
DROP TRIGGER IF EXISTS reports_services_activityattendance_truncated ON services_activityattendance;
DROP TRIGGER IF EXISTS reports_services_activity_truncated ON services_activity;
DROP FUNCTION IF EXISTS reports_checkins_inserted();
DROP FUNCTION IF EXISTS reports_checkins_deleted();
DROP FUNCTION IF EXISTS reports_checkins_updated();
DROP FUNCTION IF EXISTS reports_families_inserted();
DROP FUNCTION IF EXISTS reports_families_deleted();
DROP FUNCTION IF EXISTS reports_family_changed();
DROP FUNCTION IF EXISTS reports_member_moved();
DROP FUNCTION IF EXISTS reports_volunteer_moved();
DROP FUNCTION IF EXISTS reports_fund_moved();
DROP FUNCTION IF EXISTS reports_disbursement_changed();
DROP FUNCTION IF EXISTS reports_checkup_changed();
DROP FUNCTION IF EXISTS reports_disbursements_written();
DROP FUNCTION IF EXISTS reports_checkups_written();
DROP FUNCTION IF EXISTS reports_region_recoded();
DROP FUNCTION IF EXISTS reports_tables_truncated();
DROP FUNCTION IF EXISTS reports_roster_inserted();
DROP FUNCTION IF EXISTS reports_roster_deleted();
DROP FUNCTION IF EXISTS reports_roster_updated();
DROP FUNCTION IF EXISTS reports_policy_changed();
DROP FUNCTION IF EXISTS reports_attendance_written();
DROP FUNCTION IF EXISTS reports_attendance_moved();
DROP FUNCTION IF EXISTS reports_activity_changed();
DROP FUNCTION IF EXISTS reports_move_family_records(bigint[], text[], text[]);
DROP FUNCTION IF EXISTS reports_move_member_records(bigint[], text[], text[]);
DROP FUNCTION IF EXISTS reports_move_volunteer_records(bigint[], text[], text[]);
DROP FUNCTION IF EXISTS reports_move_fund_records(bigint[], text[], text[]);
"""

HELPERS = """
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
    IF coalesce(n, 0) > 5000 OR coalesce(lost, false) THEN
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
        CROSS JOIN LATERAL (VALUES ('m', date_trunc('month', c.occurred_at AT TIME ZONE zone)::date),
                     ('q', date_trunc('quarter', c.occurred_at AT TIME ZONE zone)::date),
                     ('y', date_trunc('year', c.occurred_at AT TIME ZONE zone)::date)) AS p(period, starts_on)
        WHERE c.family_id = u.f
    ) AS k
    GROUP BY 1, 2, 3, 4 HAVING sum(u.g) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (period, starts_on, status, region_path) DO UPDATE SET families = t.families + excluded.families;
END $$;

-- Check-ins added (+1) or removed (-1): a family's period changes its tally only if the family had
-- no check-in in it before (added) or has none left (removed). Two changes of one family in one
-- statement (a check-in written together with the family's new status or region) would be counted
-- from a state that already has both: a family's check-ins and its own changes are separate statements.
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
        CROSS JOIN LATERAL (VALUES ('m', date_trunc('month', u.at AT TIME ZONE zone)::date),
                     ('q', date_trunc('quarter', u.at AT TIME ZONE zone)::date),
                     ('y', date_trunc('year', u.at AT TIME ZONE zone)::date)) AS k(period, starts_on)
        GROUP BY 1, 2, 3 HAVING sum(u.g) <> 0
    ), counted AS (
        SELECT d.*, (SELECT count(*) FROM families_checkin c WHERE c.family_id = d.f
                       AND c.occurred_at >= d.starts_on::timestamp AT TIME ZONE zone
                       AND c.occurred_at < ((d.starts_on + CASE d.period WHEN 'm' THEN interval '1 month' WHEN 'q' THEN interval '3 months' ELSE interval '1 year' END)::timestamp AT TIME ZONE zone)) AS remaining
        FROM delta d
    )
    INSERT INTO reports_contacttally AS t (period, starts_on, status, region_path, families)
    SELECT c.period, c.starts_on, f.status, f.region_path, sum(CASE WHEN c.remaining > 0 THEN 1 ELSE -1 END)
    FROM counted c JOIN families_family f ON f.id = c.f
    WHERE (c.remaining > 0) <> (c.remaining - c.change > 0)
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (period, starts_on, status, region_path) DO UPDATE SET families = t.families + excluded.families;
END $$;

CREATE OR REPLACE FUNCTION reports_disbursements_apply(months date[], kinds text[], paths text[], fund_paths text[],
                                                       signs int[], amounts numeric[], lost boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF months IS NOT NULL AND NOT reports_tally_gives_up(cardinality(months), lost) THEN
        PERFORM reports_tally_disbursements(months, kinds, paths, fund_paths, signs, amounts);
    END IF;
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
        CROSS JOIN LATERAL (SELECT 'm', g::date FROM generate_series(date_trunc('month', u.s), u.e, interval '1 month') g
  UNION ALL SELECT 'q', g::date FROM generate_series(date_trunc('quarter', u.s), u.e, interval '3 months') g
  UNION ALL SELECT 'y', g::date FROM generate_series(date_trunc('year', u.s), u.e, interval '1 year') g) AS k(period, starts_on)
        CROSS JOIN LATERAL (SELECT substr(u.p, 1, l) FROM unnest(ARRAY[0, 2, 4, 6, 9, 12]) AS l WHERE l <= length(u.p)) AS x(prefix)
        GROUP BY 1, 2, 3, 4 HAVING sum(u.g) <> 0
    ), rosters AS (
        SELECT r.member_id, g.path::text AS path, p.starts_on, p.ends_on
        FROM services_insuredperson r
        JOIN services_insurancepolicy p ON p.id = r.policy_id
        JOIN core_region g ON g.id = p.region_id
        WHERE r.member_id IN (SELECT DISTINCT m FROM delta) AND p.status IN ('active', 'expired')
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
    WHERE p.status IN ('active', 'expired')
    HAVING count(*) > 0;
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
"""


def _earlier(name):
    return importlib.import_module(f"reports.migrations.{name}")


def hand_installed():
    first, later = _earlier("0002_tally_triggers"), _earlier("0006_build_insured_and_attendance_tallies")
    return first.FUNCTIONS + first.TRIGGERS + later.FUNCTIONS + later.TRIGGERS


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0006_build_insured_and_attendance_tallies"),
        ("families", "0010_encrypt_stored_notes_and_reasons"),
        ("services", "0002_links_to_members_and_volunteers"),
        ("volunteers", "0002_label_blind_index_fields"),
        ("core", "0010_key_fingerprint"),
    ]
    operations = [
        migrations.RunSQL(DROP_HAND_INSTALLED, hand_installed()),
        migrations.RunSQL(HELPERS, migrations.RunSQL.noop),
    ]
