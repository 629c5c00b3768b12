"""Reads for the workspace pages, all built on the apps' scoped selectors (``reach.restrict``), each
page a fixed number of queries however many rows it shows. Which fields of a record a page shows,
and how, the privacy policy decides (``core.privacy``, through ``PageFields``): no page keeps a
list of its own."""
import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, Value
from django.db.models.functions import Substr
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from casemgmt.core import privacy
from casemgmt.core.models import AuditEvent, Notification, Region, Role, User
from casemgmt.core.reach import CASELOAD_ROLES, restrict
from families import reminders
from families import selectors as family_selectors
from families.models import CareTask, Family, FamilyMember, RiskLevel
from families.reminders import task_holder
from families.services import OPEN_STATUSES
from services import selectors as service_selectors
from services.models import (
    ActivityAttendance,
    ConsolationVisit,
    Disbursement,
    InsuranceClaim,
    InsurancePolicy,
    InsuredPerson,
)
from volunteers import selectors as volunteer_selectors
from volunteers.models import Enrollment, Pairing, Qualification, Volunteer

COMING_UP_DAYS = 7
CALLED_RELATIONS = ("mother", "father")  # whom Today offers to call: the parents the care is for
TASK_AHEAD_DAYS = 14
SURFACE = "workspace"


class PageFields:
    """The governed fields one page shows one user, each as the privacy policy gives it to them
    (``privacy.present``), and the audited plaintext among them, for the page's audit row."""

    def __init__(self, user):
        self.user = user
        self._plaintext = {}  # model label -> ({pk: object}, {field names})

    def get(self, obj, name):
        """``privacy.Shown`` of field ``name`` of ``obj``; a plaintext audited value is noted for ``record``."""
        shown = privacy.present(self.user, obj, name)
        if shown.plaintext and shown.value not in (None, "") and privacy.audited_fields(obj, [name]):
            objects, names = self._plaintext.setdefault(privacy.label_of(obj), ({}, set()))
            objects[obj.pk] = obj
            names.add(name)
        return shown

    def text(self, obj, name):
        """The field as the page writes it: its display value in plaintext, masked, or "" when left out."""
        shown = self.get(obj, name)
        if shown.hidden or shown.value in (None, ""):
            return ""
        if shown.plaintext:
            display = getattr(obj, f"get_{name}_display", None)
            return str(display() if display else shown.value)
        return str(shown.value)

    @property
    def shown_plaintext(self):
        """{model label: sorted field names} of the audited plaintext shown so far."""
        return {label: sorted(names) for label, (_objects, names) in self._plaintext.items()}

    def record(self, *, ip=None):
        """One audit row per kind of record whose audited plaintext the page showed (``privacy.record_view``)."""
        for objects, names in self._plaintext.values():
            privacy.record_view(actor=self.user, surface=SURFACE, objects=list(objects.values()), names=sorted(names),
                                ip=ip)


def family_get(*, user, pk):
    """One family the user may see, with what its page shows first; ``Family.DoesNotExist`` otherwise."""
    return family_selectors.family_list(user=user).get(pk=pk)


def family_search(*, user, q):
    """Families in reach that the search ``q`` finds. A search by a value the user never gets (a
    coordinator typing an ID number or a phone) finds nothing: its answer would tell them whose it is."""
    terms = family_selectors.search_terms(q=q)
    families = family_selectors.family_list(user=user)
    if terms is not None and terms[0] in family_selectors.EXACT_KINDS and not privacy.searchable(
            user, FamilyMember, terms[0]):
        return families.none()
    found = family_selectors.family_search(queryset=families, q=q)
    if id_suffix_search(user=user, q=q):
        # The last digits of an ID number, or the beginning of a file number ("0423…"): either.
        ids = set(found.values_list("id", flat=True)) | set(
            family_selectors.id_suffix_family_ids(user=user, suffix=q))
        return families.filter(pk__in=ids)
    return found


def id_suffix_search(*, user, q):
    """Whether ``q`` is the last digits of an ID number that ``user`` may search their caseload by."""
    return bool(family_selectors.ID_SUFFIX_RE.match(q or "")) and privacy.searchable_by_suffix(
        user, FamilyMember, "id_number")


# --- Today -------------------------------------------------------------------------------------

