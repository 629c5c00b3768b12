"""Consolation visits tallied by month and family region path (person-visits, cash and goods apart),
so that the bulletin's consolation figures, month by month and by sub-region, are read from a tally
instead of a year of visits joined to their families. The tally is filled from the records by the
rule of this migration (``reports.aggregates.TALLIES`` as it was), and the helpers
(``reports.triggers.HELPERS`` as it was, with the new ``reports_consolation_apply``) are frozen here.
"""
from django.db import migrations, models

HELPERS = """-- The time zone to cut months in, or NULL when the tallies are not maintained (no state row, or
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
        CROSS JOIN LATERAL (SELECT 'm', g::date FROM generate_series(date_trunc('month', u.s), u.e, interval '1 month') g
  UNION ALL SELECT 'q', g::date FROM generate_series(date_trunc('quarter', u.s), u.e, interval '3 months') g
  UNION ALL SELECT 'y', g::date FROM generate_series(date_trunc('year', u.s), u.e, interval '1 year') g) AS k(period, starts_on)
        CROSS JOIN LATERAL (SELECT substr(u.p, 1, l) FROM unnest(ARRAY[0, 2, 4, 6, 9, 12]) AS l WHERE l <= length(u.p)) AS x(prefix)
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(u.g) <> 0
    ), affected AS (
        SELECT DISTINCT m, period, starts_on, prefix FROM delta
    ), rosters AS (
        SELECT r.member_id, g.path::text AS path, p.starts_on, p.ends_on
        FROM services_insuredperson r
        JOIN services_insurancepolicy p ON p.id = r.policy_id
        JOIN core_region g ON g.id = p.region_id
        WHERE r.member_id IN (SELECT DISTINCT m FROM delta) AND p.status IN ('active', 'expired')
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

TALLY = """SELECT month, region_path, count(*) AS visits, sum(cash) AS cash, sum(goods_value) AS goods_value FROM (
SELECT date_trunc('month', v.visited_on)::date AS month, f.region_path::text AS region_path, v.cash, v.goods_value,
       f.id IS NULL AS lost
FROM services_consolationvisit v
LEFT JOIN families_family f ON f.id = v.family_id) AS k GROUP BY 1, 2"""


def build(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("INSERT INTO reports_consolationtally (month, region_path, visits, cash, goods_value) " + TALLY)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0009_tally_category_and_first_path"),
        ("services", "0007_tally_category"),  # after the visits' table
    ]
    operations = [
        migrations.CreateModel(
            name="ConsolationTally",
            fields=[
                ("pk", models.CompositePrimaryKey("month", "region_path", blank=True, editable=False, primary_key=True,
                                                  serialize=False, verbose_name="tally key")),
                ("month", models.DateField(verbose_name="month")),
                ("region_path", models.CharField(max_length=12, verbose_name="region path")),
                ("visits", models.IntegerField(verbose_name="number of visits")),
                ("cash", models.DecimalField(decimal_places=2, max_digits=16, verbose_name="cash (CNY)")),
                ("goods_value", models.DecimalField(decimal_places=2, max_digits=16,
                                                    verbose_name="value of the goods (CNY)")),
            ],
            options={"verbose_name": "consolation tally", "verbose_name_plural": "consolation tallies"},
        ),
        migrations.RunSQL(HELPERS, "DROP FUNCTION IF EXISTS reports_consolation_apply(date[], text[], int[], numeric[], "
                                   "numeric[], boolean)"),
        migrations.RunPython(build, migrations.RunPython.noop),
    ]
