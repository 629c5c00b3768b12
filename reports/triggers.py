"""The triggers that keep the report tallies exact (``reports.aggregates``), declared with django-pgtrigger,
and the rules by which a record counts toward a tally, which the triggers and the rebuild share.

Why declared here and registered onto the families', services', volunteers' and regions' models: the
tallies and their rules belong to the reports, and those apps know nothing of them (apps depend
downward). ``pgtrigger.register`` adds each declaration to its model's ``Meta.triggers``, so
``makemigrations`` writes a changed trigger as a migration of the model's own app, with its SQL
frozen in it; those migrations depend on the reports migration that creates the helpers below.

Why helpers at all: several triggers share them (applying signed changes to a tally, deciding that a
statement is too large to follow). pgtrigger manages trigger functions only, so ``HELPERS`` is created
by a reports migration that holds its text frozen; ``tests/reports/test_triggers.py`` checks that the
database built by replaying the migrations has exactly these helpers with exactly this text, so a
change here needs a new migration carrying it.

Why ``*_KEYS``: where and when a record counts (month, region path, kind…) is written once, as the
query over a set of rows that both the incremental triggers (over their transition tables or the row
at hand) and ``aggregates.rebuild`` (over the whole table) run.
"""
import pgtrigger
from django.apps import apps

INCREMENTAL_LIMIT = 5000

# ---- where and when a record counts -------------------------------------------------------------

# Calendar periods of a moment, as (period, first day) rows.
PERIODS = """(VALUES ('m', date_trunc('month', {at} AT TIME ZONE zone)::date),
                     ('q', date_trunc('quarter', {at} AT TIME ZONE zone)::date),
                     ('y', date_trunc('year', {at} AT TIME ZONE zone)::date))"""
PERIOD_END = ("(({start} + CASE {period} WHEN 'm' THEN interval '1 month' WHEN 'q' THEN interval '3 months' "
              "ELSE interval '1 year' END)::timestamp AT TIME ZONE zone)")

# Where a disbursement is attributed (as ReportScope._disbursements does), its fund's region and the
# category of the family paid (none for a member, a volunteer or someone outside the system: the
# assistance payments by category are the family's); ``lost`` when a row it names is missing
# (written or deleted out of order within a transaction).
DISBURSEMENT_KEYS = """
SELECT date_trunc('month', d.paid_on)::date AS month, d.kind::text AS kind,
       coalesce(f.region_path, mf.region_path, vr.path, fr.path)::text AS region_path, fr.path::text AS fund_path,
       coalesce(f.category, '')::text AS category, d.amount,
       (d.family_id IS NOT NULL AND f.id IS NULL) OR (d.member_id IS NOT NULL AND mf.id IS NULL)
                 OR (d.volunteer_id IS NOT NULL AND vr.id IS NULL) OR fr.id IS NULL AS lost
FROM {rows} d
LEFT JOIN {families} f ON f.id = d.family_id
LEFT JOIN {members} m ON m.id = d.member_id
LEFT JOIN {families} mf ON mf.id = m.family_id
LEFT JOIN {volunteers} v ON v.id = d.volunteer_id
LEFT JOIN core_region vr ON vr.id = v.region_id
LEFT JOIN {funds} fu ON fu.id = d.fund_id
LEFT JOIN core_region fr ON fr.id = fu.region_id"""
DISBURSEMENT_FIELDS = ("paid_on", "kind", "amount", "family", "member", "volunteer", "fund")
DISBURSEMENT_COLUMNS = ("paid_on", "kind", "amount", "family_id", "member_id", "volunteer_id", "fund_id")
ROW_DISBURSEMENT = "(SELECT " + ", ".join(f"{{r}}.{c} AS {c}" for c in DISBURSEMENT_COLUMNS) + ")"

CHECKUP_KEYS = """
SELECT date_trunc('month', h.date)::date AS month, f.region_path::text AS region_path, f.id IS NULL AS lost
FROM {rows} h
LEFT JOIN {members} m ON m.id = h.member_id
LEFT JOIN {families} f ON f.id = m.family_id
WHERE h.is_free"""
CHECKUP_FIELDS = ("date", "is_free", "member")
ROW_CHECKUP = "(SELECT {r}.date AS date, {r}.is_free AS is_free, {r}.member_id AS member_id)"

