"""Set-based sweeps that notice what is due for families and tell the right people once.

Each sweep reads all due families of a region partition in a few queries and writes its reminders
with ``bulk_create(ignore_conflicts=True)`` on unique keys, so a rerun (two beats, a redelivered
message after a killed worker) adds nothing and the query count does not grow with the families.
The daily check-in sweep, which meets most families, does not bring them into Python at all: its
reminders are INSERT ... SELECT statements (``notify_select``) and the unique index turns a rerun away.
"""
import datetime
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, Exists, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.constants import OnConflict
from django.db.models.functions import Coalesce
from django.db.models.sql import InsertQuery
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from casemgmt.core import privacy
from casemgmt.core.models import Notification, Role, User
from casemgmt.core.notifications import notify_many, notify_select

from . import calendar
from .models import AnnualReview, AssistanceEnrollment, CareTask, ContactAssignment, Family, FamilyMember

OPEN_STATUSES = (Family.Status.REGISTERED, Family.Status.ACTIVE)
PREFIX_LENGTHS = (12, 9, 6, 4, 2)


def _setting(name, default):
    return getattr(settings, name, default)


class _Text:
    """A translated message template per language, formatted many times without re-translating."""

    def __init__(self, message):
        self.message = message
        self.cache = {}

    def __call__(self, language, **params):
        if language not in self.cache:
            with translation.override(language):
                self.cache[language] = str(self.message)
        return self.cache[language] % params


class _PluralText(_Text):
    """A message with singular and plural forms (``ngettext_lazy(..., "count")``): the form depends
    on the count, so it is chosen at each call."""

    def __call__(self, language, **params):
        with translation.override(language):
            return self.message % params


DUE_SOON = _Text(_("Check-in with family %(file)s is due on %(due)s."))
OVERDUE = _Text(_("Check-in with family %(file)s is overdue since %(due)s."))
ESCALATED = _Text(_("Escalation: family %(file)s has had no check-in since it was due on %(due)s."))
CARE_VISIT = _Text(_("Care visit for family %(file)s: %(what)s on %(date)s."))
REVIEW_WORKLIST = _PluralText(ngettext_lazy(
    "Annual review %(year)s: %(count)s enrolment in your area; apply by %(apply)s, "
    "village review by %(village)s, county confirmation by %(county)s.",
    "Annual review %(year)s: %(count)s enrolments in your area; apply by %(apply)s, "
    "village review by %(village)s, county confirmation by %(county)s.", "count"))
TURNING_49 = _Text(_("Family %(file)s: %(name)s turns 49 in %(year)s and may apply for special assistance."))
WHAT = {
    "anniversary": _("anniversary of the child's death"),
    "spring_festival": _("Spring Festival"),
    "qingming": _("Qingming"),
    "mid_autumn": _("Mid-Autumn Festival"),
    "birthday": _("birthday of %(name)s"),
}


def _outbound_name(name):
    """A member's name as a reminder may carry it: it is mailed and texted (``privacy.outbound``);
    the recipients are the family's own contacts."""
    return privacy.outbound(FamilyMember, "name", name)


def _staff_by_path(role):
    """Active users of ``role`` grouped by the path of their region ('' for country-wide)."""
    grouped = defaultdict(list)
    for user_id, path, language in User.objects.filter(role=role, is_active=True).values_list(
        "id", "region__path", "language"
    ):
        grouped[path or ""].append((user_id, language))
    return grouped


def deepest(staff_by_path, region_path):
    """The staff whose region is the deepest one containing ``region_path`` (country-wide last)."""
    for n in PREFIX_LENGTHS:
        if len(region_path) >= n and staff_by_path.get(region_path[:n]):
            return staff_by_path[region_path[:n]]
    return staff_by_path.get("", [])


def _open_families(region_path):
    qs = Family.objects.filter(status__in=OPEN_STATUSES)
    return qs.filter(region_path__startswith=region_path) if region_path else qs


