"""The bulletin's yearly figures, computed by database aggregation for a region subtree and a period.

Every figure is an aggregate over one of the record sets in ``ReportScope`` (sites open in the
period, consolation visits made in it, premiums paid in it, …). The drill-down
(``reports.drilldown``) lists the rows of exactly the same record set, so a figure can always be
traced to the records behind it. Every figure is also broken down by sub-region
(``trends_compute``'s ``by_region``): each record counts toward the child region its own region lies
in, or toward the region's own level (市本级 / 县本级) when it is held at the region itself, so each
breakdown adds up to its figure.

Every record set passes through ``reach.restrict`` first: a user's figures never include rows they
could not open one by one (a social worker's family figures are their caseload's).

The figures over the largest record sets (families, families contacted, special-assistance and
volunteer-support payments, free check-ups, activity participants, people insured), and their
breakdowns by sub-region, are read from tallies kept exact by the database (``reports.aggregates``)
when the tallies can answer: a reader who sees whole region subtrees (people insured: every roster,
i.e. a superuser or national administrator), and a period of whole months (families contacted and
people insured: a calendar month, quarter or year). Otherwise they are counted from the records.
"""
import calendar
import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection
from django.db.models import Count, Exists, F, Min, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, Substr, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casemgmt.core import reach
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import Region, Role
from families.models import Category, CheckIn, Family, RiskLevel
from services.models import (
    Activity,
    ActivityAttendance,
    ConsolationVisit,
    Disbursement,
    HealthCheckup,
    InsuranceClaim,
    InsurancePolicy,
    InsuredPerson,
    PremiumPayment,
    ServiceSite,
)
from volunteers.models import Enrollment, TrainingCourse, TrainingSession, Volunteer

from . import aggregates

# Roles that read reports at all; the others (volunteers, auditors) have no figures to see.
REPORT_ROLES = frozenset({Role.ADMIN, Role.REGION_MANAGER, Role.SOCIAL_WORKER, Role.CONTACT_PERSON,
                          Role.VOLUNTEER_COORDINATOR})
# Policies that were actually bought: drafts were never paid, cancelled ones were refunded.
SPENT_POLICY_STATUSES = (InsurancePolicy.Status.ACTIVE, InsurancePolicy.Status.EXPIRED)
ZERO = Decimal("0.00")
PSYCH_AID_KINDS = (ServiceSite.Kind.PSYCH_AID_CENTRE,)


def may_read_reports(user):
    return bool(user and user.is_authenticated and user.is_active and (user.is_superuser or user.role in REPORT_ROLES))


@dataclass(frozen=True)
class Period:
    start: datetime.date
    end: datetime.date  # inclusive
    label: str

    @property
    def start_at(self):
        return timezone.make_aware(datetime.datetime.combine(self.start, datetime.time.min))

    @property
    def end_before(self):
        """The first instant after the period (for datetime columns)."""
        return timezone.make_aware(datetime.datetime.combine(self.end + datetime.timedelta(days=1), datetime.time.min))

    def months(self):
        """The first day of every month the period touches."""
        month = self.start.replace(day=1)
        while month <= self.end:
            yield month
            month = (month + datetime.timedelta(days=32)).replace(day=1)


def _int(params, name, low, high):
    raw = params.get(name)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({name: _("Enter a whole number.")}, code="invalid") from None
    if not low <= value <= high:
        raise ValidationError({name: _("Out of range.")}, code="out_of_range")
    return value