# Where and when a consolation visit counts: its month and its family's region path, with what was given.
CONSOLATION_KEYS = """
SELECT date_trunc('month', v.visited_on)::date AS month, f.region_path::text AS region_path, v.cash, v.goods_value,
       f.id IS NULL AS lost
FROM {rows} v
LEFT JOIN {families} f ON f.id = v.family_id"""
CONSOLATION_FIELDS = ("visited_on", "family", "cash", "goods_value")
ROW_CONSOLATION = ("(SELECT {r}.visited_on AS visited_on, {r}.family_id AS family_id, {r}.cash AS cash, "
                   "{r}.goods_value AS goods_value)")

# Where and when an attendance row counts: its activity's month, region path and category (none
# when the activity was cancelled); ``lost`` when its activity is missing.
ATTENDANCE_KEYS = """
SELECT date_trunc('month', a.starts_at AT TIME ZONE zone)::date AS month, r.path::text AS region_path,
       a.category::text AS category, a.id IS NULL AS lost
FROM {rows} x
LEFT JOIN {activities} a ON a.id = x.activity_id
LEFT JOIN core_region r ON r.id = a.region_id
WHERE a.status IS DISTINCT FROM 'cancelled'"""

# The tables the keys look rows up in. A record counts where the rows it names say; when one of
# those rows changes (a family moves, a fund changes region), the records naming it are counted out
# with their keys as the table was before the change (the row as ``OLD``) and in with the keys as it
# is: the rule itself is not written again for moves.
LOOKUPS = {"families": "families_family", "members": "families_familymember", "volunteers": "volunteers_volunteer",
           "funds": "services_fund", "activities": "services_activity"}


def keys(template, rows, before=None):
    """``template`` over the relation ``rows``; with ``before`` (a ``LOOKUPS`` name), that table as
    it was before the update a row trigger is running for."""
    tables = dict(LOOKUPS)
    if before:
        tables[before] = f"(SELECT * FROM {LOOKUPS[before]} WHERE id <> OLD.id UNION ALL SELECT (OLD).*)"
    return template.format(rows=rows, **tables)


# Policies that were bought (reports.statistics.SPENT_POLICY_STATUSES), as SQL.
SPENT_POLICIES = "('active', 'expired')"
# The calendar periods a policy running from {starts} to {ends} (dates) touches, as (period, first day) rows.
POLICY_PERIODS = """(SELECT 'm', g::date FROM generate_series(date_trunc('month', {starts}), {ends}, interval '1 month') g
  UNION ALL SELECT 'q', g::date FROM generate_series(date_trunc('quarter', {starts}), {ends}, interval '3 months') g
  UNION ALL SELECT 'y', g::date FROM generate_series(date_trunc('year', {starts}), {ends}, interval '1 year') g)"""
# The region subtrees a path lies in: its prefixes at every level's path length, "" for all regions.
PREFIX_LENGTHS = "ARRAY[0, 2, 4, 6, 9, 12]"
PREFIXES = f"(SELECT substr({{path}}, 1, l) FROM unnest({PREFIX_LENGTHS}) AS l WHERE l <= length({{path}}))"

# ---- the helpers the triggers share --------------------------------------------------------------