# The contacts of every family due within a few days or overdue: one row per open assignment of an
# active user (a user holding two assignments of one family gets one row: same dedup key). The open
# assignments are one index probe per due family (OFFSET 0 keeps the subquery apart): left to itself
# the planner hashes every open assignment of the country for each county's sweep, five times slower.
CHECKIN_REMINDERS_SQL = """
SELECT a.user_id AS recipient_id, f.id AS family_id,
       CASE WHEN f.next_checkin_due < %(today)s THEN 'checkin.overdue' ELSE 'checkin.due' END AS kind,
       CASE WHEN f.next_checkin_due < %(today)s THEN %(warning)s ELSE %(reminder)s END AS level,
       {title} AS title,
       'checkin:' || CASE WHEN f.next_checkin_due < %(today)s THEN 'overdue' ELSE 'due' END
         || ':' || f.id || ':' || {due} || ':' || a.user_id AS dedup_key
FROM families_family f
CROSS JOIN LATERAL (SELECT a.user_id FROM families_contactassignment a
                    WHERE a.family_id = f.id AND a.ended_on IS NULL OFFSET 0) a
JOIN core_user u ON u.id = a.user_id
WHERE f.status IN ({open}) AND f.next_checkin_due <= %(horizon)s {in_region} AND u.is_active
"""

# Families long overdue, to the active region managers (and, later, administrators) of the deepest
# region containing the family that has any; those without a region (country-wide) when none has.
CHECKIN_ESCALATIONS_SQL = """
WITH staff AS (
    SELECT u.id, u.language, u.role, COALESCE(r.path, '') AS path
    FROM core_user u LEFT JOIN core_region r ON r.id = u.region_id
    WHERE u.is_active AND u.role IN (%(manager)s, %(admin)s)
), late AS (
    SELECT f.id, f.file_number, f.next_checkin_due, f.region_path, step.column1 AS step, step.column2 AS role
    FROM families_family f
    JOIN (VALUES ('manager', %(manager)s, %(to_manager)s), ('admin', %(admin)s, %(to_admin)s)) step
      ON f.next_checkin_due <= step.column3
    WHERE f.status IN ({open}) {in_region}
), deepest AS (
    SELECT place.region_path, place.role, substr(place.region_path, 1, max(depth.column1)) AS path
    FROM (SELECT DISTINCT region_path, role FROM late) place
    JOIN (VALUES {depths}) depth ON length(place.region_path) >= depth.column1
    JOIN staff ON staff.role = place.role AND staff.path = substr(place.region_path, 1, depth.column1)
    GROUP BY place.region_path, place.role
)
SELECT u.id AS recipient_id, f.id AS family_id, 'checkin.escalated.' || f.step AS kind, %(escalation)s AS level,
       {title} AS title,
       'checkin:escalated:' || f.step || ':' || f.id || ':' || {due} || ':' || u.id AS dedup_key
FROM late f
JOIN deepest ON deepest.region_path = f.region_path AND deepest.role = f.role
JOIN staff u ON u.role = deepest.role AND u.path = deepest.path
"""


def _title_sql(params, name, message, *, language, file, due):
    """SQL of ``message`` (a ``_Text`` with %(file)s and %(due)s) in the language held in the column
    ``language``: the translations are made here, the values put in by ``replace``. A language
    without a catalogue gets LANGUAGE_CODE's text, as gettext's fallback gives it."""
    arms = []
    for i, code in enumerate([code for code, _name in settings.LANGUAGES]):
        params[f"{name}_language_{i}"] = code
        params[f"{name}_{i}"] = message(code, file="{file}", due="{due}")
        arms.append(f"WHEN %({name}_language_{i})s THEN %({name}_{i})s")
    params[f"{name}_default"] = message(settings.LANGUAGE_CODE, file="{file}", due="{due}")
    params.update(file_mark="{file}", due_mark="{due}")
    text = f"CASE {language} {' '.join(arms)} ELSE %({name}_default)s END"
    # The date first: a file number could hold "{due}", a date cannot hold "{file}".
    return f"replace(replace({text}, %(due_mark)s, {due}), %(file_mark)s, {file})"