@dataclass
class TaskLine:
    """An open care task as Today and the family page show it: who holds it now (``task_holder``)."""

    task: CareTask
    holder: object  # the User holding it now, or None when nobody does
    mine: bool

    @property
    def moved(self):
        """Held by someone else than its assignee: their assignment of the family ended."""
        return self.holder is not None and self.holder.pk != self.task.assignee_id


@dataclass
class WorkItem:
    family: Family
    due: datetime.date
    reasons: list = field(default_factory=list)  # why the contact cadence puts the family here
    tasks: list = field(default_factory=list)  # TaskLine: the family's open tasks due soon, whoever holds them
    phones: list = field(default_factory=list)  # (member, privacy.Shown of their phone): the parents to call

    @property
    def days_late(self):
        return (timezone.localdate() - self.due).days


def open_tasks(*, user, until=None):
    """The open care tasks the user may see, each with ``holder_id``: who holds it now (tasks follow
    the family's current assignment, ``families.reminders.task_holder``)."""
    tasks = family_selectors.task_list(user=user).filter(status=CareTask.Status.OPEN).annotate(holder_id=task_holder())
    return tasks.filter(due_on__lte=until) if until else tasks


def task_lines(*, user, tasks):
    """``tasks`` (from ``open_tasks``) as ``TaskLine``s. Most are held by their assignee (loaded
    along); the holders of tasks handed over are loaded in one query, when there are any."""
    tasks = list(tasks)
    holders = {t.assignee_id: t.assignee for t in tasks if t.assignee_id is not None}
    missing = {t.holder_id for t in tasks if t.holder_id is not None} - holders.keys()
    if missing:
        holders.update(User.objects.in_bulk(missing))
    return [TaskLine(task=t, holder=holders.get(t.holder_id), mine=t.holder_id == user.pk) for t in tasks]


def today_worklist(*, user, today=None):
    """My families overdue, due today and coming up, each with why: the contact cadence (from
    ``next_checkin_due``) and the open care tasks (anniversary, festival, birthday, follow-up…).
    A caseload's day is everything due for its families, whoever holds the task (shown with whose it
    is); a manager's or administrator's is the tasks they hold themselves."""
    today = today or timezone.localdate()
    horizon = today + datetime.timedelta(days=COMING_UP_DAYS)
    families = family_selectors.family_list(user=user).filter(status__in=OPEN_STATUSES)
    tasks = open_tasks(user=user, until=today + datetime.timedelta(days=TASK_AHEAD_DAYS)).filter(
        family__status__in=OPEN_STATUSES)
    if user.role not in CASELOAD_ROLES:
        # Managers and administrators see a subtree, not a caseload: their Today is their own tasks.
        tasks = tasks.filter(holder_id=user.pk)
        families = families.filter(pk__in=tasks.values("family_id"))
    due = families.filter(next_checkin_due__lte=horizon).order_by("next_checkin_due", "id")
    items = {}
    for family in due:
        item = items.setdefault(family.pk, WorkItem(family=family, due=family.next_checkin_due))
        label = _("home visit and contact due") if (
            family.next_home_visit_due and family.next_home_visit_due <= family.next_checkin_due) else _("contact due")
        item.reasons.append(_("cadence (%(risk)s risk): %(what)s") % {"risk": family.get_risk_level_display(), "what": label})
    tasks = tasks.select_related("family__region").prefetch_related(
        Prefetch("family__members", queryset=FamilyMember.objects.order_by("relation", "id"))
    ).order_by("due_on", "id")
    for line in task_lines(user=user, tasks=tasks):
        task = line.task
        item = items.get(task.family_id)
        if item is None:
            item = items[task.family_id] = WorkItem(family=task.family, due=task.due_on)
        item.due = min(item.due, task.due_on)
        item.tasks.append(line)
    ordered = sorted(items.values(), key=lambda i: (i.due, i.family.pk))
    fields = PageFields(user)
    for item in ordered:
        item.phones = [(m, phone) for m in item.family.members.all()
                       if m.relation in CALLED_RELATIONS and not m.is_deceased
                       for phone in [fields.get(m, "phone")] if phone.value and not phone.hidden]
    return {
        "fields": fields,
        "overdue": [i for i in ordered if i.due < today],
        "due_today": [i for i in ordered if i.due == today],
        "coming_up": [i for i in ordered if i.due > today],
        "caseload": families.count(),
    }