HELPERS = f"""
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
                                                       categories text[], signs int[], amounts numeric[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reports_disbursementtally AS t (month, kind, region_path, fund_region_path, category, disbursements,
                                                amount)
    SELECT u.m, u.k, u.p, u.fp, u.c, sum(u.g), sum(u.g * u.a)
    FROM unnest(months, kinds, paths, fund_paths, categories, signs, amounts) AS u(m, k, p, fp, c, g, a)
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(u.g) <> 0 OR sum(u.g * u.a) <> 0 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (month, kind, region_path, fund_region_path, category) DO UPDATE
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

CREATE OR REPLACE FUNCTION reports_consolation_apply(months date[], paths text[], signs int[], cash numeric[],
                                                     goods numeric[], lost boolean) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF months IS NULL OR reports_tally_gives_up(cardinality(months), lost) THEN
        RETURN;
    END IF;
    INSERT INTO reports_consolationtally AS t (month, region_path, visits, cash, goods_value)
    SELECT u.m, u.p, sum(u.g), sum(u.g * u.c), sum(u.g * u.v) FROM unnest(months, paths, signs, cash, goods) AS u(m, p, g, c, v)
    GROUP BY 1, 2 HAVING sum(u.g) <> 0 OR sum(u.g * u.c) <> 0 OR sum(u.g * u.v) <> 0 ORDER BY 1, 2
    ON CONFLICT (month, region_path) DO UPDATE
        SET visits = t.visits + excluded.visits, cash = t.cash + excluded.cash,
            goods_value = t.goods_value + excluded.goods_value;
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

CREATE OR REPLACE FUNCTION reports_disbursements_apply(months date[], kinds text[], paths text[], fund_paths text[],
                                                       categories text[], signs int[], amounts numeric[], lost boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF months IS NOT NULL AND NOT reports_tally_gives_up(cardinality(months), lost) THEN
        PERFORM reports_tally_disbursements(months, kinds, paths, fund_paths, categories, signs, amounts);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION reports_checkups_apply(months date[], paths text[], signs int[], lost boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF months IS NOT NULL AND NOT reports_tally_gives_up(cardinality(months), lost) THEN
        PERFORM reports_tally_checkups(months, paths, signs);
    END IF;
END $$;

-- ---- people insured: distinct members per (calendar period, region subtree, first region) ----
-- Roster entries (a member on a bought policy of region ``path`` running from ``starts`` to ``ends``)
-- added (+1) or removed (-1). In a period and a subtree, a member counts once, toward the first (least)
-- region path among their policies there that touch the period, so that a subtree's breakdown by
-- sub-region adds up to its people. The roster rows per path are counted after the statement, on
-- the roster's member index; before it, they were those minus the change: a member whose first path
-- changed (or who appeared, or left) moves from the old first path to the new.
CREATE OR REPLACE FUNCTION reports_tally_insured(members bigint[], paths text[], starts date[], ends date[],
                                                 signs int[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH delta AS (
        SELECT u.m, k.period, k.starts_on, x.prefix, u.p AS path, sum(u.g) AS change
        FROM unnest(members, paths, starts, ends, signs) AS u(m, p, s, e, g)
        CROSS JOIN LATERAL {POLICY_PERIODS.format(starts="u.s", ends="u.e")} AS k(period, starts_on)
        CROSS JOIN LATERAL {PREFIXES.format(path="u.p")} AS x(prefix)
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(u.g) <> 0
    ), affected AS (
        SELECT DISTINCT m, period, starts_on, prefix FROM delta
    ), rosters AS (
        SELECT r.member_id, g.path::text AS path, p.starts_on, p.ends_on
        FROM services_insuredperson r
        JOIN services_insurancepolicy p ON p.id = r.policy_id
        JOIN core_region g ON g.id = p.region_id
        WHERE r.member_id IN (SELECT DISTINCT m FROM delta) AND p.status IN {SPENT_POLICIES}
    ), present AS (
        SELECT a.m, a.period, a.starts_on, a.prefix, r.path, count(*) AS rows_after
        FROM affected a
        JOIN rosters r ON r.member_id = a.m AND left(r.path, length(a.prefix)) = a.prefix
             AND r.ends_on >= a.starts_on
             AND r.starts_on < (a.starts_on + CASE a.period WHEN 'm' THEN interval '1 month'
                                WHEN 'q' THEN interval '3 months' ELSE interval '1 year' END)
        GROUP BY 1, 2, 3, 4, 5
    ), counted AS (
        SELECT coalesce(n.m, d.m) AS m, coalesce(n.period, d.period) AS period,
               coalesce(n.starts_on, d.starts_on) AS starts_on, coalesce(n.prefix, d.prefix) AS prefix,
               coalesce(n.path, d.path) AS path, coalesce(n.rows_after, 0) AS rows_after,
               coalesce(n.rows_after, 0) - coalesce(d.change, 0) AS rows_before
        FROM present n
        FULL JOIN delta d ON d.m = n.m AND d.period = n.period AND d.starts_on = n.starts_on
             AND d.prefix = n.prefix AND d.path = n.path
    ), firsts AS (
        SELECT period, starts_on, prefix, min(path) FILTER (WHERE rows_before > 0) AS was,
               min(path) FILTER (WHERE rows_after > 0) AS now_first
        FROM counted GROUP BY m, period, starts_on, prefix
    )
    INSERT INTO reports_insuredtally AS t (period, starts_on, region_prefix, first_path, people)
    SELECT f.period, f.starts_on, f.prefix, c.first_path, sum(c.g)
    FROM firsts f CROSS JOIN LATERAL (VALUES (f.was, -1), (f.now_first, 1)) AS c(first_path, g)
    WHERE c.first_path IS NOT NULL AND f.was IS DISTINCT FROM f.now_first
    GROUP BY 1, 2, 3, 4 HAVING sum(c.g) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (period, starts_on, region_prefix, first_path) DO UPDATE SET people = t.people + excluded.people;
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

# ---- the triggers --------------------------------------------------------------------------------

NEW_ROWS = pgtrigger.Referencing(new="new_rows")
OLD_ROWS = pgtrigger.Referencing(old="old_rows")
BOTH_ROWS = pgtrigger.Referencing(old="old_rows", new="new_rows")
ZONE = [("zone", "text")]


def _statement(name, operation, referencing, func, declare=None):
    """Inserts, deletes (and every change of check-ins and roster rows): one set-based pass per
    statement over its transition table, not one per row."""
    return pgtrigger.Trigger(name=name, when=pgtrigger.After, operation=operation, level=pgtrigger.Statement,
                             referencing=referencing, func=func, declare=declare)


def _changed(name, fields, func, declare=None):
    """Updates of the other tables are additive row by row, so they fire only when a tallied column
    changed: the many updates of due dates and notes cost nothing."""
    return pgtrigger.Trigger(name=name, when=pgtrigger.After, operation=pgtrigger.Update, level=pgtrigger.Row,
                             condition=pgtrigger.AnyChange(*fields), func=func, declare=declare)


def _truncated():
    """What the triggers cannot follow: the tallies become stale until ``rebuild``."""
    return pgtrigger.Trigger(name="tally_truncated", when=pgtrigger.After, operation=pgtrigger.Truncate,
                             level=pgtrigger.Statement, func="PERFORM reports_tally_stale(); RETURN NULL;")


def _checkins(rows, sign):
    return f"""zone := reports_tally_zone();