def checkin_sweep(*, today=None, region_path="", now=None):
    """Remind contacts of families due within a few days or overdue; escalate long-overdue ones.

    Keys carry the due date, so each due date is reminded once and a recorded check-in (which moves
    the due date) starts a fresh cycle. Set-based: two INSERT ... SELECT statements write the
    reminders and the escalations, one more their outbox rows, whatever the number of families; on a
    rerun the unique dedup key turns every row away. Returns the number of new notifications.
    """
    today = today or timezone.localdate()
    ops = connection.ops
    params = {
        "today": ops.adapt_datefield_value(today),
        "horizon": ops.adapt_datefield_value(today + datetime.timedelta(days=_setting("CHECKIN_REMIND_DAYS_AHEAD", 3))),
        "to_manager": ops.adapt_datefield_value(
            today - datetime.timedelta(days=_setting("CHECKIN_ESCALATE_MANAGER_DAYS", 7))),
        "to_admin": ops.adapt_datefield_value(today - datetime.timedelta(days=_setting("CHECKIN_ESCALATE_ADMIN_DAYS", 21))),
        **{f"open_{i}": status for i, status in enumerate(OPEN_STATUSES)},
        "manager": Role.REGION_MANAGER, "admin": Role.ADMIN,
        "reminder": Notification.Level.REMINDER, "warning": Notification.Level.WARNING,
        "escalation": Notification.Level.ESCALATION,
    }
    sql = {"open": ", ".join(f"%(open_{i})s" for i in range(len(OPEN_STATUSES))), "in_region": "",
           "due": "to_char(f.next_checkin_due, 'YYYY-MM-DD')"}  # as str(date) writes it
    if region_path:
        params["region_like"] = ops.prep_for_like_query(region_path) + "%"
        sql["in_region"] = "AND f.region_path LIKE %(region_like)s"

    def title(message, name):
        return _title_sql(params, name, message, language="u.language", file="f.file_number", due=sql["due"])

    reminders = CHECKIN_REMINDERS_SQL.format(
        **sql,
        title=f"CASE WHEN f.next_checkin_due < %(today)s THEN {title(OVERDUE, 'overdue')} ELSE {title(DUE_SOON, 'due')} END",
    )
    escalations = CHECKIN_ESCALATIONS_SQL.format(
        **sql, title=title(ESCALATED, "escalated"),
        depths=", ".join(f"({n})" for n in (*PREFIX_LENGTHS, 0)),  # 0: staff without a region, country-wide
    )
    return notify_select([(reminders, params), (escalations, params)], now=now)


def _contacts_of(family_ids):
    """{family_id: [(user_id, language, kind), ...]} of the active contacts, in one query."""
    contacts = defaultdict(list)
    rows = ContactAssignment.objects.filter(family_id__in=family_ids, ended_on__isnull=True, user__is_active=True)
    for family_id, user_id, language, kind in rows.values_list("family_id", "user_id", "user__language", "kind").order_by(
        "family_id", "kind", "id"
    ):
        contacts[family_id].append((user_id, language, kind))
    return contacts


# The village contact lives nearest; a visit task goes to them first.
ASSIGNEE_PREFERENCE = ["village_contact", "township_contact", "social_worker", "association_member"]


def _preference(kinds=ASSIGNEE_PREFERENCE):
    return Case(*[When(kind=kind, then=Value(i)) for i, kind in enumerate(kinds)], default=Value(len(kinds)),
                output_field=IntegerField())


def task_holder():
    """Who holds a care task now, as an expression over ``CareTask`` rows: tasks follow the
    family's current assignment. The assignee keeps the task while they hold an open assignment of
    the family, or when they never were its contact (a task given to a manager by name). A task whose
    assignee's assignment has ended, who left (inactive), or that nobody holds goes to the family's
    current contact: the one now holding the kind of assignment the assignee held, else the one the
    sweep would choose (``ASSIGNEE_PREFERENCE``); with no current contact at all it stays where it is.
    The rule is read, not written: a contact replaced in the admin, an import or ``assignment_set``
    hands the work over at once, and the history keeps who held what."""
    current = ContactAssignment.objects.filter(family=OuterRef("family_id"), ended_on__isnull=True,
                                               user__is_active=True)
    held_kind = ContactAssignment.objects.filter(
        family=OuterRef(OuterRef("family_id")), user=OuterRef(OuterRef("assignee_id")),
    ).order_by("-started_on", "-id").values("kind")[:1]
    successor = current.annotate(
        same_kind=Case(When(kind=Subquery(held_kind), then=Value(0)), default=Value(1), output_field=IntegerField()),
        preference=_preference(),
    ).order_by("same_kind", "preference", "id").values("user_id")[:1]
    ever_held = ContactAssignment.objects.filter(family=OuterRef("family_id"), user=OuterRef("assignee_id"))
    user_id = BigIntegerField()
    return Case(
        When(Exists(current.filter(user=OuterRef("assignee_id"))), then=F("assignee_id")),
        When(Q(assignee__is_active=True) & ~Exists(ever_held), then=F("assignee_id")),
        default=Coalesce(Subquery(successor, output_field=user_id), F("assignee_id"), output_field=user_id),
        output_field=user_id,
    )