def period_from_params(params, today=None):
    """A year, quarter (``year`` + ``quarter``), month (``year`` + ``month``) or ``start``/``end`` range.

    Without parameters: the current year.
    """
    today = today or timezone.localdate()
    if params.get("start") or params.get("end"):
        try:
            start = datetime.date.fromisoformat(params.get("start") or "")
            end = datetime.date.fromisoformat(params.get("end") or "")
        except ValueError:
            raise ValidationError({"start": _("Enter both dates as YYYY-MM-DD.")}, code="invalid") from None
        if end < start:
            raise ValidationError({"end": _("The end lies before the start.")}, code="invalid")
        if (end - start).days > 366 * 10:
            raise ValidationError({"end": _("A period may span at most ten years.")}, code="too_long")
        return Period(start, end, f"{start:%Y-%m-%d} – {end:%Y-%m-%d}")
    year = _int(params, "year", 1990, 2100) if params.get("year") else today.year
    if params.get("quarter"):
        quarter = _int(params, "quarter", 1, 4)
        first = 3 * quarter - 2
        last = first + 2
        return Period(datetime.date(year, first, 1), datetime.date(year, last, calendar.monthrange(year, last)[1]),
                      f"{year}Q{quarter}")
    if params.get("month"):
        month = _int(params, "month", 1, 12)
        return Period(datetime.date(year, month, 1), datetime.date(year, month, calendar.monthrange(year, month)[1]),
                      f"{year}-{month:02d}")
    return Period(datetime.date(year, 1, 1), datetime.date(year, 12, 31), str(year))


def region_from_params(user, params):
    """The region named by ``region`` (code) or ``region_id``, which must lie in the user's reach.

    Without either: the user's own region (``None`` = the whole country for a national administrator).
    """
    code, region_id = params.get("region"), params.get("region_id")
    if not code and not region_id:
        return user.region if user.region_id else None
    if code:
        region = Region.objects.filter(code=Region.normalize_code(code)).first()
    else:
        region = Region.objects.filter(pk=region_id).first() if str(region_id).isdigit() else None
    if region is None or not reach.region_within_reach(user, region.path):
        raise OutOfReachError()
    return region


def child_path_length(region):
    if region is None:
        return Region.PATH_LENGTH[Region.Level.PROVINCE]
    return Region.PATH_LENGTH.get(region.level + 1, len(region.path))