IF zone IS NOT NULL THEN
    PERFORM reports_tally_checkins(array_agg(family_id), array_agg(occurred_at), array_agg({sign}), zone) FROM {rows};
END IF;
RETURN NULL;"""


def _families(rows, sign):
    # (Deleted families' check-ins and members are gone already; if not, deleting those later finds no family: stale.)
    return f"""IF reports_tally_zone() IS NOT NULL THEN
    PERFORM reports_tally_families(array_agg(region_path::text), array_agg(category::text),
                                   array_agg(risk_level::text), array_agg(status::text), array_agg({sign}))
    FROM {rows};
END IF;
RETURN NULL;"""


def _disbursements(rows, sign):
    return f"""IF reports_tally_zone() IS NOT NULL THEN
    PERFORM reports_disbursements_apply(array_agg(k.month), array_agg(k.kind), array_agg(k.region_path),
                                        array_agg(k.fund_path), array_agg(k.category), array_agg({sign}),
                                        array_agg(k.amount), bool_or(k.lost))
    FROM ({keys(DISBURSEMENT_KEYS, rows)}) AS k;
END IF;
RETURN NULL;"""


def _checkups(rows, sign):
    return f"""IF reports_tally_zone() IS NOT NULL THEN
    PERFORM reports_checkups_apply(array_agg(k.month), array_agg(k.region_path), array_agg({sign}), bool_or(k.lost))
    FROM ({keys(CHECKUP_KEYS, rows)}) AS k;
END IF;
RETURN NULL;"""


def _consolation(rows, sign):
    return f"""IF reports_tally_zone() IS NOT NULL THEN
    PERFORM reports_consolation_apply(array_agg(k.month), array_agg(k.region_path), array_agg({sign}), array_agg(k.cash),
                                      array_agg(k.goods_value), bool_or(k.lost))
    FROM ({keys(CONSOLATION_KEYS, rows)}) AS k;