@dataclass
class NotificationLine:
    notification: Notification
    url: str  # where it leads: the family's page, or the page it names; "" when the reader cannot open it


def unread_notifications(*, user, limit=5):
    """The user's newest unread notifications, each with the page it is about, and how many are unread.
    A family's notification leads to the family's page while the family is in the reader's reach (a
    contact who moved on still reads the old reminder, but the page would be a 404); a link it carries
    when it is one of this site's pages (the admin's only for staff, whom the admin lets in)."""
    queryset = restrict(Notification.objects.filter(read_at__isnull=True), user)
    in_reach = family_selectors.families_in_reach(user=user).filter(pk=OuterRef("family_id"))
    lines = []
    for n in queryset.annotate(family_in_reach=Exists(in_reach))[:limit]:
        if n.family_in_reach:
            url = reverse("workspace:family", args=[n.family_id])
        elif n.link.startswith("/") and not n.link.startswith("//") and (user.is_staff or not n.link.startswith("/admin/")):
            url = n.link
        else:
            url = ""
        lines.append(NotificationLine(notification=n, url=url))
    return lines, queryset.count()


# --- Family page -------------------------------------------------------------------------------

@dataclass
class TimelineEntry:
    at: datetime.datetime
    kind: str
    title: str
    detail: str = ""