@dataclass(frozen=True)
class ReportScope:
    """Who asks, for which region subtree and which period; builds the record set of every figure."""

    user: object
    region: Region | None
    period: Period

    @classmethod
    def from_params(cls, user, params, today=None):
        return cls(user=user, region=region_from_params(user, params), period=period_from_params(params, today))

    @property
    def path(self):
        return self.region.path if self.region else ""

    def _in(self, queryset, path_field):
        queryset = reach.restrict(queryset, self.user)
        return queryset.filter(**{f"{path_field}__startswith": self.path}) if self.path else queryset

    # ---- record sets (one per figure; the drill-down lists exactly these rows) --------------------
    def sites(self):
        period = self.period
        return self._in(ServiceSite.objects.all(), "region__path").filter(
            Q(opened_on__isnull=True) | Q(opened_on__lte=period.end), Q(closed_on__isnull=True) | Q(closed_on__gte=period.start)
        )

    def _disbursements(self):
        # Attributed to where the recipient lives; a payment to someone outside the system to the fund's region.
        return Disbursement.objects.annotate(
            where_path=Coalesce(F("family__region_path"), F("member__family__region_path"), F("volunteer__region__path"),
                                F("fund__region__path"))
        )

    def consolation(self):
        return self._in(ConsolationVisit.objects.all(), "family__region_path").filter(
            visited_on__range=(self.period.start, self.period.end))

    def _paid(self, kind):
        return self._in(self._disbursements(), "where_path").filter(
            kind=kind, paid_on__range=(self.period.start, self.period.end))

    def assistance_payments(self):
        return self._paid(Disbursement.Kind.ASSISTANCE_PAYMENT)

    def grants(self):
        return self._paid(Disbursement.Kind.GRANT)

    def volunteer_support(self):
        return self._paid(Disbursement.Kind.VOLUNTEER_SUPPORT)

    def free_checkups(self):
        return self._in(HealthCheckup.objects.all(), "member__family__region_path").filter(
            is_free=True, date__range=(self.period.start, self.period.end))

    def insurance_policies(self):
        return self._in(InsurancePolicy.objects.all(), "region__path").filter(
            status__in=SPENT_POLICY_STATUSES, starts_on__lte=self.period.end, ends_on__gte=self.period.start)

    def premium_payments(self):
        """Premiums paid in the period, for policies that were bought (a refunded policy's are not spent)."""
        return self._in(PremiumPayment.objects.all(), "policy__region__path").filter(
            policy__status__in=SPENT_POLICY_STATUSES, paid_on__range=(self.period.start, self.period.end))

    def claims_paid(self):
        """Claims settled in the period (to where the insured person lives)."""
        return self._in(InsuranceClaim.objects.all(), "member__family__region_path").filter(
            status=InsuranceClaim.Status.SETTLED, settled_on__range=(self.period.start, self.period.end))

    def insured_people(self):
        """Roster rows of the policies above (a person on two policies appears twice; counted once)."""
        return self._in(InsuredPerson.objects.all(), "policy__region__path").filter(
            policy__in=self.insurance_policies().values("pk"))

    def activities(self):
        return self._in(Activity.objects.all(), "region__path").exclude(status=Activity.Status.CANCELLED).filter(
            starts_at__gte=self.period.start_at, starts_at__lt=self.period.end_before)

    def participants(self):
        return self._in(ActivityAttendance.objects.all(), "activity__region__path").filter(
            activity__in=self.activities().values("pk"))

    def trained_enrollments(self):
        return self._in(Enrollment.objects.all(), "session__region__path").filter(
            status=Enrollment.Status.ATTENDED, session__starts_at__gte=self.period.start_at,
            # A session that has not started trained nobody yet, whatever was ticked ahead of it.
            session__starts_at__lt=min(self.period.end_before, timezone.now()))

    def trainings(self):
        """Training sessions held in the period (volunteer skills, youth-health facilitators, …)."""
        return self._in(TrainingSession.objects.all(), "region__path").exclude(
            status=TrainingSession.Status.CANCELLED).filter(
            starts_at__gte=self.period.start_at, starts_at__lt=self.period.end_before)

    def training_participants(self):
        """Person-times of attendance at the sessions above."""
        return self._in(Enrollment.objects.all(), "session__region__path").filter(
            status=Enrollment.Status.ATTENDED, session__in=self.trainings().values("pk"))

    def volunteers_trained(self):
        return Volunteer.objects.filter(pk__in=self.trained_enrollments().values("volunteer_id"))

    def families(self):
        """Families on the books now (the snapshot the counts by category, risk and status describe)."""
        return self._in(Family.objects.all(), "region_path")

    def families_active(self):
        return self.families().filter(status=Family.Status.ACTIVE)

    def _contacted(self):
        return Exists(CheckIn.objects.filter(
            family=OuterRef("pk"), occurred_at__gte=self.period.start_at, occurred_at__lt=self.period.end_before))

    def families_contacted(self):
        return self.families_active().filter(self._contacted())

    def checkins(self):
        return self._in(CheckIn.objects.all(), "family__region_path").filter(
            occurred_at__gte=self.period.start_at, occurred_at__lt=self.period.end_before)


def _labelled(choices, counts, key="count"):
    """Every choice in its declared order with its count (zero when absent), labels translated."""
    return [{"code": value, "label": str(label), key: counts.get(value, 0)} for value, label in choices]


def _money(value):
    return (value or ZERO).quantize(Decimal("0.01"))


def _summed(rows, field, keys=("n", "amount")):
    """{row[field]: {key: sum}} of tallied rows (disbursements by default): counts from 0, money from ZERO."""
    sums = {}
    for row in rows:
        totals = sums.setdefault(row[field], {key: 0 if key == "n" else ZERO for key in keys})
        for key in keys:
            totals[key] += row[key]
    return sums


def _tallied_kind(tallied, kind):
    """The tallied disbursement rows of ``kind``, or None when the tallies cannot answer."""
    if tallied is None or tallied.disbursements is None:
        return None
    return [row for row in tallied.disbursements if row["kind"] == kind]


def _support(scope, tallied):
    """Volunteer-support payments of the period: count and amount (from the tallies when they answer)."""
    rows = _tallied_kind(tallied, Disbursement.Kind.VOLUNTEER_SUPPORT)
    if rows is None:
        return scope.volunteer_support().aggregate(n=Count("pk"), amount=Sum("amount"))
    return {"n": sum(row["n"] for row in rows), "amount": sum((row["amount"] for row in rows), ZERO)}