def _care_tasks(events, *, now=None):
    """Create one care task per event and remind every contact; ``events`` are dicts with family_id,
    file_number, kind, what (lazy text), date, key. Returns the number of new tasks."""
    if not events:
        return 0
    contacts = _contacts_of({e["family_id"] for e in events})
    tasks, items = [], []
    for event in events:
        people = sorted(contacts.get(event["family_id"], []), key=lambda c: ASSIGNEE_PREFERENCE.index(c[2])
                        if c[2] in ASSIGNEE_PREFERENCE else 99)
        tasks.append(CareTask(
            family_id=event["family_id"], kind=event["kind"], due_on=event["date"], dedup_key=event["key"],
            assignee_id=people[0][0] if people else None,
            description=CARE_VISIT(settings.LANGUAGE_CODE, file=event["file_number"], what=event["what"],
                                   date=event["date"])[:300],
        ))
        for user_id, language, _kind in people:
            with translation.override(language):
                what = str(event["what"])
            items.append(Notification(
                recipient_id=user_id, family_id=event["family_id"], kind=f"caretask.{event['kind']}",
                level=Notification.Level.REMINDER, dedup_key=f"{event['key']}:{user_id}",
                title=CARE_VISIT(language, file=event["file_number"], what=what, date=event["date"]),
            ))
    with transaction.atomic():
        created = _insert_new(tasks)
        notify_many(items, now=now)
    return created


def _insert_new(objs, batch_size=2000):
    """``bulk_create(objs, ignore_conflicts=True)`` that returns how many rows it inserted: the
    statements' own row counts. Counting the rows before and after would count, as this run's, the
    rows a run beside it inserted with the same keys."""
    if not objs:
        return 0
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and not f.generated]
    inserted = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
            query.insert_values(fields, objs[start:start + batch_size])
            for sql, params in query.get_compiler(connection=connection).as_sql():
                cursor.execute(sql, params)
                inserted += cursor.rowcount
    return inserted


class _Named:
    """A lazy text with parameters, translated when the recipient's language is known."""

    def __init__(self, message, **params):
        self.message, self.params = message, params

    def __str__(self):
        return str(self.message) % self.params


def sensitive_dates_sweep(*, today=None, region_path="", ahead_days=None, now=None):
    """Care-visit tasks ahead of death anniversaries, Qingming, Spring Festival, Mid-Autumn and the
    parents' birthdays (solar or lunar), each created once a year, with a reminder to the contacts."""
    today = today or timezone.localdate()
    ahead_days = ahead_days if ahead_days is not None else _setting("SENSITIVE_DATES_DAYS_AHEAD", 7)
    window = calendar.days(today, ahead_days + 1)
    families = _open_families(region_path)
    events = []

    festivals = {}
    for year in {d.year for d in window}:
        for name, day in calendar.festival_dates(year).items():
            if day in window:
                festivals[name] = day
    if festivals:
        for family_id, file_number in families.values_list("id", "file_number").iterator(chunk_size=2000):
            for name, day in festivals.items():
                events.append({"family_id": family_id, "file_number": file_number, "kind": CareTask.Kind.FESTIVAL,
                               "what": WHAT[name], "date": day, "key": f"festival:{name}:{family_id}:{day.year}"})

    members = FamilyMember.objects.filter(family__in=families)
    solar_days = {key: day for day in window for key in calendar.solar_birthday_keys(day)}
    q_solar = Q()
    for month, dom in solar_days:
        q_solar |= Q(death_date__month=month, death_date__day=dom)
    for family_id, file_number, death_date in members.filter(q_solar, relation="child", death_date__isnull=False).values_list(
        "family_id", "family__file_number", "death_date"
    ):
        day = solar_days[(death_date.month, death_date.day)]
        events.append({"family_id": family_id, "file_number": file_number, "kind": CareTask.Kind.ANNIVERSARY,
                       "what": WHAT["anniversary"], "date": day, "key": f"anniversary:{family_id}:{day.year}"})

    lunar_days = {key: day for day in window for key in calendar.lunar_birthday_keys(day)}
    q_birthday = Q()
    for month, dom in solar_days:
        q_birthday |= Q(birthday_calendar="solar", birth_date__month=month, birth_date__day=dom)
    for month, dom in lunar_days:
        q_birthday |= Q(birthday_calendar="lunar", lunar_birth_month=month, lunar_birth_day=dom)
    parents = members.filter(q_birthday, relation__in=["father", "mother"], is_deceased=False)
    for member_id, family_id, file_number, name, cal, birth, lmonth, lday in parents.values_list(
        "id", "family_id", "family__file_number", "name", "birthday_calendar", "birth_date", "lunar_birth_month",
        "lunar_birth_day",
    ):
        day = lunar_days[(lmonth, lday)] if cal == "lunar" else solar_days[(birth.month, birth.day)]
        events.append({"family_id": family_id, "file_number": file_number, "kind": CareTask.Kind.BIRTHDAY,
                       "what": _Named(WHAT["birthday"], name=_outbound_name(name)), "date": day,
                       "key": f"birthday:{member_id}:{day.year}"})
    return _care_tasks(events, now=now)


