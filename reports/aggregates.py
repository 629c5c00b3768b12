"""Pre-computed tallies of the bulletin's largest figures, kept exact by PostgreSQL triggers.

Why triggers: families, check-ins, disbursements and check-ups change through the services, the
admin, the API, bulk ``COPY`` loads and raw SQL; triggers see every one of them, in the writer's
own transaction, so a tally is never behind the records it counts and every figure still equals
its drill-down (``reports.drilldown`` lists the records themselves).

What is additive and what is not:
- families by (region path, category, risk level, status) are a snapshot (``FamilyTally``);
  disbursements (count and amount) per (month, kind, region path, fund's region, family category)
  and free check-ups per (month, region path) are sums (``DisbursementTally``, ``CheckupTally``): a
  subtree's figure for whole months is the sum of its rows;
- consolation visits (count, cash and goods) per (month, family region path) are sums (``ConsolationTally``);
- activity participants per (month, activity region path, category) are sums (``AttendanceTally``);
- people insured in a period (distinct members on the rosters of bought policies running in it) are
  tallied per calendar month, quarter and year and per region subtree (``InsuredTally``), each
  member toward the first region path among that subtree's policies touching the period (so the
  subtree's breakdown by sub-region adds up): a roster row changes a tally only when it changes a
  member's first path there (their first row, their last, or one of a lesser path); a policy
  changing status, dates or region moves its roster along;
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
``INCREMENTAL_LIMIT`` rows (a bulk load) or moves about half as many records along (a fund with
thousands of payments changing region), a row the triggers cannot attribute (its family written or
deleted out of order, foreign keys being checked at commit), a change of region paths or a
``TRUNCATE`` marks the tallies stale instead: figures are then counted from the records until
``rebuild`` (nightly, ``manage.py rebuild_aggregates``, the end of ``seed_demo``) recomputes
everything in a few set-based statements. A bulk loader can also switch the triggers off for the
load (``deferred``). The triggers, and the rules by which a record counts toward a tally that they
share with ``rebuild``, are declared in ``reports.triggers``; migrations install them.

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
from django.db.models import Count, F, Sum
from django.db.models.functions import Substr, TruncMonth
from django.utils import timezone

from casemgmt.core import reach
from families.models import CheckIn, Family
from reports.triggers import (
    ATTENDANCE_KEYS,
    CHECKUP_KEYS,
    CONSOLATION_KEYS,
    DISBURSEMENT_KEYS,
    PREFIXES,
    SPENT_POLICIES,
    keys,
    registered,
)
from services.models import ActivityAttendance, ConsolationVisit, Disbursement, HealthCheckup

logger = logging.getLogger(__name__)

ACTIVE = Family.Status.ACTIVE

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
        "month, kind, region_path, fund_region_path, category", "disbursements, amount",
        f"SELECT month, kind, region_path, fund_path, category, count(*), sum(amount) "
        f"FROM ({keys(DISBURSEMENT_KEYS, 'services_disbursement')}) AS k GROUP BY 1, 2, 3, 4, 5"),
    "reports_consolationtally": (
        "month, region_path", "visits, cash, goods_value",
        f"SELECT month, region_path, count(*) AS visits, sum(cash) AS cash, sum(goods_value) AS goods_value "
        f"FROM ({keys(CONSOLATION_KEYS, 'services_consolationvisit')}) AS k GROUP BY 1, 2"),
    "reports_checkuptally": (
        "month, region_path", "checkups",
        f"SELECT month, region_path, count(*) FROM ({keys(CHECKUP_KEYS, 'services_healthcheckup')}) AS k "
        f"GROUP BY 1, 2"),
    "reports_insuredtally": (
        # Like the contacts: each member's months on a bought policy, as a 12-bit mask per year and
        # region path; per subtree, the member's paths there with their masks in path order; members
        # sharing a (year, subtree, pattern) are counted together, then each pattern counts towards
        # the year, the quarters and the months whose bits it has, with the first path of the
        # pattern that has any of them.
        "period, starts_on, region_prefix, first_path", "people", f"""
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
            SELECT b.member_id, b.year, x.prefix, array_agg(b.path ORDER BY b.path) AS paths,
                   array_agg(b.months ORDER BY b.path) AS months, bit_or(b.months) AS any_months
            FROM by_path b CROSS JOIN LATERAL {PREFIXES.format(path="b.path")} AS x(prefix) GROUP BY 1, 2, 3
        ), patterns AS (
            SELECT year, prefix, paths, months, any_months, count(*) AS people FROM masks GROUP BY 1, 2, 3, 4, 5
        )
        SELECT p.period, (t.year + p.months_in * interval '1 month')::date, t.prefix,
               (SELECT u.path FROM unnest(t.paths, t.months) WITH ORDINALITY AS u(path, months, i)
                WHERE u.months & p.bits <> 0 ORDER BY u.i LIMIT 1), sum(t.people)
        FROM patterns t JOIN {MONTH_BITS} AS p(period, months_in, bits) ON t.any_months & p.bits <> 0
        GROUP BY 1, 2, 3, 4"""),
    "reports_attendancetally": (
        "month, region_path, category", "participants",
        f"SELECT month, region_path, category, count(*) "
        f"FROM ({keys(ATTENDANCE_KEYS, 'services_activityattendance').replace('zone', '%(zone)s')}) AS k "
        f"GROUP BY 1, 2, 3"),
}
# Locked while rebuilding: everything a tally is computed from.
SOURCES = ("families_family", "families_checkin", "families_familymember", "services_disbursement",
           "services_healthcheckup", "services_fund", "volunteers_volunteer", "core_region", "services_insuredperson",
           "services_insurancepolicy", "services_activityattendance", "services_activity", "services_consolationvisit")


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
    zone = settings.TIME_ZONE
    rows, drift = {}, 0
    with transaction.atomic(using=using.alias), using.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {', '.join(SOURCES)} IN SHARE MODE")
        cursor.execute("SET LOCAL work_mem = '256MB'")
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
               "services_insuredperson", "services_insurancepolicy", "services_activityattendance", "services_activity",
               "services_consolationvisit")


@contextmanager
def deferred(using=None):
    """For a bulk load: inside the block the tally triggers of ``BULK_TABLES`` are off (``ALTER TABLE …
    DISABLE TRIGGER``, pgtrigger's ``disable``), so PostgreSQL keeps no transition tables for them (at
    a million families, gigabytes of check-ins), and the tallies count as stale; at the end the
    triggers are back and ``rebuild`` recomputes everything. (``pgtrigger.ignore`` would not do: the
    triggers would still fire, with their transition tables, only to return at once.)

    One transaction: switching triggers locks those tables against other writers until it ends.
    """
    using = using or connection
    bulk = [(model, trigger) for model, trigger in registered() if model._meta.db_table in BULK_TABLES]

    def switch(on):
        with using.cursor() as cursor:
            # Foreign keys are checked at commit, and a table with checks pending cannot be altered:
            # check the pending ones now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for model, trigger in bulk:
            (trigger.enable if on else trigger.disable)(model, database=using.alias)

    with transaction.atomic(using=using.alias):
        with using.cursor() as cursor:
            cursor.execute("SELECT reports_tally_stale()")
        switch(False)
        yield
        switch(True)
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
    if not all(reach.can_use(user, model)
               for model in (Family, CheckIn, HealthCheckup, Disbursement, ActivityAttendance, ConsolationVisit)):
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
    disbursements: list | None = None  # {"kind", "category", "month", "sub", "n", "amount"}; None: not whole months
    consolation: list | None = None  # {"month", "sub", "n", "cash", "goods"}; None: not whole months
    checkups: list | None = None  # {"month", "sub", "n"}; None: not whole months
    attendance: list | None = None  # {"month", "sub", "category", "n"}; None: not whole months
    insured: int | None = None  # people covered in the whole scope; None: not a calendar period, or a narrowed reader
    covered: dict | None = None  # sub -> people covered counted toward it (adds up to ``insured``); None: as above


def tallies(scope, length=0, by_month=False):
    """The tallied figures of ``scope`` (one query, two for a regional user's break-the-glass grants),
    or None when they must be counted from the records. ``by_month`` adds the families contacted
    month by month (``contacted_by_month``)."""
    if not sees_whole_subtree(scope.user, scope.path):
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
            parts.append("SELECT 'insured', substr(first_path, 1, %(length)s), NULL, NULL, NULL, NULL::date, sum(people), "
                         "NULL FROM reports_insuredtally WHERE period = %(period)s AND starts_on = %(starts_on)s "
                         "AND region_prefix = %(path)s GROUP BY 2 HAVING sum(people) <> 0")
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
            ("SELECT 'disbursement', substr(region_path, 1, %(length)s), kind, category, NULL, month, sum(disbursements), "
             "sum(amount) FROM reports_disbursementtally WHERE month BETWEEN %(first)s AND %(last)s "
             "AND region_path LIKE %(prefix)s AND fund_region_path LIKE %(fund_prefix)s GROUP BY 2, 3, 4, 6 "
             "HAVING sum(disbursements) <> 0 OR sum(amount) <> 0"),
            # Cash and goods in two rows: one numeric column for each kind of row.
            ("SELECT 'visits', substr(region_path, 1, %(length)s), NULL, NULL, NULL, month, sum(visits), sum(cash) "
             "FROM reports_consolationtally WHERE month BETWEEN %(first)s AND %(last)s AND region_path LIKE %(prefix)s "
             "GROUP BY 2, 6 HAVING sum(visits) <> 0 OR sum(cash) <> 0 OR sum(goods_value) <> 0"),
            ("SELECT 'goods', substr(region_path, 1, %(length)s), NULL, NULL, NULL, month, NULL, sum(goods_value) "
             "FROM reports_consolationtally WHERE month BETWEEN %(first)s AND %(last)s AND region_path LIKE %(prefix)s "
             "GROUP BY 2, 6 HAVING sum(visits) <> 0 OR sum(cash) <> 0 OR sum(goods_value) <> 0"),
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
        found.covered = {sub: n for kind, sub, *_rest, n, _amount in rows if kind == "insured"}
        found.insured = sum(found.covered.values())
    if months:
        if by_month:
            found.contacted_by_month = {day: n for kind, *_rest, day, n, _amount in rows if kind == "month"}
        found.disbursements = [{"kind": a, "category": b, "month": day, "sub": sub, "n": n, "amount": amount}
                               for kind, sub, a, b, _c, day, n, amount in rows if kind == "disbursement"]
        goods = {(day, sub): amount for kind, sub, _a, _b, _c, day, _n, amount in rows if kind == "goods"}
        found.consolation = [{"month": day, "sub": sub, "n": n, "cash": cash, "goods": goods[day, sub]}
                             for kind, sub, _a, _b, _c, day, n, cash in rows if kind == "visits"]
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
            .annotate(month=TruncMonth("paid_on"), sub=Substr("family__region_path", 1, length),
                      category=F("family__category"))
            .values("kind", "category", "month", "sub").annotate(n=Count("pk"), amount=Sum("amount")))
    return [{**row, "amount": row["amount"] or Decimal("0")} for row in rows]