END IF;
RETURN NULL;"""


def _roster(rows, sign):
    return f"""IF reports_tally_zone() IS NOT NULL THEN
    PERFORM reports_insured_apply(array_agg(member_id), array_agg(policy_id), array_agg({sign})) FROM {rows};
END IF;
RETURN NULL;"""


def _attendance(rows, sign):
    # Serialise with changes of these activities (tally_activity_changed counts their attendance).
    return f"""zone := reports_tally_zone();
IF zone IS NOT NULL THEN
    PERFORM 1 FROM services_activity WHERE id IN (SELECT activity_id FROM {rows}) ORDER BY id FOR SHARE;
    PERFORM reports_tally_attendance(array_agg(k.month), array_agg(k.region_path), array_agg(k.category),
                                     array_agg({sign}), bool_or(k.lost))
    FROM ({keys(ATTENDANCE_KEYS, rows)}) AS k;
END IF;
RETURN NULL;"""


def _signed(minus, plus):
    """Keys counted out (-1) and in (+1), as the relation ``k``."""
    return f"(SELECT *, -1 AS sign FROM ({minus}) AS g\n      UNION ALL\n      SELECT *, 1 FROM ({plus}) AS a) AS k"


def _row_changed(template, row):
    """The keys of the updated row as it was and as it is."""
    return _signed(keys(template, row.format(r="OLD")), keys(template, row.format(r="NEW")))


def _followers(template, rows, before):
    """The keys of ``rows``, records naming the updated row of ``before``: as they were and as they are
    (those whose keys did not change cancel out)."""
    return _signed(keys(template, rows, before), keys(template, rows))


def _disbursements_follow(rows, before):
    return f"""PERFORM reports_disbursements_apply(array_agg(k.month), array_agg(k.kind), array_agg(k.region_path),
                                    array_agg(k.fund_path), array_agg(k.category), array_agg(k.sign),
                                    array_agg(k.amount), bool_or(k.lost))
FROM {_followers(DISBURSEMENT_KEYS, rows, before)};"""


def _checkups_follow(rows, before):
    return f"""PERFORM reports_checkups_apply(array_agg(k.month), array_agg(k.region_path), array_agg(k.sign),
                               bool_or(k.lost))
FROM {_followers(CHECKUP_KEYS, rows, before)};"""


def _consolation_follow(rows, before):
    return f"""PERFORM reports_consolation_apply(array_agg(k.month), array_agg(k.region_path), array_agg(k.sign),
                                  array_agg(k.cash), array_agg(k.goods_value), bool_or(k.lost))
FROM {_followers(CONSOLATION_KEYS, rows, before)};"""


def _moved(rows, before, checkups=None):
    body = _disbursements_follow(rows, before) + (("\n" + _checkups_follow(checkups, before)) if checkups else "")
    return f"""IF reports_tally_zone() IS NOT NULL THEN
{body}
END IF;
RETURN NULL;"""


# The records that name the row a trigger runs for (NEW), directly or through a family's members.
MEMBER_DISBURSEMENTS = "(SELECT * FROM services_disbursement WHERE member_id = NEW.id)"
MEMBER_CHECKUPS = "(SELECT * FROM services_healthcheckup WHERE member_id = NEW.id)"
VOLUNTEER_DISBURSEMENTS = "(SELECT * FROM services_disbursement WHERE volunteer_id = NEW.id)"
FUND_DISBURSEMENTS = "(SELECT * FROM services_disbursement WHERE fund_id = NEW.id)"
FAMILY_DISBURSEMENTS = ("(SELECT * FROM services_disbursement WHERE family_id = NEW.id"
                        " OR member_id IN (SELECT id FROM families_familymember WHERE family_id = NEW.id))")
FAMILY_CONSOLATION = "(SELECT * FROM services_consolationvisit WHERE family_id = NEW.id)"
FAMILY_CHECKUPS = ("(SELECT * FROM services_healthcheckup"
                   " WHERE member_id IN (SELECT id FROM families_familymember WHERE family_id = NEW.id))")

TRIGGERS = {
    "families.CheckIn": [
        _statement("tally_checkins_inserted", pgtrigger.Insert, NEW_ROWS, _checkins("new_rows", 1), ZONE),
        _statement("tally_checkins_deleted", pgtrigger.Delete, OLD_ROWS, _checkins("old_rows", -1), ZONE),
        # Only a change of family or time moves a check-in between tallies (not an edit of its notes).
        _statement("tally_checkins_updated", pgtrigger.Update, BOTH_ROWS, """zone := reports_tally_zone();