def _assistance(scope, tallied):
    """Special-assistance payments of the period by the category of the family paid: {category: {"n", "amount"}}."""
    rows = _tallied_kind(tallied, Disbursement.Kind.ASSISTANCE_PAYMENT)
    if rows is None:
        return {row.pop("family__category"): row for row in scope.assistance_payments().order_by()
                .values("family__category").annotate(n=Count("pk"), amount=Sum("amount"))}
    # The tallies write "" where the counted records have no family (None).
    return {category or None: totals for category, totals in _summed(rows, "category").items()}


def _family_figures(scope, tallied):
    """Families by (category, risk level, status), and how many active ones were contacted in the period."""
    if tallied is None:
        coverage = scope.families_active().aggregate(
            active=Count("pk"), contacted=Count("pk", filter=Q(scope._contacted())))
        family_rows = list(scope.families().order_by().values("category", "risk_level", "status").annotate(n=Count("pk")))
        return family_rows, coverage
    active = sum(row["n"] for row in tallied.families if row["status"] == Family.Status.ACTIVE)
    if tallied.contacted is not None:
        contacted = sum(tallied.contacted.values())
    else:  # not a calendar period
        contacted = scope.families_contacted().count()
    return tallied.families, {"active": active, "contacted": contacted}


# Who received a grant: a family, else a volunteer, else a named person outside the system (the three
# are disjoint, so their distinct counts add up).
GRANT_BENEFICIARIES = {
    "beneficiaries": lambda: (Count("family_id", distinct=True)
                              + Count("volunteer_id", distinct=True, filter=Q(family__isnull=True))
                              + Count("recipient_name", distinct=True, filter=Q(family__isnull=True, volunteer__isnull=True))),
}


def _consolation_sums():
    return {"n": Count("pk"), "cash": Sum("cash"), "goods": Sum("goods_value")}


CONSOLATION_SUMS = ("n", "cash", "goods")


def _consolation(scope, tallied):
    """Consolation visits of the period: {"n", "cash", "goods"} (from the tallies when they answer)."""
    if tallied is None or tallied.consolation is None:
        return scope.consolation().aggregate(**_consolation_sums())
    return {key: sum((row[key] for row in tallied.consolation), 0 if key == "n" else ZERO) for key in CONSOLATION_SUMS}


