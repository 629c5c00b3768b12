"""The triggers that kept the report tallies exact, as this migration first installed them.

The text is frozen here: the tallies' triggers are now declared with django-pgtrigger
(``reports.triggers``), and a later migration replaces these.
"""
from django.db import migrations

FUNCTIONS = """
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
    FROM (
SELECT date_trunc('month', d.paid_on)::date, d.kind::text, s.path, fr.path::text, s.sign, d.amount
FROM (
        SELECT d.*, mv.old_path, mv.new_path FROM unnest(ids, old_paths, new_paths) AS mv(id, old_path, new_path)
        JOIN services_disbursement d ON d.family_id = mv.id
        UNION ALL
        SELECT d.*, mv.old_path, mv.new_path FROM unnest(ids, old_paths, new_paths) AS mv(id, old_path, new_path)
        JOIN families_familymember fm ON fm.family_id = mv.id
        JOIN services_disbursement d ON d.member_id = fm.id AND d.family_id IS NULL) AS d
JOIN services_fund fu ON fu.id = d.fund_id
JOIN core_region fr ON fr.id = fu.region_id
CROSS JOIN LATERAL (VALUES (d.old_path, -1), (d.new_path, 1)) AS s(path, sign))
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
    FROM (
SELECT date_trunc('month', d.paid_on)::date, d.kind::text, s.path, fr.path::text, s.sign, d.amount
FROM (
        SELECT d.*, mv.old_path, mv.new_path FROM unnest(ids, old_paths, new_paths) AS mv(id, old_path, new_path)
        JOIN services_disbursement d ON d.member_id = mv.id AND d.family_id IS NULL) AS d
JOIN services_fund fu ON fu.id = d.fund_id
JOIN core_region fr ON fr.id = fu.region_id
CROSS JOIN LATERAL (VALUES (d.old_path, -1), (d.new_path, 1)) AS s(path, sign))
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
    FROM (
SELECT date_trunc('month', d.paid_on)::date, d.kind::text, s.path, fr.path::text, s.sign, d.amount
FROM (
        SELECT d.*, mv.old_path, mv.new_path FROM unnest(ids, old_paths, new_paths) AS mv(id, old_path, new_path)
        JOIN services_disbursement d ON d.volunteer_id = mv.id AND d.family_id IS NULL AND d.member_id IS NULL) AS d
JOIN services_fund fu ON fu.id = d.fund_id
JOIN core_region fr ON fr.id = fu.region_id
CROSS JOIN LATERAL (VALUES (d.old_path, -1), (d.new_path, 1)) AS s(path, sign))
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
        FROM (SELECT *, -1 AS sign FROM (
SELECT date_trunc('month', d.paid_on)::date AS month, d.kind::text AS kind,
       coalesce(f.region_path, mf.region_path, vr.path, fr.path)::text AS region_path, fr.path::text AS fund_path,
       d.amount, (d.family_id IS NOT NULL AND f.id IS NULL) OR (d.member_id IS NOT NULL AND mf.id IS NULL)
                 OR (d.volunteer_id IS NOT NULL AND vr.id IS NULL) OR fr.id IS NULL AS lost
FROM (SELECT OLD.paid_on AS paid_on, OLD.kind AS kind, OLD.amount AS amount, OLD.family_id AS family_id, OLD.member_id AS member_id, OLD.volunteer_id AS volunteer_id, OLD.fund_id AS fund_id) d
LEFT JOIN families_family f ON f.id = d.family_id
LEFT JOIN families_familymember m ON m.id = d.member_id
LEFT JOIN families_family mf ON mf.id = m.family_id
LEFT JOIN volunteers_volunteer v ON v.id = d.volunteer_id
LEFT JOIN core_region vr ON vr.id = v.region_id
LEFT JOIN services_fund fu ON fu.id = d.fund_id
LEFT JOIN core_region fr ON fr.id = fu.region_id) AS g
              UNION ALL
              SELECT *, 1 FROM (
SELECT date_trunc('month', d.paid_on)::date AS month, d.kind::text AS kind,
       coalesce(f.region_path, mf.region_path, vr.path, fr.path)::text AS region_path, fr.path::text AS fund_path,
       d.amount, (d.family_id IS NOT NULL AND f.id IS NULL) OR (d.member_id IS NOT NULL AND mf.id IS NULL)
                 OR (d.volunteer_id IS NOT NULL AND vr.id IS NULL) OR fr.id IS NULL AS lost
FROM (SELECT NEW.paid_on AS paid_on, NEW.kind AS kind, NEW.amount AS amount, NEW.family_id AS family_id, NEW.member_id AS member_id, NEW.volunteer_id AS volunteer_id, NEW.fund_id AS fund_id) d
LEFT JOIN families_family f ON f.id = d.family_id
LEFT JOIN families_familymember m ON m.id = d.member_id
LEFT JOIN families_family mf ON mf.id = m.family_id
LEFT JOIN volunteers_volunteer v ON v.id = d.volunteer_id
LEFT JOIN core_region vr ON vr.id = v.region_id
LEFT JOIN services_fund fu ON fu.id = d.fund_id
LEFT JOIN core_region fr ON fr.id = fu.region_id) AS a) AS k;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reports_checkup_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF reports_tally_zone() IS NOT NULL THEN
        PERFORM reports_checkups_apply(array_agg(k.month), array_agg(k.region_path), array_agg(k.sign), bool_or(k.lost))
        FROM (SELECT *, -1 AS sign FROM (
SELECT date_trunc('month', h.date)::date AS month, f.region_path::text AS region_path, f.id IS NULL AS lost
FROM (SELECT OLD.date AS date, OLD.is_free AS is_free, OLD.member_id AS member_id) h
LEFT JOIN families_familymember m ON m.id = h.member_id
LEFT JOIN families_family f ON f.id = m.family_id
WHERE h.is_free) AS g
              UNION ALL
              SELECT *, 1 FROM (
SELECT date_trunc('month', h.date)::date AS month, f.region_path::text AS region_path, f.id IS NULL AS lost
FROM (SELECT NEW.date AS date, NEW.is_free AS is_free, NEW.member_id AS member_id) h
LEFT JOIN families_familymember m ON m.id = h.member_id
LEFT JOIN families_family f ON f.id = m.family_id
WHERE h.is_free) AS a) AS k;
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
        FROM (
SELECT date_trunc('month', d.paid_on)::date AS month, d.kind::text AS kind,
       coalesce(f.region_path, mf.region_path, vr.path, fr.path)::text AS region_path, fr.path::text AS fund_path,
       d.amount, (d.family_id IS NOT NULL AND f.id IS NULL) OR (d.member_id IS NOT NULL AND mf.id IS NULL)
                 OR (d.volunteer_id IS NOT NULL AND vr.id IS NULL) OR fr.id IS NULL AS lost
FROM new_rows d
LEFT JOIN families_family f ON f.id = d.family_id
LEFT JOIN families_familymember m ON m.id = d.member_id
LEFT JOIN families_family mf ON mf.id = m.family_id
LEFT JOIN volunteers_volunteer v ON v.id = d.volunteer_id
LEFT JOIN core_region vr ON vr.id = v.region_id
LEFT JOIN services_fund fu ON fu.id = d.fund_id
LEFT JOIN core_region fr ON fr.id = fu.region_id) AS k;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM reports_disbursements_apply(array_agg(k.month), array_agg(k.kind), array_agg(k.region_path),
                                            array_agg(k.fund_path), array_agg(-1), array_agg(k.amount), bool_or(k.lost))
        FROM (
SELECT date_trunc('month', d.paid_on)::date AS month, d.kind::text AS kind,
       coalesce(f.region_path, mf.region_path, vr.path, fr.path)::text AS region_path, fr.path::text AS fund_path,
       d.amount, (d.family_id IS NOT NULL AND f.id IS NULL) OR (d.member_id IS NOT NULL AND mf.id IS NULL)
                 OR (d.volunteer_id IS NOT NULL AND vr.id IS NULL) OR fr.id IS NULL AS lost
FROM old_rows d
LEFT JOIN families_family f ON f.id = d.family_id
LEFT JOIN families_familymember m ON m.id = d.member_id
LEFT JOIN families_family mf ON mf.id = m.family_id
LEFT JOIN volunteers_volunteer v ON v.id = d.volunteer_id
LEFT JOIN core_region vr ON vr.id = v.region_id
LEFT JOIN services_fund fu ON fu.id = d.fund_id
LEFT JOIN core_region fr ON fr.id = fu.region_id) AS k;
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
        FROM (
SELECT date_trunc('month', h.date)::date AS month, f.region_path::text AS region_path, f.id IS NULL AS lost
FROM new_rows h
LEFT JOIN families_familymember m ON m.id = h.member_id
LEFT JOIN families_family f ON f.id = m.family_id
WHERE h.is_free) AS k;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM reports_checkups_apply(array_agg(k.month), array_agg(k.region_path), array_agg(-1), bool_or(k.lost))
        FROM (
SELECT date_trunc('month', h.date)::date AS month, f.region_path::text AS region_path, f.id IS NULL AS lost
FROM old_rows h
LEFT JOIN families_familymember m ON m.id = h.member_id
LEFT JOIN families_family f ON f.id = m.family_id
WHERE h.is_free) AS k;
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

TRIGGERS = """
CREATE OR REPLACE TRIGGER reports_checkins_inserted AFTER INSERT ON families_checkin REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION reports_checkins_inserted();
CREATE OR REPLACE TRIGGER reports_checkins_deleted AFTER DELETE ON families_checkin REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION reports_checkins_deleted();
CREATE OR REPLACE TRIGGER reports_checkins_updated AFTER UPDATE ON families_checkin REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION reports_checkins_updated();
CREATE OR REPLACE TRIGGER reports_families_inserted AFTER INSERT ON families_family REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION reports_families_inserted();
CREATE OR REPLACE TRIGGER reports_families_deleted AFTER DELETE ON families_family REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION reports_families_deleted();
CREATE OR REPLACE TRIGGER reports_family_changed AFTER UPDATE ON families_family FOR EACH ROW WHEN ((OLD.region_path, OLD.category, OLD.risk_level, OLD.status) IS DISTINCT FROM (NEW.region_path, NEW.category, NEW.risk_level, NEW.status)) EXECUTE FUNCTION reports_family_changed();
CREATE OR REPLACE TRIGGER reports_member_moved AFTER UPDATE ON families_familymember FOR EACH ROW WHEN ((OLD.family_id) IS DISTINCT FROM (NEW.family_id)) EXECUTE FUNCTION reports_member_moved();
CREATE OR REPLACE TRIGGER reports_volunteer_moved AFTER UPDATE ON volunteers_volunteer FOR EACH ROW WHEN ((OLD.region_id) IS DISTINCT FROM (NEW.region_id)) EXECUTE FUNCTION reports_volunteer_moved();
CREATE OR REPLACE TRIGGER reports_fund_moved AFTER UPDATE ON services_fund FOR EACH ROW WHEN ((OLD.region_id) IS DISTINCT FROM (NEW.region_id)) EXECUTE FUNCTION reports_fund_moved();
CREATE OR REPLACE TRIGGER reports_region_recoded AFTER UPDATE ON core_region FOR EACH ROW WHEN ((OLD.path) IS DISTINCT FROM (NEW.path)) EXECUTE FUNCTION reports_region_recoded();
CREATE OR REPLACE TRIGGER reports_disbursements_inserted AFTER INSERT ON services_disbursement REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION reports_disbursements_written();
CREATE OR REPLACE TRIGGER reports_disbursements_deleted AFTER DELETE ON services_disbursement REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION reports_disbursements_written();
CREATE OR REPLACE TRIGGER reports_disbursement_changed AFTER UPDATE ON services_disbursement FOR EACH ROW WHEN ((OLD.paid_on, OLD.kind, OLD.amount, OLD.family_id, OLD.member_id, OLD.volunteer_id, OLD.fund_id) IS DISTINCT FROM (NEW.paid_on, NEW.kind, NEW.amount, NEW.family_id, NEW.member_id, NEW.volunteer_id, NEW.fund_id)) EXECUTE FUNCTION reports_disbursement_changed();
CREATE OR REPLACE TRIGGER reports_checkups_inserted AFTER INSERT ON services_healthcheckup REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION reports_checkups_written();
CREATE OR REPLACE TRIGGER reports_checkups_deleted AFTER DELETE ON services_healthcheckup REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION reports_checkups_written();
CREATE OR REPLACE TRIGGER reports_checkup_changed AFTER UPDATE ON services_healthcheckup FOR EACH ROW WHEN ((OLD.date, OLD.is_free, OLD.member_id) IS DISTINCT FROM (NEW.date, NEW.is_free, NEW.member_id)) EXECUTE FUNCTION reports_checkup_changed();
CREATE OR REPLACE TRIGGER reports_families_checkin_truncated AFTER TRUNCATE ON families_checkin FOR EACH STATEMENT EXECUTE FUNCTION reports_tables_truncated();
CREATE OR REPLACE TRIGGER reports_families_family_truncated AFTER TRUNCATE ON families_family FOR EACH STATEMENT EXECUTE FUNCTION reports_tables_truncated();
CREATE OR REPLACE TRIGGER reports_families_familymember_truncated AFTER TRUNCATE ON families_familymember FOR EACH STATEMENT EXECUTE FUNCTION reports_tables_truncated();
CREATE OR REPLACE TRIGGER reports_services_disbursement_truncated AFTER TRUNCATE ON services_disbursement FOR EACH STATEMENT EXECUTE FUNCTION reports_tables_truncated();
CREATE OR REPLACE TRIGGER reports_services_healthcheckup_truncated AFTER TRUNCATE ON services_healthcheckup FOR EACH STATEMENT EXECUTE FUNCTION reports_tables_truncated();
CREATE OR REPLACE TRIGGER reports_services_fund_truncated AFTER TRUNCATE ON services_fund FOR EACH STATEMENT EXECUTE FUNCTION reports_tables_truncated();
CREATE OR REPLACE TRIGGER reports_volunteers_volunteer_truncated AFTER TRUNCATE ON volunteers_volunteer FOR EACH STATEMENT EXECUTE FUNCTION reports_tables_truncated();
CREATE OR REPLACE TRIGGER reports_core_region_truncated AFTER TRUNCATE ON core_region FOR EACH STATEMENT EXECUTE FUNCTION reports_tables_truncated();
"""

DROP = """
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
DROP FUNCTION IF EXISTS reports_tables_truncated();
DROP FUNCTION IF EXISTS reports_region_recoded();
DROP FUNCTION IF EXISTS reports_checkups_apply(date[], text[], int[], boolean);
DROP FUNCTION IF EXISTS reports_checkups_written();
DROP FUNCTION IF EXISTS reports_disbursements_apply(date[], text[], text[], text[], int[], numeric[], boolean);
DROP FUNCTION IF EXISTS reports_disbursements_written();
DROP FUNCTION IF EXISTS reports_checkup_changed();
DROP FUNCTION IF EXISTS reports_disbursement_changed();
DROP FUNCTION IF EXISTS reports_fund_moved();
DROP FUNCTION IF EXISTS reports_volunteer_moved();
DROP FUNCTION IF EXISTS reports_member_moved();
DROP FUNCTION IF EXISTS reports_family_changed();
DROP FUNCTION IF EXISTS reports_move_fund_records(bigint[], text[], text[]);
DROP FUNCTION IF EXISTS reports_move_volunteer_records(bigint[], text[], text[]);
DROP FUNCTION IF EXISTS reports_move_member_records(bigint[], text[], text[]);
DROP FUNCTION IF EXISTS reports_move_family_records(bigint[], text[], text[]);
DROP FUNCTION IF EXISTS reports_families_deleted();
DROP FUNCTION IF EXISTS reports_families_inserted();
DROP FUNCTION IF EXISTS reports_checkins_updated();
DROP FUNCTION IF EXISTS reports_checkins_deleted();
DROP FUNCTION IF EXISTS reports_checkins_inserted();
DROP FUNCTION IF EXISTS reports_tally_checkins(bigint[], timestamptz[], int[], text);
DROP FUNCTION IF EXISTS reports_tally_family_contacts(bigint[], text[], text[], int[], text);
DROP FUNCTION IF EXISTS reports_tally_checkups(date[], text[], int[]);
DROP FUNCTION IF EXISTS reports_tally_disbursements(date[], text[], text[], text[], int[], numeric[]);
DROP FUNCTION IF EXISTS reports_tally_families(text[], text[], text[], text[], int[]);
DROP FUNCTION IF EXISTS reports_tally_gives_up(int, boolean);
DROP FUNCTION IF EXISTS reports_tally_stale();
DROP FUNCTION IF EXISTS reports_tally_zone();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_report_tallies"),
        ("families", "0005_caseload_family_covering_index"),
        ("services", "0002_links_to_members_and_volunteers"),
        ("volunteers", "0002_label_blind_index_fields"),
        ("core", "0005_audit_actor_survives_user_deletion"),
    ]
    operations = [migrations.RunSQL(FUNCTIONS + TRIGGERS, DROP)]