IF zone IS NOT NULL THEN
    PERFORM reports_tally_checkins(array_agg(m.family_id), array_agg(m.occurred_at), array_agg(m.sign), zone)
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES (o.family_id, o.occurred_at, -1), (n.family_id, n.occurred_at, 1))
        AS m(family_id, occurred_at, sign)
    WHERE (o.family_id, o.occurred_at) IS DISTINCT FROM (n.family_id, n.occurred_at);
END IF;
RETURN NULL;""", ZONE),
        _truncated(),
    ],
    "families.Family": [
        _statement("tally_families_inserted", pgtrigger.Insert, NEW_ROWS, _families("new_rows", 1)),
        _statement("tally_families_deleted", pgtrigger.Delete, OLD_ROWS, _families("old_rows", -1)),
        _changed("tally_family_changed", ("region_path", "category", "risk_level", "status"), f"""zone := reports_tally_zone();
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
IF (OLD.region_path, OLD.category) IS DISTINCT FROM (NEW.region_path, NEW.category) THEN
{_disbursements_follow(FAMILY_DISBURSEMENTS, "families")}
END IF;
IF OLD.region_path IS DISTINCT FROM NEW.region_path THEN
{_checkups_follow(FAMILY_CHECKUPS, "families")}
{_consolation_follow(FAMILY_CONSOLATION, "families")}
END IF;
RETURN NULL;""", ZONE),
        _truncated(),
    ],
    "families.FamilyMember": [
        _changed("tally_member_moved", ("family",),
                 _moved(MEMBER_DISBURSEMENTS, "members", MEMBER_CHECKUPS)),
        _truncated(),
    ],
    "volunteers.Volunteer": [
        _changed("tally_volunteer_moved", ("region",), _moved(VOLUNTEER_DISBURSEMENTS, "volunteers")),
        _truncated(),
    ],
    "services.Fund": [
        _changed("tally_fund_moved", ("region",), _moved(FUND_DISBURSEMENTS, "funds")),
        _truncated(),
    ],
    "core.Region": [
        # A re-coded region moves every record under it: counted again by the rebuild.
        _changed("tally_region_recoded", ("path",), "PERFORM reports_tally_stale(); RETURN NULL;"),
        _truncated(),
    ],
    "services.Disbursement": [
        _statement("tally_disbursements_inserted", pgtrigger.Insert, NEW_ROWS, _disbursements("new_rows", 1)),
        _statement("tally_disbursements_deleted", pgtrigger.Delete, OLD_ROWS, _disbursements("old_rows", -1)),
        _changed("tally_disbursement_changed", DISBURSEMENT_FIELDS, f"""IF reports_tally_zone() IS NOT NULL THEN
    PERFORM reports_disbursements_apply(array_agg(k.month), array_agg(k.kind), array_agg(k.region_path),
                                        array_agg(k.fund_path), array_agg(k.category), array_agg(k.sign),
                                        array_agg(k.amount), bool_or(k.lost))
    FROM {_row_changed(DISBURSEMENT_KEYS, ROW_DISBURSEMENT)};
END IF;
RETURN NULL;"""),
        _truncated(),
    ],
    "services.HealthCheckup": [
        _statement("tally_checkups_inserted", pgtrigger.Insert, NEW_ROWS, _checkups("new_rows", 1)),
        _statement("tally_checkups_deleted", pgtrigger.Delete, OLD_ROWS, _checkups("old_rows", -1)),
        _changed("tally_checkup_changed", CHECKUP_FIELDS, f"""IF reports_tally_zone() IS NOT NULL THEN
    PERFORM reports_checkups_apply(array_agg(k.month), array_agg(k.region_path), array_agg(k.sign), bool_or(k.lost))
    FROM {_row_changed(CHECKUP_KEYS, ROW_CHECKUP)};