def statistics_compute(scope):
    """All figures of the bulletin for ``scope``: one aggregate query per record set, or the tallies."""
    tallied = aggregates.tallies(scope)
    sites = dict(scope.sites().order_by().values_list("kind").annotate(n=Count("pk")))
    consolation = _consolation(scope, tallied)
    support = _support(scope, tallied)
    if tallied is not None and tallied.checkups is not None:
        checkups = sum(row["n"] for row in tallied.checkups)
    else:
        checkups = scope.free_checkups().count()
    policies = dict(scope.insurance_policies().order_by().values_list("product_kind").annotate(n=Count("pk")))
    premiums = dict(scope.premium_payments().order_by().values_list("policy__product_kind").annotate(s=Sum("amount")))
    claims = scope.claims_paid().aggregate(n=Count("pk"), amount=Sum("amount_settled"))
    if tallied is not None and tallied.insured is not None:
        covered = tallied.insured
    else:
        covered = scope.insured_people().aggregate(n=Count("member_id", distinct=True))["n"]
    assistance = _assistance(scope, tallied)
    grants = scope.grants().aggregate(n=Count("pk"), amount=Sum("amount"), outcome=Sum("outcome_amount"),
                                      **{k: f() for k, f in GRANT_BENEFICIARIES.items()})
    activities = {row["category"]: row["n"] for row in scope.activities().order_by().values("category").annotate(n=Count("pk"))}
    if tallied is not None and tallied.attendance is not None:
        attendance = {}
        for row in tallied.attendance:
            attendance[row["category"]] = attendance.get(row["category"], 0) + row["n"]
    else:
        attendance = {row["activity__category"]: row["n"] for row in
                      scope.participants().order_by().values("activity__category").annotate(n=Count("pk"))}
    sessions = dict(scope.trainings().order_by().values_list("course__programme").annotate(n=Count("pk")))
    trainees = dict(scope.training_participants().order_by().values_list("session__course__programme")
                    .annotate(n=Count("pk")))
    trained = scope.trained_enrollments().aggregate(n=Count("volunteer_id", distinct=True))["n"]
    family_rows, coverage = _family_figures(scope, tallied)

    def tally(field):
        counts = {}
        for row in family_rows:
            counts[row[field]] = counts.get(row[field], 0) + row["n"]
        return counts

    by_category = [
        {"code": value, "label": str(label), "activities": activities.get(value, 0), "participants": attendance.get(value, 0)}
        for value, label in Activity.Category.choices
    ]
    cash, goods = _money(consolation["cash"]), _money(consolation["goods"])
    return {
        "region": {"code": scope.region.code if scope.region else "",
                   "name": str(scope.region) if scope.region else str(_("all regions"))},
        "period": {"label": scope.period.label, "start": scope.period.start.isoformat(), "end": scope.period.end.isoformat()},
        "sites": {"total": sum(sites.values()), "psych_aid_centres": sum(sites.get(kind, 0) for kind in PSYCH_AID_KINDS),
                  "by_kind": _labelled(ServiceSite.Kind.choices, sites)},
        "consolation": {"person_visits": consolation["n"], "cash": cash, "goods_value": goods, "amount": cash + goods},
        "free_checkups": {"count": checkups},
        "insurance": {
            "policies": sum(policies.values()),
            "premium": _money(sum(premiums.values(), ZERO)),
            "people_covered": covered,
            "claims_paid": claims["n"], "claims_amount": _money(claims["amount"]),
            "by_product": [
                {"code": value, "label": str(label), "policies": policies.get(value, 0), "premium": _money(premiums.get(value))}
                for value, label in InsurancePolicy.ProductKind.choices
            ],
        },
        "volunteer_support": {"count": support["n"], "amount": _money(support["amount"])},
        "assistance_payments": {
            "count": sum(row["n"] for row in assistance.values()),
            "amount": _money(sum((row["amount"] for row in assistance.values()), ZERO)),
            "by_category": [
                {"code": value, "label": str(label), "count": assistance.get(value, {}).get("n", 0),
                 "amount": _money(assistance.get(value, {}).get("amount"))}
                for value, label in Category.choices
            ],
        },
        "grants": {"count": grants["n"], "amount": _money(grants["amount"]), "beneficiaries": grants["beneficiaries"],
                   "outcome_amount": _money(grants["outcome"])},
        "activities": {"total": sum(activities.values()), "participants": sum(attendance.values()), "by_category": by_category},
        "trainings": {
            "sessions": sum(sessions.values()), "participants": sum(trainees.values()),
            "by_programme": [
                {"code": value, "label": str(label), "sessions": sessions.get(value, 0), "participants": trainees.get(value, 0)}
                for value, label in TrainingCourse.Programme.choices
            ],
        },
        "volunteers_trained": {"count": trained},
        "checkin_coverage": {
            "contacted": coverage["contacted"], "active": coverage["active"],
            "rate": round(coverage["contacted"] / coverage["active"], 4) if coverage["active"] else None,
        },
        "families": {
            "total": sum(row["n"] for row in family_rows),
            "by_category": _labelled(Category.choices, tally("category")),
            "by_risk": _labelled(RiskLevel.choices, tally("risk_level")),
            "by_status": _labelled(Family.Status.choices, tally("status")),
        },
    }