def _at(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def _of_family(records, family):
    """``records`` of ``family``, each knowing it: their audit row finds the family's region without a query."""
    for record in records:
        record.family = family
        yield record


def _joined(parts):
    """Non-empty parts, once each (masked values all read "***")."""
    return " · ".join(dict.fromkeys(part for part in parts if part))


TIMELINE_FIRST = 10  # entries the family page shows before "more"


def family_timeline(*, user, family, fields, limit=None):
    """What happened to a family, newest first, as ``(entries, more)``: the newest ``limit`` entries
    (all with None) and whether there are older ones. One query per kind of record, each reading at
    most ``limit + 1`` rows; each field as ``fields`` (a ``PageFields``) gives it to the user, and
    only the entries shown are written out, so the page's audit row names only what it showed."""
    text = fields.text

    def newest(queryset, order):
        queryset = queryset.order_by(f"-{order}", "-pk")
        return queryset[:limit + 1] if limit is not None else queryset

    def checkin(c):
        state = ", ".join(filter(None, [text(c, "physical_state"), text(c, "mental_state")]))
        detail = _joined([state, text(c, "difficulties"), text(c, "needs"), text(c, "help_given"), text(c, "follow_up")])
        return " — ".join(filter(None, [text(c, "channel"), text(c, "recorded_by")])), detail

    def consolation(v):
        given = [f"¥{v.cash}" if v.cash else "", f"{v.goods} ¥{v.goods_value}" if v.goods else ""]
        return " ".join(filter(None, [v.occasion, *given])), v.visiting_party

    def insured(ins):
        policy = ins.policy
        return (f"{policy.get_product_kind_display()} — {text(ins.member, 'name')}",
                f"{policy.insurer} {policy.starts_on}–{policy.ends_on}")

    def claim(cl):
        amount = text(cl, "amount_claimed")
        return " ".join(filter(None, [text(cl.member, "name"), f"¥{amount}" if amount else ""])), text(cl, "status")

    sources = [  # (records newest first, when, kind, (title, detail) of a record)
        (newest(family_selectors.checkin_list(user=user).filter(family=family), "occurred_at"),
         lambda c: c.occurred_at, _("check-in"), checkin),
        (newest(family_selectors.assessment_list(user=user).filter(family=family), "assessed_at"),
         lambda a: a.assessed_at, _("assessment"),
         lambda a: (": ".join(filter(None, [text(a, "scale"), text(a, "score")])), text(a, "resulting_risk"))),
        (newest(family_selectors.careplan_list(user=user).filter(family=family), "starts_on"),
         lambda p: _at(p.starts_on), _("care plan"), lambda p: (text(p, "title"), text(p, "status"))),
        (_of_family(newest(family_selectors.status_history(user=user, family=family), "changed_at"), family),
         lambda c: c.changed_at, _("status"),
         lambda c: (f"{text(c, 'from_status') or '—'} → {text(c, 'to_status')}", text(c, "reason"))),
        (_of_family(newest(family_selectors.risk_history(user=user, family=family), "changed_at"), family),
         lambda r: r.changed_at, _("risk level"),
         lambda r: (f"{text(r, 'from_level') or '—'} → {text(r, 'to_level')}", text(r, "reason"))),
        (newest(restrict(ActivityAttendance.objects.filter(member__family=family).select_related("activity", "member"),
                         user), "checked_in_at"),
         lambda att: att.checked_in_at, _("activity"),
         lambda att: (att.activity.title, text(att.member, "name") if att.member else "")),
        (newest(restrict(Disbursement.objects.filter(family=family).select_related("fund"), user), "paid_on"),
         lambda d: _at(d.paid_on), _("disbursement"),
         lambda d: (f"{d.get_kind_display()} ¥{d.amount}", " ".join(filter(None, [d.goods, d.description])))),
        (newest(restrict(ConsolationVisit.objects.filter(family=family).select_related("member"), user), "visited_on"),
         lambda v: _at(v.visited_on), _("consolation visit"), consolation),
        (newest(restrict(InsuredPerson.objects.filter(member__family=family).select_related("policy", "member"), user),
                "added_on"),
         lambda ins: _at(ins.added_on), _("insurance"), insured),
        (newest(restrict(InsuranceClaim.objects.filter(member__family=family).select_related("policy", "member"), user),
                "filed_on"),
         lambda cl: _at(cl.filed_on), _("insurance claim"), claim),
    ]
    found = [(when(record), kind, record, write) for records, when, kind, write in sources for record in records]
    found.sort(key=lambda row: row[0], reverse=True)
    more = limit is not None and len(found) > limit
    entries = []
    for at, kind, record, write in found[:limit] if limit is not None else found:
        title, detail = write(record)
        entries.append(TimelineEntry(at, kind, title, detail))
    return entries, more


@dataclass
class MemberRow:
    """One member on the family page: each governed field as the policy gives it to the reader, and
    the values they revealed just now (``revealed``: field → plaintext)."""

    member: FamilyMember
    name: str
    relation: str
    id_number: privacy.Shown
    phone: privacy.Shown
    revealed: dict

    @property
    def call_number(self):
        """The number a "call" link dials: revealed just now, or shown to this reader as it is."""
        return self.revealed.get("phone") or (self.phone.value if self.phone.plaintext else "")


def family_members(*, family, fields, revealed=None):
    revealed = revealed or {}
    return [
        MemberRow(member=m, name=fields.text(m, "name"), relation=fields.text(m, "relation"),
                  id_number=fields.get(m, "id_number"), phone=fields.get(m, "phone"), revealed=revealed.get(m.pk, {}))
        for m in family.members.all()
    ]


RENEWAL_AHEAD_DAYS = 60  # an insurance policy ending this soon is due for renewal (the sweep's first reminder)
REVIEW_OPEN = ("pending", "applied", "village_reviewed")


@dataclass
class DueLine:
    """One thing due for a family, as the top of its page lists it."""

    due: datetime.date
    kind: str
    title: str
    late: bool = False


def _next_anniversary(day, today):
    """The next anniversary of ``day`` on or after ``today`` (29 February falls on the 28th)."""
    for year in (today.year, today.year + 1):
        try:
            candidate = day.replace(year=year)
        except ValueError:
            candidate = datetime.date(year, 2, 28)
        if candidate >= today:
            return candidate
    return None


def family_due(*, user, family, fields, today=None):
    """What is due for a family besides its contact cadence (the family's own due dates) and its open
    care tasks (``open_tasks``), soonest first: the child's death anniversary, insurance renewals and
    the annual review. Dates of people come through ``fields``: a reader who may not see them sees no line."""
    today = today or timezone.localdate()
    lines = []
    for member in family.members.all():
        death = fields.get(member, "death_date")
        if member.relation == "child" and death.plaintext and isinstance(death.value, datetime.date):
            day = _next_anniversary(death.value, today)
            lines.append(DueLine(day, _("anniversary"), _("anniversary of the child's death (%(years)s years)") % {
                "years": day.year - death.value.year}))
    renewals = restrict(InsuredPerson.objects.filter(
        member__family=family, policy__status=InsurancePolicy.Status.ACTIVE,
        policy__ends_on__lte=today + datetime.timedelta(days=RENEWAL_AHEAD_DAYS),
    ).select_related("policy", "member").order_by("policy__ends_on", "id"), user)
    for insured in renewals:
        policy = insured.policy
        lines.append(DueLine(policy.ends_on, _("insurance renewal"), f"{policy.get_product_kind_display()} — "
                             f"{fields.text(insured.member, 'name')} ({policy.insurer})", policy.ends_on < today))
    for review in family_selectors.review_list(user=user).filter(
            enrollment__family=family, status__in=REVIEW_OPEN).select_related("enrollment__member"):
        deadline = reminders.review_deadlines(family.region_path, review.year)["county"]
        lines.append(DueLine(deadline, _("annual review"), _("annual review %(year)s: %(status)s") % {
            "year": review.year, "status": fields.text(review, "status")}, deadline < today))
    lines.sort(key=lambda line: line.due)
    return lines


def family_page(*, user, family, fields):
    """The rest of the family page besides the timeline: what is due, contacts, consents, risk history."""
    return {
        "due": family_due(user=user, family=family, fields=fields),
        "open_tasks": task_lines(user=user, tasks=open_tasks(user=user).filter(family=family).order_by("due_on", "id")),
        "assignments": list(family_selectors.assignment_list(user=user).filter(family=family).order_by("ended_on", "kind")),
        "consents": list(family_selectors.consent_list(user=user).filter(family=family)),
        "risk_changes": [(r, fields.text(r, "reason"))
                         for r in _of_family(family_selectors.risk_history(user=user, family=family)[:10], family)],
    }


# --- Region coverage ---------------------------------------------------------------------------

def _contacted(today):
    """Contacted this month: the coverage page's measure, and the families list's filter of it."""
    month_start = timezone.make_aware(datetime.datetime.combine(today.replace(day=1), datetime.time()))
    return Q(last_checkin_at__gte=month_start)


def _overdue(today):
    return Q(next_checkin_due__lt=today)


def _unassigned(families):
    return families.exclude(assignments__ended_on__isnull=True, assignments__isnull=False)


def family_filter(families, *, user, region=None, open=False, contacted=None, overdue=False, risk="", contact=None,
                  unassigned=False, today=None):
    """``families`` narrowed as a count of the coverage page counts them (``coverage``): in the
    subtree of ``region``, open, contacted this month or not, overdue, of a risk level, overdue in
    the caseload of contact ``contact`` (an active assignment the reader may see), or with none."""
    today = today or timezone.localdate()
    if region is not None:
        families = families.filter(region_path__startswith=region.path)
    if open:
        families = families.filter(status__in=OPEN_STATUSES)
    if contacted is not None:
        families = families.filter(_contacted(today)) if contacted else families.exclude(_contacted(today))
    if overdue:
        families = families.filter(_overdue(today))
    if risk:
        families = families.filter(risk_level=risk)
    if contact:
        assigned = family_selectors.assignment_list(user=user).filter(user_id=contact, ended_on__isnull=True)
        families = families.filter(pk__in=assigned.values("family_id"))
    if unassigned:
        families = _unassigned(families)
    return families


def coverage(*, user, region, today=None):
    """Coverage of ``region``'s subtree for a manager, by child region: a fixed number of queries
    (one grouped aggregate per table), whatever the number of children or families. Each count is
    the size of a ``family_filter`` (the families list the page links it to)."""
    today = today or timezone.localdate()
    families = restrict(Family.objects.all(), user).filter(region_path__startswith=region.path, status__in=OPEN_STATUSES)
    children = list(Region.objects.filter(parent=region).order_by("code"))
    child_len = len(children[0].path) if children else len(region.path)
    rows = (
        families.annotate(branch=Substr("region_path", 1, child_len)).values("branch").order_by()
        .annotate(total=Count("id"), contacted=Count("id", filter=_contacted(today)),
                  overdue=Count("id", filter=_overdue(today)))
    )
    by_branch = {row["branch"]: row for row in rows}
    child_rows = []
    for child in children:
        row = by_branch.get(child.path, {"total": 0, "contacted": 0, "overdue": 0})
        child_rows.append({"region": child, **row, "share": _share(row["contacted"], row["total"])})
    total = sum(r["total"] for r in by_branch.values())
    contacted = sum(r["contacted"] for r in by_branch.values())
    overdue = sum(r["overdue"] for r in by_branch.values())
    risk = {row["risk_level"]: row["n"] for row in families.values("risk_level").order_by().annotate(n=Count("id"))}
    risk_rows = [{"level": value, "label": label, "n": risk.get(value, 0), "share": _share(risk.get(value, 0), total)}
                 for value, label in RiskLevel.choices]
    by_contact = list(
        family_selectors.assignment_list(user=user)
        .filter(ended_on__isnull=True, family__in=families.filter(_overdue(today)))
        .values("user_id", "user__username", "user__display_name").order_by()
        .annotate(n=Count("family_id", distinct=True)).order_by("-n", "user__username")
    )
    unassigned = _unassigned(families.filter(_overdue(today))).count()
    renewals = list(
        service_selectors.policy_list(user=user).filter(
            region__path__startswith=region.path, status=InsurancePolicy.Status.ACTIVE,
            ends_on__lte=today + datetime.timedelta(days=60),
        ).order_by("ends_on")[:20]
    )
    return {
        "total": total, "contacted": contacted, "share": _share(contacted, total), "overdue": overdue,
        "children": child_rows, "risk": risk_rows, "by_contact": by_contact, "unassigned_overdue": unassigned,
        "renewals": renewals,
    }


def _share(part, whole):
    return round(100 * part / whole) if whole else 0


# --- Volunteers --------------------------------------------------------------------------------

def volunteer_directory(*, user):
    """Volunteers with skills, qualifications (and their expiry) and current load."""
    active = Pairing.objects.filter(volunteer=OuterRef("pk"), ended_on__isnull=True)
    return volunteer_selectors.volunteer_list(user=user).annotate(load=volunteer_selectors.count_of(active)).prefetch_related(
        Prefetch("qualifications", queryset=Qualification.objects.order_by("expires_on", "name")),
    )


def pairing_suggestions(*, user, family, skills=(), limit=10):
    """Volunteers who may be paired with ``family``, best first: fitting skills, then nearness
    (same village, then township), then fewer active pairings. Each carries its reasons."""
    path = family.region_path
    active = Pairing.objects.filter(volunteer=OuterRef("pk"), ended_on__isnull=True)
    wanted = [s.pk for s in skills]
    candidates = (
        volunteer_selectors.volunteer_list(user=user)
        .filter(status=Volunteer.Status.ACTIVE)
        # pairing_create accepts a volunteer whose region contains the family's.
        .filter(Q(region__path=path[:12]) | Q(region__path=path[:9]) | Q(region__path=path[:6]) | Q(region__path=path[:4])
                | Q(region__path=path[:2]))
        .exclude(pairings__family=family, pairings__ended_on__isnull=True)
        .annotate(
            load=volunteer_selectors.count_of(active),
            fitting=Count("skills", filter=Q(skills__in=wanted), distinct=True) if wanted else Value(0, IntegerField()),
        )
        # The volunteer's region contains the family's, so a deeper level is nearer.
        .order_by("-fitting", "-region__level", "load", "name")[:limit]
    )
    wanted_ids = set(wanted)
    result = []
    for volunteer in candidates:
        reasons = []
        matched = [s.name for s in volunteer.skills.all() if s.pk in wanted_ids]
        if matched:
            reasons.append(_("skills: %(skills)s") % {"skills": "、".join(matched)})
        if volunteer.region.path == path[:12]:
            reasons.append(_("same village"))
        elif volunteer.region.path == path[:9]:
            reasons.append(_("same township"))
        else:
            reasons.append(_("same %(level)s") % {"level": volunteer.region.get_level_display()})
        reasons.append(_("%(n)s active pairings") % {"n": volunteer.load})
        result.append((volunteer, reasons))
    return result


def volunteer_home(*, user, volunteer):
    """A volunteer's own page: trainings to enrol in, their enrolments, qualifications, pairings
    (each family named by ``label``, as the privacy policy lets the volunteer see it) and hours."""
    now = timezone.now()
    mine = volunteer_selectors.enrollment_list(user=user).filter(volunteer=volunteer)
    booked = mine.exclude(status=Enrollment.Status.CANCELLED).values("session_id")
    upcoming = list(volunteer_selectors.session_list(user=user).filter(starts_at__gt=now, status="scheduled")
                    .exclude(pk__in=booked).order_by("starts_at")[:20])
    pairings = list(
        volunteer_selectors.pairing_list(user=user).filter(volunteer=volunteer, ended_on__isnull=True).select_related(
            "family__region")
        # The pairing is in the volunteer's reach; of the family they see only the parents' names.
        .prefetch_related(Prefetch("family__members", to_attr="parents", queryset=FamilyMember.objects.filter(
            relation__in=("mother", "father"), is_deceased=False).only("id", "family_id", "name", "relation")))
    )
    fields = PageFields(user)
    for pairing in pairings:
        # One label wherever the page names the family (the list and the hours form's choice).
        names = " ".join(filter(None, (fields.text(m, "name") for m in pairing.family.parents)))
        pairing.label = " · ".join(filter(None, (names, pairing.family.region.name)))
    return {
        "upcoming": upcoming,
        "families": [(p.family_id, p.label) for p in pairings],
        "enrollments": list(mine.order_by("-session__starts_at")[:20]),
        "qualifications": list(volunteer_selectors.qualification_list(user=user).filter(volunteer=volunteer)),
        "pairings": pairings,
        "hours": list(volunteer_selectors.service_hours_list(user=user).filter(volunteer=volunteer)[:10]),
    }


# --- Audit trail --------------------------------------------------------------------------------

def audit_trail(*, user, family=None, actor=None, event=None, since=None, until=None):
    """The audit rows ``user`` may read (``reach.restrict``: an auditor's region, as in the admin and
    the API), newest first, narrowed by family id, the acting user's name, the beginning of the event
    name and a period of days (``until`` included). Each filter is one of the trail's indexes."""
    rows = restrict(AuditEvent.objects.select_related("actor"), user)
    if family:
        rows = rows.filter(family_id=family)
    if actor:
        rows = rows.filter(actor__username=actor)
    if event:
        rows = rows.filter(event__startswith=event)
    if since:
        rows = rows.filter(at__gte=_day_start(since))
    if until:
        rows = rows.filter(at__lt=_day_start(until + datetime.timedelta(days=1)))
    return rows.order_by("-at", "-id")


def _day_start(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


def audit_fields(event):
    """The field names an audit row records as read, revealed or changed (never their values)."""
    names = []
    for data in (event.before, event.after):
        if isinstance(data, dict):
            names += data.get("fields") or [key for key in data if key not in ("fields", "surface", "query")]
    return list(dict.fromkeys(str(name) for name in names))


# --- Calendar feed -----------------------------------------------------------------------------

def calendar_events(*, user, today=None):
    """(uid, start, end, all_day, summary, description) for the user's feed: visits due, trainings,
    activities. A feed leaves the system for a phone's calendar app (lock screens, other clouds): a
    family's fields go in as ``privacy.outbound`` lets them, which names the family by its file number
    only; a task's free-text description stays in the workspace."""
    today = today or timezone.localdate()
    until = today + datetime.timedelta(days=90)
    events = []
    if user.role in (Role.SOCIAL_WORKER, Role.CONTACT_PERSON):
        for f in restrict(Family.objects.filter(status__in=OPEN_STATUSES, next_checkin_due__lte=until), user).only(
                "id", "file_number", "next_checkin_due"):
            day = max(f.next_checkin_due, today)
            file = privacy.outbound(Family, "file_number", f.file_number, user)
            events.append((f"family-{f.pk}-due", day, day + datetime.timedelta(days=1), True,
                           _("Check-in due: %(file)s") % {"file": file}, ""))
        for t in open_tasks(user=user, until=until).filter(holder_id=user.pk):
            file = privacy.outbound(Family, "file_number", t.family.file_number, user)
            events.append((f"task-{t.pk}", t.due_on, t.due_on + datetime.timedelta(days=1), True,
                           f"{t.get_kind_display()}: {file}", ""))
    sessions = volunteer_selectors.session_list(user=user).filter(starts_at__date__gte=today, starts_at__date__lte=until)
    if user.role == Role.VOLUNTEER:
        sessions = sessions.filter(enrollments__volunteer__user=user, enrollments__status__in=("enrolled", "waitlisted"))
    for s in sessions.exclude(status="cancelled"):
        events.append((f"training-{s.pk}", s.starts_at, s.ends_at, False, str(s.course), s.venue))
    for a in service_selectors.activity_list(user=user).filter(starts_at__date__gte=today, starts_at__date__lte=until).exclude(
            status="cancelled"):
        events.append((f"activity-{a.pk}", a.starts_at, a.ends_at, False, a.title, a.site.name if a.site else ""))
    return events