END IF;
RETURN NULL;"""),
        _truncated(),
    ],
    "services.ConsolationVisit": [
        _statement("tally_visits_inserted", pgtrigger.Insert, NEW_ROWS, _consolation("new_rows", 1)),
        _statement("tally_visits_deleted", pgtrigger.Delete, OLD_ROWS, _consolation("old_rows", -1)),
        _changed("tally_visit_changed", CONSOLATION_FIELDS, f"""IF reports_tally_zone() IS NOT NULL THEN
    PERFORM reports_consolation_apply(array_agg(k.month), array_agg(k.region_path), array_agg(k.sign),
                                      array_agg(k.cash), array_agg(k.goods_value), bool_or(k.lost))
    FROM {_row_changed(CONSOLATION_KEYS, ROW_CONSOLATION)};
END IF;
RETURN NULL;"""),
        _truncated(),
    ],
    "services.InsuredPerson": [
        _statement("tally_roster_inserted", pgtrigger.Insert, NEW_ROWS, _roster("new_rows", 1)),
        _statement("tally_roster_deleted", pgtrigger.Delete, OLD_ROWS, _roster("old_rows", -1)),
        _statement("tally_roster_updated", pgtrigger.Update, BOTH_ROWS, """IF reports_tally_zone() IS NOT NULL THEN
    PERFORM reports_insured_apply(array_agg(m.member_id), array_agg(m.policy_id), array_agg(m.sign))
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES (o.member_id, o.policy_id, -1), (n.member_id, n.policy_id, 1))
        AS m(member_id, policy_id, sign)
    WHERE (o.member_id, o.policy_id) IS DISTINCT FROM (n.member_id, n.policy_id);
END IF;
RETURN NULL;"""),
        _truncated(),
    ],
    "services.InsurancePolicy": [
        # A policy bought, cancelled, re-dated or moved to another region: its whole roster leaves the
        # old (period, subtree) keys and enters the new ones.
        _changed("tally_policy_changed", ("status", "region", "starts_on", "ends_on"), f"""
was_spent := OLD.status IN {SPENT_POLICIES};
is_spent := NEW.status IN {SPENT_POLICIES};
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
RETURN NULL;""", [("members", "bigint[]"), ("old_path", "text"), ("new_path", "text"), ("was_spent", "boolean"),
                  ("is_spent", "boolean")]),
        _truncated(),
    ],
    "services.ActivityAttendance": [
        _statement("tally_attendance_inserted", pgtrigger.Insert, NEW_ROWS, _attendance("new_rows", 1), ZONE),
        _statement("tally_attendance_deleted", pgtrigger.Delete, OLD_ROWS, _attendance("old_rows", -1), ZONE),
        _changed("tally_attendance_moved", ("activity",), f"""zone := reports_tally_zone();
IF zone IS NOT NULL THEN
    PERFORM 1 FROM services_activity WHERE id IN (OLD.activity_id, NEW.activity_id) ORDER BY id FOR SHARE;
    PERFORM reports_tally_attendance(array_agg(k.month), array_agg(k.region_path), array_agg(k.category),
                                     array_agg(k.sign), bool_or(k.lost))
    FROM {_row_changed(ATTENDANCE_KEYS, "(SELECT {r}.activity_id AS activity_id)")};
END IF;
RETURN NULL;""", ZONE),
        _truncated(),
    ],
    "services.Activity": [
        # An activity re-dated, re-categorised, moved or (un)cancelled takes its participants along.
        _changed("tally_activity_changed", ("status", "region", "starts_at", "category"), f"""zone := reports_tally_zone();
IF zone IS NOT NULL THEN
    PERFORM reports_tally_attendance(array_agg(k.month), array_agg(k.region_path), array_agg(k.category),
                                     array_agg(k.sign), bool_or(k.lost))
    FROM {_followers(ATTENDANCE_KEYS, "(SELECT * FROM services_activityattendance WHERE activity_id = NEW.id)",
                     "activities")};
END IF;
RETURN NULL;""", ZONE),
        _truncated(),
    ],
}


def register():
    """Declare the triggers on their models (``ReportsConfig.ready``)."""
    for label, triggers in TRIGGERS.items():
        pgtrigger.register(*triggers)(apps.get_model(label))


def registered():
    """``(model, trigger)`` for every tally trigger."""
    return [(apps.get_model(label), trigger) for label, triggers in TRIGGERS.items() for trigger in triggers]