# Every figure that adds up over regions, as a column of ``by_region``: key, heading, its total in
# ``statistics_compute``'s answer. (The coverage rate does not add up; its two counts do.)
REGIONAL_FIGURES = (
    ("families", _("Families"), lambda f: f["families"]["total"]),
    ("families_active", _("Active families"), lambda f: f["checkin_coverage"]["active"]),
    ("families_contacted", _("Families contacted"), lambda f: f["checkin_coverage"]["contacted"]),
    ("sites", _("Service sites"), lambda f: f["sites"]["total"]),
    ("psych_aid_centres", _("Psychological aid centres"), lambda f: f["sites"]["psych_aid_centres"]),
    ("consolation_visits", _("Consolation person-visits"), lambda f: f["consolation"]["person_visits"]),
    ("consolation_cash", _("Consolation cash (CNY)"), lambda f: f["consolation"]["cash"]),
    ("consolation_goods", _("Consolation goods value (CNY)"), lambda f: f["consolation"]["goods_value"]),
    ("free_checkups", _("Free health check-ups"), lambda f: f["free_checkups"]["count"]),
    ("insurance_policies", _("Insurance policies"), lambda f: f["insurance"]["policies"]),
    ("insurance_premium", _("Insurance premiums paid (CNY)"), lambda f: f["insurance"]["premium"]),
    ("people_covered", _("People covered by insurance"), lambda f: f["insurance"]["people_covered"]),
    ("claims_paid", _("Insurance claims paid"), lambda f: f["insurance"]["claims_paid"]),
    ("claims_amount", _("Insurance claims paid (CNY)"), lambda f: f["insurance"]["claims_amount"]),
    ("assistance_payments", _("Special-assistance payments"), lambda f: f["assistance_payments"]["count"]),
    ("assistance_amount", _("Special-assistance payments (CNY)"), lambda f: f["assistance_payments"]["amount"]),
    ("volunteer_support", _("Volunteer support payments"), lambda f: f["volunteer_support"]["count"]),
    ("volunteer_support_amount", _("Volunteer support funds (CNY)"), lambda f: f["volunteer_support"]["amount"]),
    ("grants", _("Grants"), lambda f: f["grants"]["count"]),
    ("grants_amount", _("Grants (CNY)"), lambda f: f["grants"]["amount"]),
    ("grant_beneficiaries", _("Grant beneficiaries"), lambda f: f["grants"]["beneficiaries"]),
    ("activities", _("Activities"), lambda f: f["activities"]["total"]),
    ("participants", _("Activity participants"), lambda f: f["activities"]["participants"]),
    ("trainings", _("Training sessions"), lambda f: f["trainings"]["sessions"]),
    ("training_participants", _("Training participants"), lambda f: f["trainings"]["participants"]),
    ("volunteers_trained", _("Volunteers trained"), lambda f: f["volunteers_trained"]["count"]),
)
MONEY_FIGURES = frozenset({"consolation_cash", "consolation_goods", "insurance_premium", "claims_amount",
                           "assistance_amount", "volunteer_support_amount", "grants_amount"})


def regional_totals(figures):
    """{column of ``by_region``: its figure}: what each breakdown adds up to."""
    return {key: total(figures) for key, _heading, total in REGIONAL_FIGURES}


def _monthly(queryset, date_field, **aggregates):
    rows = queryset.order_by().annotate(month=TruncMonth(date_field)).values("month").annotate(**aggregates)
    result = {}
    for row in rows:
        month = row.pop("month")
        if isinstance(month, datetime.datetime):
            month = timezone.localtime(month).date() if timezone.is_aware(month) else month.date()
        result[month] = row
    return result


def _tallied_series(tallied):
    """The month and sub-region series of ``trends_compute`` that the tallies give (absent: count the records)."""
    series = {}
    if tallied.covered is not None:
        series["covered"] = {sub: {"n": n} for sub, n in tallied.covered.items()}
    if tallied.disbursements is not None:
        support_rows = _tallied_kind(tallied, Disbursement.Kind.VOLUNTEER_SUPPORT)
        support, support_sub = _summed(support_rows, "month"), _summed(support_rows, "sub")
        series["assistance_sub"] = _summed(_tallied_kind(tallied, Disbursement.Kind.ASSISTANCE_PAYMENT), "sub")
        series.update(consolation=_summed(tallied.consolation, "month", CONSOLATION_SUMS),
                      visits_sub=_summed(tallied.consolation, "sub", CONSOLATION_SUMS))
        series.update(support=support, support_sub=support_sub,
                      checkups=_summed(tallied.checkups, "month", ("n",)),
                      checkups_sub=_summed(tallied.checkups, "sub", ("n",)),
                      attendance=_summed(tallied.attendance, "month", ("n",)),
                      participants_sub=_summed(tallied.attendance, "sub", ("n",)),
                      contacted={month: {"n": n} for month, n in tallied.contacted_by_month.items()})
    families = {}
    for row in tallied.families:
        totals = families.setdefault(row["sub"], {"total": 0, "active": 0, "contacted": 0})
        totals["total"] += row["n"]
        if row["status"] == Family.Status.ACTIVE:
            totals["active"] += row["n"]
    if tallied.contacted is not None:
        for sub, n in tallied.contacted.items():
            if sub in families:
                families[sub]["contacted"] = n
        series["families"] = families
    else:
        series["families_without_contacts"] = families
    return series