DEFAULT_REVIEW_DEADLINES = {"apply": "01-15", "village": "02-15", "county": "03-15"}


def review_deadlines(province_code, year):
    """Deadlines of the annual review in a province: ``settings.ANNUAL_REVIEW_DEADLINES`` keyed by
    the 2-digit province code overrides the defaults (apply 01-15, village 02-15, county 03-15)."""
    configured = _setting("ANNUAL_REVIEW_DEADLINES", {}).get(province_code[:2], {})
    merged = {**DEFAULT_REVIEW_DEADLINES, **configured}
    return {step: datetime.date(year, *(int(x) for x in value.split("-"))) for step, value in merged.items()}


def annual_review_open(*, year, region_path="", now=None):
    """January: the review worklist for ``year`` — one pending review per approved enrolment — and a
    notice to each township's contacts; mothers turning 49 next year are flagged to apply."""
    enrollments = AssistanceEnrollment.objects.filter(status=AssistanceEnrollment.Status.APPROVED)
    if region_path:
        enrollments = enrollments.filter(family__region_path__startswith=region_path)
    AnnualReview.objects.bulk_create(
        [AnnualReview(enrollment_id=pk, year=year) for pk in enrollments.values_list("pk", flat=True).iterator(chunk_size=2000)],
        ignore_conflicts=True, batch_size=2000,
    )
    # Per township: how many reviews are open, told to everyone who is a contact of a family there.
    counts = defaultdict(int)
    for path in AnnualReview.objects.filter(year=year, enrollment__in=enrollments).values_list(
        "enrollment__family__region_path", flat=True
    ):
        counts[path[:9]] += 1
    contacts = ContactAssignment.objects.filter(
        ended_on__isnull=True, user__is_active=True, family__enrollments__in=enrollments,
    ).values_list("family__region_path", "user_id", "user__language").distinct()
    recipients = {(path[:9], user_id, language) for path, user_id, language in contacts}
    items = []
    for township, user_id, language in sorted(recipients):
        deadlines = review_deadlines(township, year)
        items.append(Notification(
            recipient_id=user_id, kind="review.worklist", level=Notification.Level.REMINDER,
            dedup_key=f"review:worklist:{year}:{township}:{user_id}", link=f"/admin/families/annualreview/?year={year}",
            title=REVIEW_WORKLIST(language, year=year, count=counts[township], apply=deadlines["apply"],
                                  village=deadlines["village"], county=deadlines["county"]),
        ))
    # Mothers turning 49 next year who are not enrolled yet.
    mothers = FamilyMember.objects.filter(
        family__status__in=OPEN_STATUSES, relation="mother", sex="F", is_deceased=False,
        birth_date__year=year + 1 - 49,
    ).exclude(enrollments__status__in=["applied", "approved", "suspended"])
    if region_path:
        mothers = mothers.filter(family__region_path__startswith=region_path)
    mothers = list(mothers.values_list("id", "family_id", "family__file_number", "name"))
    contacts = _contacts_of({family_id for _, family_id, _, _ in mothers})
    for member_id, family_id, file_number, name in mothers:
        for user_id, language, _kind in contacts.get(family_id, []):
            items.append(Notification(
                recipient_id=user_id, family_id=family_id, kind="review.turning_49", level=Notification.Level.INFO,
                dedup_key=f"review:turning49:{year}:{member_id}:{user_id}",
                title=TURNING_49(language, file=file_number, name=_outbound_name(name), year=year + 1),
            ))
    return notify_many(items, now=now)