# The name of a region's own-level row (records held at the region itself, not in a child).
OWN_LEVEL = {
    Region.Level.PROVINCE: _("province level"), Region.Level.CITY: _("city level"),
    Region.Level.COUNTY: _("county level"), Region.Level.TOWNSHIP: _("township level"),
    Region.Level.VILLAGE: _("village level"),
}


def trends_compute(scope):
    """Month by month and sub-region by sub-region series of the figures (one query per series
    counted from the records; one for all the series the tallies give). ``by_region`` has a column
    for every figure of ``REGIONAL_FIGURES`` and a row for the region's own level when records are
    held there."""
    months = list(scope.period.months())
    length = child_path_length(scope.region)
    tallied = aggregates.tallies(scope, length, by_month=True)
    series = _tallied_series(tallied) if tallied is not None else {}

    def by_prefix(queryset, path_field, **sums):
        rows = queryset.order_by().annotate(sub=Substr(path_field, 1, length)).values("sub").annotate(**sums)
        return {row.pop("sub"): row for row in rows}

    def distinct_by_prefix(records, entity, path_field):
        """People counted once however many records they have: each toward the first of their regions
        (the same people the figure counts, so the breakdown adds up to it). One pass over the records,
        grouped by person, then by sub-region: a first region looked up per person reads the records
        again for each of them."""
        firsts = records.order_by().values(entity).annotate(first_path=Min(path_field))
        try:
            sql, params = firsts.query.sql_with_params()
        except EmptyResultSet:  # a reader who sees none of these records
            return {}
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT substr(firsts.first_path, 1, %s), count(*) FROM ({sql}) AS firsts GROUP BY 1",
                           [length, *params])
            return {sub: {"n": n} for sub, n in cursor.fetchall()}

    def tallied_or(name, count):
        return series[name] if name in series else count()

    consolation = tallied_or("consolation", lambda: _monthly(scope.consolation(), "visited_on", **_consolation_sums()))
    checkups = tallied_or("checkups", lambda: _monthly(scope.free_checkups(), "date", n=Count("pk")))
    attendance = tallied_or("attendance", lambda: _monthly(scope.participants(), "activity__starts_at", n=Count("pk")))
    contacted = tallied_or("contacted", lambda: _monthly(scope.checkins(), "occurred_at",
                                                         n=Count("family_id", distinct=True)))
    support = tallied_or("support", lambda: _monthly(scope.volunteer_support(), "paid_on", amount=Sum("amount")))
    premiums = _monthly(scope.premium_payments(), "paid_on", amount=Sum("amount"))
    by_month = []
    for month in months:
        visits = consolation.get(month, {})
        cash, goods = _money(visits.get("cash")), _money(visits.get("goods"))
        by_month.append({
            "month": f"{month:%Y-%m}",
            "consolation_visits": visits.get("n", 0),
            "consolation_cash": cash, "consolation_goods": goods, "consolation_amount": cash + goods,
            "free_checkups": checkups.get(month, {}).get("n", 0),
            "participants": attendance.get(month, {}).get("n", 0),
            "families_contacted": contacted.get(month, {}).get("n", 0),
            "volunteer_support": _money(support.get(month, {}).get("amount")),
            "insurance_premium": _money(premiums.get(month, {}).get("amount")),
        })

    if "families_without_contacts" in series:  # tallied, but not a calendar period
        families = series["families_without_contacts"]
        reached = by_prefix(scope.families_contacted(), "region_path", n=Count("pk"))
        for sub, row in families.items():
            row["contacted"] = reached.get(sub, {}).get("n", 0)
    else:
        families = tallied_or("families", lambda: by_prefix(
            scope.families(), "region_path", total=Count("pk"), active=Count("pk", filter=Q(status=Family.Status.ACTIVE)),
            contacted=Count("pk", filter=Q(status=Family.Status.ACTIVE) & Q(scope._contacted()))))
    sites = by_prefix(scope.sites(), "region__path", n=Count("pk"), psych=Count("pk", filter=Q(kind__in=PSYCH_AID_KINDS)))
    visits = tallied_or("visits_sub", lambda: by_prefix(scope.consolation(), "family__region_path", **_consolation_sums()))
    checkups_sub = tallied_or("checkups_sub", lambda: by_prefix(scope.free_checkups(), "member__family__region_path",
                                                                n=Count("pk")))
    policies = by_prefix(scope.insurance_policies(), "region__path", n=Count("pk"))
    premiums_sub = by_prefix(scope.premium_payments(), "policy__region__path", amount=Sum("amount"))
    covered = tallied_or("covered", lambda: distinct_by_prefix(scope.insured_people(), "member_id", "policy__region__path"))
    claims = by_prefix(scope.claims_paid(), "member__family__region_path", n=Count("pk"), amount=Sum("amount_settled"))
    assistance = tallied_or("assistance_sub", lambda: by_prefix(scope.assistance_payments(), "where_path",
                                                                n=Count("pk"), amount=Sum("amount")))
    support_sub = tallied_or("support_sub", lambda: by_prefix(scope.volunteer_support(), "where_path", n=Count("pk"),
                                                              amount=Sum("amount")))
    grants = by_prefix(scope.grants(), "where_path", n=Count("pk"), amount=Sum("amount"),
                       **{k: f() for k, f in GRANT_BENEFICIARIES.items()})
    activities = by_prefix(scope.activities(), "region__path", n=Count("pk"))
    participants_sub = tallied_or("participants_sub", lambda: by_prefix(scope.participants(), "activity__region__path",
                                                                        n=Count("pk")))
    trainings = by_prefix(scope.trainings(), "region__path", n=Count("pk"))
    trainees = by_prefix(scope.training_participants(), "session__region__path", n=Count("pk"))
    trained = distinct_by_prefix(scope.trained_enrollments(), "volunteer_id", "session__region__path")

    columns = {
        "families": (families, "total"), "families_active": (families, "active"),
        "families_contacted": (families, "contacted"), "sites": (sites, "n"), "psych_aid_centres": (sites, "psych"),
        "consolation_visits": (visits, "n"), "consolation_cash": (visits, "cash"), "consolation_goods": (visits, "goods"),
        "free_checkups": (checkups_sub, "n"), "insurance_policies": (policies, "n"),
        "insurance_premium": (premiums_sub, "amount"), "people_covered": (covered, "n"),
        "claims_paid": (claims, "n"), "claims_amount": (claims, "amount"),
        "assistance_payments": (assistance, "n"), "assistance_amount": (assistance, "amount"),
        "volunteer_support": (support_sub, "n"), "volunteer_support_amount": (support_sub, "amount"),
        "grants": (grants, "n"), "grants_amount": (grants, "amount"), "grant_beneficiaries": (grants, "beneficiaries"),
        "activities": (activities, "n"), "participants": (participants_sub, "n"),
        "trainings": (trainings, "n"), "training_participants": (trainees, "n"), "volunteers_trained": (trained, "n"),
    }
    paths = sorted(set().union(*(rows for rows, _field in columns.values())))
    names = dict(Region.objects.filter(path__in=paths).exclude(path="").values_list("path", "name")
                 .order_by("path", "level"))
    by_region = []
    for path in paths:
        own = scope.region is not None and path == scope.path
        row = {"path": path, "own_level": own,
               "name": str(OWN_LEVEL.get(scope.region.level, "")) if own else names.get(path, path)}
        for key, (rows, field) in columns.items():
            value = rows.get(path, {}).get(field)
            row[key] = _money(value) if key in MONEY_FIGURES else (value or 0)
        by_region.append(row)
    return {"by_month": by_month, "by_region": by_region}
