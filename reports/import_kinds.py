"""Import templates for every record a figure counts, built on django-import-export.

``reports.imports.RecordResource`` gives each template the contract of
``reports.imports.ImportTemplate``; a kind
is a small declarative class: its model, its columns (``Column``: heading, example, the model
attribute written, the widget reading it), its natural key and any rule across columns::

    class CheckupResource(RecordResource):
        id_number = Column(_("ID number"), "member", MemberByIdNumber(), required=True, text=True)
        date = Column(_("date"), "date", DateWidget(), required=True, example="2025-04-01")
        natural_key = ("member", "date", "provider")

        class Meta:
            model = HealthCheckup

and one line in ``TEMPLATES`` (its URL slug, its title) puts it on the reports page and the API.
``TEMPLATES`` also holds the people's templates of ``reports.imports``.

How the contract is kept:

- **Reach on every row.** A reference (a family by file number, a person by ID number, a fund, a
  site, a training session) is looked up only among the records ``reach.restrict`` gives the
  importer; one outside it reads "not found", the same words as one that does not exist. A region
  is a public statistical code: one outside the importer's subtree says so, as the families
  import does. A natural key that matches a record outside reach (possible only where the key
  holds no reference, an insurer's policy number) needs an administrator's review and says no more.
- **Natural keys.** A row whose key is on record updates that record when a value differs and
  is skipped when none does, so a second upload of the same file changes nothing; two rows of one
  file with the same key are a problem.
- **Privacy.** Lookups by an ID number go through ``privacy.searchable`` and a column writing a
  field the importer's role never sees (``privacy.access`` HIDDEN, e.g. check-up findings for a
  coordinator) is refused; no answer repeats an ID number.
- **All or nothing.** The check and the write are one ``import_data`` pass in one transaction
  (bulk writes, rolled back when any row has a problem), serialised per kind by a transaction
  lock so that two uploads of one file cannot both find its rows new. One audit row per write.

References are resolved for the whole file before the first row (one query per 1,000 keys), and
the records a file's keys may match are loaded the same way, so a file costs a few queries per
thousand rows, not per row.
"""
import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from casemgmt.core import reach
from casemgmt.core.audit import audit_log
from casemgmt.core.models import Region
from families import services as family_services
from families.models import CheckIn
from services import services
from services.models import (
    Activity,
    ActivityAttendance,
    ConsolationVisit,
    Disbursement,
    Fund,
    HealthCheckup,
    InsuranceClaim,
    InsurancePolicy,
    InsuredPerson,
    PremiumPayment,
    ServiceSite,
)
from volunteers.models import Enrollment, TrainingCourse, TrainingSession

from .imports import (
    FILE_NUMBER,
    ID_NUMBER,
    PEOPLE_TEMPLATES,
    AmountWidget,
    ChoiceWidget,
    Column,
    CountWidget,
    DateTimeWidget,
    DateWidget,
    FamilyByFileNumber,
    Lookup,
    MemberByIdNumber,
    RecordResource,
    RecordTemplate,
    RegionByCode,
    ThroughServices,
    VolunteerByIdNumber,
    YesNoWidget,
    _blank,
    _by,
    _chunks,
)
from .statistics import SPENT_POLICY_STATUSES


class FundByName(Lookup):
    """A fund by its name, and its year when the row gives one (column ``fund_year``)."""

    def key(self, value, row):
        year = (row or {}).get("fund_year")
        return str(value).strip(), CountWidget().clean(year)

    def load(self, actor, keys):
        pairs = []
        for chunk in _chunks({name for name, _year in keys}):
            for fund in reach.restrict(Fund.objects.all(), actor).filter(name__in=chunk).select_related("region"):
                pairs += [((fund.name, fund.year), fund), ((fund.name, None), fund)]
        return _by(pairs)

    def message(self, value):
        return _("No fund in your reach has this name (and year).")


class SiteByName(Lookup):
    def load(self, actor, keys):
        pairs = []
        for chunk in _chunks(keys):
            pairs += [(s.name, s) for s in reach.restrict(ServiceSite.objects.all(), actor).filter(name__in=chunk)]
        return _by(pairs)

    def message(self, value):
        return _("No service site in your reach has this name.")


class SessionByCourseAndDate(Lookup):
    """A training session by its course's title and the day it started (column ``session_date``)."""

    def key(self, value, row):
        return str(value).strip(), DateWidget().clean((row or {}).get("session_date"))

    def load(self, actor, keys):
        pairs = []
        for chunk in _chunks({title for title, _day in keys}):
            sessions = reach.restrict(TrainingSession.objects.all(), actor).filter(course__title__in=chunk)
            pairs += [((s.course.title, timezone.localtime(s.starts_at).date()), s)
                      for s in sessions.select_related("course")]
        return _by(pairs)

    def message(self, value):
        return _("No training session in your reach has this course on this date.")


class StaffByUsername(Lookup):
    def load(self, actor, keys):
        found = {}
        users = reach.restrict(get_user_model().objects.filter(is_active=True), actor)
        for chunk in _chunks(keys):
            found.update({u.username: u for u in users.filter(username__in=chunk).only("id", "username")})
        return found

    def message(self, value):
        return _("No staff member in your reach has the username %(username)s.") % {"username": str(value)[:40]}


class PolicyByNumber(Lookup):
    """A policy by its number and its insurer (column ``insurer``), the policies template's key."""

    def key(self, value, row):
        return str((row or {}).get("insurer") or "").strip(), str(value).strip()

    def load(self, actor, keys):
        pairs = []
        policies = reach.restrict(InsurancePolicy.objects.all(), actor).select_related("region")
        for chunk in _chunks({number for _insurer, number in keys}):
            pairs += [((p.insurer, p.policy_number), p) for p in policies.filter(policy_number__in=chunk)]
        return _by(pairs)

    def message(self, value):
        return _("No policy in your reach has this insurer and policy number.")


class CourseByTitle(Lookup):
    """A training course by its title, among the courses usable in the importer's reach."""

    def load(self, actor, keys):
        pairs = []
        for chunk in _chunks(keys):
            pairs += [(c.title, c) for c in reach.restrict(TrainingCourse.objects.all(), actor).filter(title__in=chunk)]
        return _by(pairs)

    def message(self, value):
        return _("No training course in your reach has this title.")


class ActivityByTitleAndDate(Lookup):
    """An activity by its title and the day it started (column ``activity_date``), and its region
    when the row gives one (column ``activity_region``): the same title may be held in two villages."""

    def key(self, value, row):
        row = row or {}
        code = str(row.get("activity_region") or "").strip()
        return str(value).strip(), DateWidget().clean(row.get("activity_date")), Region.normalize_code(code) or None

    def load(self, actor, keys):
        pairs = []
        activities = reach.restrict(Activity.objects.all(), actor).select_related("region").only(
            "id", "title", "starts_at", "status", "capacity", "region__code", "region__path")
        for chunk in _chunks({title for title, _day, _code in keys}):
            for activity in activities.filter(title__in=chunk):
                day = timezone.localtime(activity.starts_at).date()
                pairs += [((activity.title, day, activity.region.code), activity), ((activity.title, day, None), activity)]
        return _by(pairs)

    def message(self, value):
        return _("No activity in your reach has this title on this date.")


# ---- the templates --------------------------------------------------------------------------------

# Consolation is no disbursement: a visit, with its cash and goods, is the visits template's row.
DISBURSEMENT_KINDS = {"特扶金": "assistance_payment",
                      "特别扶助金": "assistance_payment", "扶助金": "assistance_payment", "志愿者补贴": "volunteer_support",
                      "资助": "grant", "救助": "grant", "其他": "other"}


def _fund_columns():
    return {
        "fund": Column(gettext_lazy("fund"), "fund", FundByName(), required=True, example="2025年慰问金"),
        "fund_year": Column(gettext_lazy("fund year"), None, CountWidget(), example="2025"),
    }


class PaidOut:
    """What every template of disbursements shares: who recorded it, and its recipient. A payment to
    a member is a payment to the member's family too, as ``disbursement_record`` keeps it: the
    figures by family category read the family."""

    def row_key(self, row):
        key = super().row_key(row)
        if key is None or "member" not in self.natural_key:
            return key
        family, member = self.natural_key.index("family"), self.natural_key.index("member")
        if key[family] is None and key[member] is not None:
            person = next(c for c in self.columns() if c.attribute == "member").clean(row)
            key = key[:family] + (person.family_id,) + key[family + 1:]
        return key

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if getattr(instance, "member_id", None) and not instance.family_id:
            instance.family_id = instance.member.family_id

    def before_save_instance(self, instance, row, **kwargs):
        if instance.pk is None:
            instance.recorded_by = self.actor

    def check_record(self, record):
        columns = {f.attribute: f.column_name for f in self.columns() if f.attribute}
        first = next(columns[a] for a in ("family", "member", "volunteer", "recipient_name") if a in columns)
        if not (record.family_id or record.member_id or record.volunteer_id or record.recipient_name):
            return {first: _("Name the recipient: a file number, an ID number or a name.")}
        if record.member_id and record.family_id and record.member.family_id != record.family_id:
            return {columns["member"]: _("This person is not a member of that family.")}
        return {}


class DisbursementResource(PaidOut, RecordResource):
    """Money or goods paid out of a fund, of every kind, to a family, a member, a volunteer or
    someone outside the system."""

    fund = _fund_columns()["fund"]
    fund_year = _fund_columns()["fund_year"]
    kind = Column(gettext_lazy("kind"), "kind", ChoiceWidget(Disbursement.Kind.choices, DISBURSEMENT_KINDS),
                  required=True, example="特扶金")
    file_number = Column(FILE_NUMBER, "family", FamilyByFileNumber(), example="ZP-2026-0001")
    id_number = Column(ID_NUMBER, "member", MemberByIdNumber(), text=True, example="350623196803050024")
    volunteer_id_number = Column(gettext_lazy("volunteer's ID number"), "volunteer", VolunteerByIdNumber(), text=True)
    recipient_name = Column(gettext_lazy("other recipient"), "recipient_name")
    amount = Column(gettext_lazy("amount or value (CNY)"), "amount", AmountWidget(), required=True, example="1000.00")
    goods = Column(gettext_lazy("goods"), "goods")
    paid_on = Column(gettext_lazy("paid on"), "paid_on", DateWidget(), required=True, example="2025-01-20")
    period = Column(gettext_lazy("period"), "period", example="2025H1")
    description = Column(gettext_lazy("description"), "description")

    natural_key = ("fund", "kind", "family", "member", "volunteer", "recipient_name", "paid_on", "period")

    class Meta:
        model = Disbursement


class VolunteerSupportResource(PaidOut, RecordResource):
    """Support paid to volunteers (补贴), one row a payment."""

    fund = _fund_columns()["fund"]
    fund_year = _fund_columns()["fund_year"]
    volunteer_id_number = Column(gettext_lazy("volunteer's ID number"), "volunteer", VolunteerByIdNumber(),
                                 required=True, text=True, example="350623199001010028")
    amount = Column(gettext_lazy("amount (CNY)"), "amount", AmountWidget(), required=True, example="300.00")
    paid_on = Column(gettext_lazy("paid on"), "paid_on", DateWidget(), required=True, example="2025-05-05")
    period = Column(gettext_lazy("period"), "period", example="2025Q2")
    description = Column(gettext_lazy("description"), "description")

    natural_key = ("fund", "kind", "volunteer", "paid_on", "period")
    fixed = {"kind": Disbursement.Kind.VOLUNTEER_SUPPORT}

    class Meta:
        model = Disbursement


class GrantResource(PaidOut, RecordResource):
    """Grants (幸福工程 and the like): to a family, a member or a mother outside the system, with
    what the grant gained."""

    fund = _fund_columns()["fund"]
    fund_year = _fund_columns()["fund_year"]
    file_number = Column(FILE_NUMBER, "family", FamilyByFileNumber())
    id_number = Column(ID_NUMBER, "member", MemberByIdNumber(), text=True)
    recipient_name = Column(gettext_lazy("other recipient"), "recipient_name", example="陈美华")
    amount = Column(gettext_lazy("amount (CNY)"), "amount", AmountWidget(), required=True, example="5000.00")
    paid_on = Column(gettext_lazy("paid on"), "paid_on", DateWidget(), required=True, example="2025-03-01")
    description = Column(gettext_lazy("description"), "description", example="养殖项目")
    outcome = Column(gettext_lazy("outcome"), "outcome", example="年增收")
    outcome_amount = Column(gettext_lazy("outcome amount (CNY)"), "outcome_amount", AmountWidget(), example="8000.00")

    natural_key = ("fund", "kind", "family", "member", "recipient_name", "paid_on")
    fixed = {"kind": Disbursement.Kind.GRANT}

    class Meta:
        model = Disbursement


class FundResource(RecordResource):
    name = Column(pgettext_lazy("thing", "name"), "name", required=True, example="2025年慰问金")
    programme = Column(gettext_lazy("programme"), "programme", ChoiceWidget(Fund.Programme.choices, {
        "特别扶助": "special_assistance", "慰问": "consolation", "保险": "insurance", "志愿者": "volunteer_support",
        "幸福工程": "happiness_project", "体检": "health", "其他": "other"}), required=True, example="慰问")
    year = Column(gettext_lazy("year"), "year", CountWidget(), required=True, example="2025")
    budget = Column(gettext_lazy("budget (CNY)"), "budget", AmountWidget(), required=True, example="100000.00")
    region_code = Column(gettext_lazy("division code"), "region", RegionByCode(), required=True, text=True,
                         example="350623")
    source = Column(gettext_lazy("source"), "source", example="县财政")

    natural_key = ("region", "programme", "year", "name")

    class Meta:
        model = Fund


class CheckupResource(RecordResource):
    """Health check-ups, free or paid (the figures count the free ones)."""

    id_number = Column(ID_NUMBER, "member", MemberByIdNumber(), required=True, text=True,
                       example="350623196803050024")
    date = Column(gettext_lazy("date"), "date", DateWidget(), required=True, example="2025-04-01")
    provider = Column(gettext_lazy("provider"), "provider", required=True, example="漳浦县医院")
    site = Column(gettext_lazy("site"), "site", SiteByName())
    is_free = Column(gettext_lazy("free of charge"), "is_free", YesNoWidget(default=True), example="是")
    cost = Column(gettext_lazy("cost (CNY)"), "cost", AmountWidget())
    findings = Column(gettext_lazy("findings"), "findings")

    natural_key = ("member", "date", "provider")

    class Meta:
        model = HealthCheckup

    def check_record(self, record):
        if record.is_free and record.cost:
            return {"cost": _("A free check-up has no cost.")}
        return {}


class SiteResource(RecordResource):
    kind = Column(gettext_lazy("kind"), "kind", ChoiceWidget(ServiceSite.Kind.choices, {
        "暖心家园": "warm_heart_home", "心理慰藉中心": "psych_aid_centre", "心理咨询中心": "counselling_centre",
        "幸福驿站": "happiness_station", "向日葵亲子小屋": "parent_child_hut", "家庭健康服务中心": "family_health_centre"}),
        required=True, example="暖心家园")
    name = Column(pgettext_lazy("thing", "name"), "name", required=True, example="东门村暖心家园")
    region_code = Column(gettext_lazy("division code"), "region", RegionByCode(), required=True, text=True,
                         example="350623100201")
    address = Column(gettext_lazy("address"), "address", example="东门村1号")
    capacity = Column(gettext_lazy("capacity"), "capacity", CountWidget(), example="30")
    opened_on = Column(gettext_lazy("opened on"), "opened_on", DateWidget(), example="2024-06-01")
    closed_on = Column(gettext_lazy("closed on"), "closed_on", DateWidget())
    partner = Column(gettext_lazy("partner organisation"), "partner")
    phone = Column(gettext_lazy("phone"), "phone", text=True)

    natural_key = ("region", "kind", "name")

    class Meta:
        model = ServiceSite

    def check_record(self, record):
        if record.opened_on and record.closed_on and record.closed_on < record.opened_on:
            return {"closed_on": _("A site closes after it opens.")}
        return {}


class PolicyResource(RecordResource):
    """Insurance policies with their premiums (the roster of insured people is its own template)."""

    insurer = Column(gettext_lazy("insurer"), "insurer", required=True, example="中国人寿")
    policy_number = Column(gettext_lazy("policy number"), "policy_number", required=True, text=True,
                           example="P2025-0001")
    product_kind = Column(gettext_lazy("product"), "product_kind", ChoiceWidget(InsurancePolicy.ProductKind.choices),
                          required=True, example="意外伤害保险")
    region_code = Column(gettext_lazy("division code"), "region", RegionByCode(), required=True, text=True,
                         example="350623")
    starts_on = Column(gettext_lazy("starts on"), "starts_on", DateWidget(), required=True, example="2025-01-01")
    ends_on = Column(gettext_lazy("ends on"), "ends_on", DateWidget(), required=True, example="2025-12-31")
    premium = Column(gettext_lazy("premium (CNY)"), "premium", AmountWidget(), required=True, example="6800.00")
    daily_allowance = Column(gettext_lazy("daily allowance (CNY)"), "daily_allowance", AmountWidget())
    max_days = Column(gettext_lazy("maximum days per policy year"), "max_days", CountWidget())
    fund = Column(gettext_lazy("fund"), "fund", FundByName())
    fund_year = Column(gettext_lazy("fund year"), None, CountWidget())
    status = Column(gettext_lazy("status"), "status", ChoiceWidget(InsurancePolicy.Status.choices, {
        "生效": "active", "有效": "active", "草稿": "draft", "到期": "expired", "已到期": "expired"}), example="生效")

    natural_key = ("insurer", "policy_number")

    class Meta:
        model = InsurancePolicy

    def init_instance(self, row=None):
        return InsurancePolicy(status=InsurancePolicy.Status.ACTIVE)

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        # An empty status keeps the record's (a new policy is active).
        if field.attribute == "status" and _blank(row.get(field.column_name)):
            return
        super().import_field(field, instance, row, is_m2m, **kwargs)

    def check_record(self, record):
        if record.starts_on and record.ends_on and record.ends_on <= record.starts_on:
            return {"ends_on": _("A policy ends after it starts.")}
        return {}


class TrainingAttendanceResource(RecordResource):
    """Who came to a training session (a volunteer enrolled once per session)."""

    course = Column(gettext_lazy("course"), "session", SessionByCourseAndDate(), required=True, example="陪伴技能培训")
    session_date = Column(gettext_lazy("training date"), None, DateWidget(), required=True, example="2025-04-10")
    volunteer_id_number = Column(gettext_lazy("volunteer's ID number"), "volunteer", VolunteerByIdNumber(),
                                 required=True, text=True, example="350623199001010028")
    status = Column(gettext_lazy("attended or absent"), "status", ChoiceWidget(Enrollment.Status.choices, {
        "出席": "attended", "参加": "attended", "到场": "attended", "缺席": "no_show", "未到": "no_show"}),
        required=True, example="出席")

    natural_key = ("session", "volunteer")

    class Meta:
        model = Enrollment

    def check_record(self, enrollment):
        if enrollment.session.status == TrainingSession.Status.CANCELLED:
            return {"course": _("This session was cancelled.")}
        return {}

    def before_save_instance(self, instance, row, **kwargs):
        if instance.status == Enrollment.Status.ATTENDED and instance.attended_at is None:
            instance.attended_at = instance.session.starts_at


class ConsolationVisitResource(ThroughServices, RecordResource):
    """Consolation visits (慰问): to a family or one of its members, by a staff member or an
    organisation, with cash, goods or nothing."""

    file_number = Column(FILE_NUMBER, "family", FamilyByFileNumber(), required=True, example="ZP-2026-0001")
    id_number = Column(ID_NUMBER, "member", MemberByIdNumber(), text=True, example="350623196803050024")
    visited_on = Column(gettext_lazy("visited on"), "visited_on", DateWidget(), required=True, example="2025-01-20")
    visitor = Column(gettext_lazy("visiting staff member"), "visitor", StaffByUsername(), text=True)
    visiting_party = Column(gettext_lazy("visiting organisation or person"), "visiting_party", example="县计生协会")
    cash = Column(gettext_lazy("cash (CNY)"), "cash", AmountWidget(blank=Decimal("0.00")), example="1000.00")
    goods = Column(gettext_lazy("goods given"), "goods", example="米油")
    goods_value = Column(gettext_lazy("value of the goods (CNY)"), "goods_value", AmountWidget(blank=Decimal("0.00")),
                         example="200.00")
    occasion = Column(gettext_lazy("occasion"), "occasion", example="春节")
    fund = Column(gettext_lazy("fund"), "fund", FundByName(), example="2025年慰问金")
    fund_year = _fund_columns()["fund_year"]
    notes = Column(gettext_lazy("notes"), "notes")

    natural_key = ("family", "member", "visited_on", "visitor", "visiting_party")

    class Meta:
        model = ConsolationVisit

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.originals = {}

    def check_record(self, record):
        columns = {f.attribute: f.column_name for f in self.columns() if f.attribute}
        try:
            record.clean()
        except ValidationError as exc:
            return {column: problems[0] for column, problems in self._problems_from(exc, columns).items()}
        return {}

    def create_record(self, visit):
        return services.consolation_visit_record(
            actor=self.actor, **{name: getattr(visit, name) for name in ("family", *services.VISIT_FIELDS)})

    def change_record(self, original, visit):
        changes = {name: getattr(visit, name) for name in services.VISIT_FIELDS
                   if getattr(visit, original._meta.get_field(name).attname)
                   != getattr(original, original._meta.get_field(name).attname)}
        return services.consolation_visit_change(actor=self.actor, visit=original, **changes)


class PremiumPaymentResource(ThroughServices, RecordResource):
    """Premiums paid: for a whole policy, or for one insured person (an empty amount is that
    person's premium on the roster)."""

    insurer = Column(gettext_lazy("insurer"), None, required=True, example="中国人寿")
    policy_number = Column(gettext_lazy("policy number"), "policy", PolicyByNumber(), required=True, text=True,
                           example="P2025-0001")
    id_number = Column(gettext_lazy("insured person's ID number"), "member", MemberByIdNumber(), text=True,
                       example="350623196803050024")
    paid_on = Column(gettext_lazy("premium paid on"), "paid_on", DateWidget(), required=True, example="2025-01-20")
    amount = Column(gettext_lazy("amount (CNY)"), "amount", AmountWidget(), example="120.00")
    reference = Column(gettext_lazy("receipt or transfer number"), "reference", text=True)

    natural_key = ("policy", "member", "paid_on")

    class Meta:
        model = PremiumPayment

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.originals, self.roster, self.refused = {}, {}, {}

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        lookup = next(f.widget for f in self.columns() if isinstance(f.widget, PolicyByNumber))
        policies = {p.pk for p in lookup.found.values() if not isinstance(p, list)}
        for chunk in _chunks(policies):
            self.roster.update({(i.policy_id, i.member_id): i for i in InsuredPerson.objects.filter(
                policy__in=chunk).only("id", "policy_id", "member_id", "premium")})

    def import_instance(self, instance, row, **kwargs):
        self.refused = {}
        super().import_instance(instance, row, **kwargs)
        # The amount before the row is compared with the record: an empty cell is the roster's premium.
        # The rules' verdict waits for check_record: a payment on record as the row gives it is matched,
        # not refused, even when its policy has been cancelled since.
        columns = {f.attribute: f.column_name for f in self.columns() if f.attribute}
        try:
            instance.amount = services.premium_payment_amount(policy=instance.policy, amount=instance.amount,
                                                              member=instance.member, roster=self.roster)
        except ValidationError as exc:
            self.refused = {column: problems[0] for column, problems in self._problems_from(exc, columns).items()}

    def check_record(self, record):
        return self.refused

    def create_record(self, payment):
        return services.premium_payment_record(actor=self.actor, policy=payment.policy, member=payment.member,
                                               paid_on=payment.paid_on, amount=payment.amount,
                                               reference=payment.reference)

    def change_record(self, original, payment):
        return services.premium_payment_change(actor=self.actor, payment=original, amount=payment.amount,
                                               reference=payment.reference)


class CheckInResource(ThroughServices, RecordResource):
    """Contacts with families (联系记录), as the contact persons' logbooks keep them: written through
    ``checkin_record``, so a family's first contact makes its case active and moves its due dates."""

    file_number = Column(FILE_NUMBER, "family", FamilyByFileNumber(), required=True, example="ZP-2026-0001")
    occurred_at = Column(gettext_lazy("contact date and time"), "occurred_at", DateTimeWidget(), required=True,
                         example="2025-03-05 10:00")
    channel = Column(gettext_lazy("channel"), "channel", ChoiceWidget(CheckIn.Channel.choices, {
        "入户": "home_visit", "走访": "home_visit", "上门": "home_visit", "电话联系": "phone", "微信": "wechat_video",
        "视频": "wechat_video", "活动": "activity", "就诊": "clinic"}), required=True, example="入户走访")
    physical_state = Column(gettext_lazy("physical state"), "physical_state", ChoiceWidget(
        CheckIn.PhysicalState.choices, {"好": "good", "一般": "fair", "差": "poor"}))
    mental_state = Column(gettext_lazy("mental state"), "mental_state", ChoiceWidget(
        CheckIn.MentalState.choices, {"稳定": "stable", "低落": "low", "焦虑": "anxious", "抑郁": "depressed"}))
    difficulties = Column(gettext_lazy("difficulties"), "difficulties")
    needs = Column(gettext_lazy("needs and requests"), "needs")
    help_given = Column(gettext_lazy("help given"), "help_given")

    natural_key = ("family", "occurred_at", "channel")
    DETAILS = ("physical_state", "mental_state", "difficulties", "needs", "help_given")

    class Meta:
        model = CheckIn

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.originals = {}

    def check_record(self, record):
        if record.occurred_at and record.occurred_at > timezone.now() + datetime.timedelta(minutes=5):
            return {"occurred_at": _("A check-in cannot be in the future.")}
        return {}

    def create_record(self, checkin):
        return family_services.checkin_record(
            actor=self.actor, family=checkin.family, channel=checkin.channel, occurred_at=checkin.occurred_at,
            **{name: getattr(checkin, name) for name in self.DETAILS})

    def change_record(self, original, checkin):
        # What was found on a contact is corrected in place; when and how it happened is its key.
        changed = [name for name in self.DETAILS if getattr(checkin, name) != getattr(original, name)]
        checkin.save(update_fields=[*changed, "updated_at"] if changed else None)
        audit_log(actor=self.actor, event="families.checkin.changed", obj=checkin, family_id=checkin.family_id,
                  region_path=checkin.family.region_path, after={"fields": changed})
        return checkin


class ClaimResource(RecordResource):
    """Insurance claims (理赔) of insured people, with their settlement as the insurer paid it."""

    insurer = Column(gettext_lazy("insurer"), None, required=True, example="中国人寿")
    policy_number = Column(gettext_lazy("policy number"), "policy", PolicyByNumber(), required=True, text=True,
                           example="P2025-0001")
    id_number = Column(gettext_lazy("insured person's ID number"), "member", MemberByIdNumber(), required=True,
                       text=True, example="350623196803050024")
    incident_date = Column(gettext_lazy("incident or admission date"), "incident_date", DateWidget(), required=True,
                           example="2025-03-02")
    hospital_days = Column(gettext_lazy("days in hospital"), "hospital_days", CountWidget(), example="5")
    amount_claimed = Column(gettext_lazy("amount claimed (CNY)"), "amount_claimed", AmountWidget(), required=True,
                            example="500.00")
    status = Column(gettext_lazy("claim status"), "status", ChoiceWidget(InsuranceClaim.Status.choices, {
        "已赔付": "settled", "已理赔": "settled", "赔付": "settled", "已结案": "settled", "拒赔": "rejected",
        "已拒赔": "rejected", "审核中": "under_review", "已申请": "filed", "已报案": "filed"}), required=True,
        example="已赔付")
    amount_settled = Column(gettext_lazy("amount settled (CNY)"), "amount_settled", AmountWidget(), example="500.00")
    filed_on = Column(gettext_lazy("filed on"), "filed_on", DateWidget(), example="2025-03-10")
    settled_on = Column(gettext_lazy("settled on"), "settled_on", DateWidget(), example="2025-04-01")
    diagnosis = Column(gettext_lazy("diagnosis"), "diagnosis")

    natural_key = ("policy", "member", "incident_date")

    class Meta:
        model = InsuranceClaim

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.roster = set()
        # {(policy, member): {incident date: days in hospital}} of the claims that use insured days
        # (all but rejected ones): those on record, then each row of the file as it is checked.
        self.days = {}

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        lookup = next(f.widget for f in self.columns() if isinstance(f.widget, PolicyByNumber))
        policies = {p.pk for p in lookup.found.values() if not isinstance(p, list)}
        self.roster, self.days = set(), {}
        for chunk in _chunks(policies):
            self.roster.update(InsuredPerson.objects.filter(policy__in=chunk).values_list("policy_id", "member_id"))
            for policy, member, incident, days in InsuranceClaim.objects.filter(
                    policy__in=chunk, hospital_days__isnull=False).exclude(
                    status=InsuranceClaim.Status.REJECTED).values_list("policy_id", "member_id", "incident_date",
                                                                       "hospital_days"):
                self.days.setdefault((policy, member), {})[incident] = days

    def _days_left(self, claim):
        """The policy year's insured days this claim may still use: the maximum less the days of the
        member's other claims on the policy, on record or earlier in the file (``claim_file``'s rule)."""
        other = self.days.get((claim.policy.pk, claim.member_id), {})
        used = sum(days for incident, days in other.items() if incident != claim.incident_date)
        return max(0, claim.policy.max_days - used)

    def import_instance(self, instance, row, **kwargs):
        try:
            super().import_instance(instance, row, **kwargs)
        finally:  # an empty cell keeps the record's day; a new claim's is its incident's
            if instance.filed_on is None:
                instance.filed_on = (self._before or {}).get("filed_on") or instance.incident_date

    def check_record(self, claim):
        policy, settled = claim.policy, claim.status == InsuranceClaim.Status.SETTLED
        if policy.status not in SPENT_POLICY_STATUSES:
            return {"policy_number": _("Claims can only be filed against an active or expired policy.")}
        if not policy.starts_on <= claim.incident_date <= policy.ends_on:
            return {"incident_date": _("The incident is outside the policy period.")}
        if (policy.pk, claim.member_id) not in self.roster:
            return {"id_number": _("This member is not insured by this policy.")}
        if policy.product_kind == InsurancePolicy.ProductKind.NURSING_ALLOWANCE:
            if not claim.hospital_days:
                return {"hospital_days": _("Give the number of days in hospital.")}
            days = claim.hospital_days
            if policy.max_days is not None:
                # A rejected claim used no days of the year; it claimed at most the policy's maximum.
                days = min(days, policy.max_days if claim.status == InsuranceClaim.Status.REJECTED
                           else self._days_left(claim))
                if days == 0:
                    return {"hospital_days": _("No insured days are left for this member in this policy year.")}
            if policy.daily_allowance is not None:
                cap = policy.daily_allowance * days
                if claim.amount_claimed > cap:
                    return {"amount_claimed": _("At most %(cap)s CNY can be claimed (%(days)s days).") % {
                        "cap": cap, "days": days}}
        if settled and (claim.amount_settled is None or claim.settled_on is None):
            return {"amount_settled": _("A settled claim gives the amount settled and the day it was settled.")}
        if not settled and (claim.amount_settled is not None or claim.settled_on is not None):
            return {"status": _("Only a settled claim has an amount settled and a settlement day.")}
        if settled and claim.amount_settled > claim.amount_claimed:
            return {"amount_settled": _("The settled amount cannot exceed the amount claimed.")}
        if settled and claim.settled_on < claim.incident_date:
            return {"settled_on": _("A claim is settled after its incident.")}
        others = self.days.setdefault((policy.pk, claim.member_id), {})
        if claim.status == InsuranceClaim.Status.REJECTED or not claim.hospital_days:
            others.pop(claim.incident_date, None)
        else:
            others[claim.incident_date] = claim.hospital_days
        return {}


ACTIVITY_KINDS = {"集体庆生": "birthday", "庆生": "birthday", "生日会": "birthday", "知识讲座": "lecture", "讲座": "lecture",
                  "文体活动": "recreation", "文体": "recreation", "交流联谊": "gathering", "联谊": "gathering",
                  "入户关怀": "home_care", "特色活动": "local", "N": "local"}


class ActivityResource(RecordResource):
    """"5+N" activities held (集体庆生, 知识讲座, 文体活动, 交流联谊, 入户关怀 and local ones)."""

    title = Column(gettext_lazy("title"), "title", required=True, example="东门村三月集体庆生")
    category = Column(gettext_lazy("category"), "category", ChoiceWidget(Activity.Category.choices, ACTIVITY_KINDS),
                      required=True, example="集体庆生")
    local_name = Column(gettext_lazy("local activity name"), "local_name")
    region_code = Column(gettext_lazy("division code"), "region", RegionByCode(), required=True, text=True,
                         example="350623100201")
    site = Column(gettext_lazy("site"), "site", SiteByName(), example="东门村暖心家园")
    starts_at = Column(gettext_lazy("starts at"), "starts_at", DateTimeWidget(), required=True,
                       example="2025-03-15 09:00")
    ends_at = Column(gettext_lazy("ends at"), "ends_at", DateTimeWidget(), required=True, example="2025-03-15 11:30")
    capacity = Column(gettext_lazy("capacity"), "capacity", CountWidget(), example="30")
    status = Column(gettext_lazy("status"), "status", ChoiceWidget(Activity.Status.choices, {
        "已完成": "completed", "完成": "completed", "已举办": "completed", "已取消": "cancelled", "取消": "cancelled",
        "计划": "planned", "报名中": "open"}), example="已完成")
    description = Column(gettext_lazy("description"), "description")

    natural_key = ("region", "title", "starts_at")

    class Meta:
        model = Activity

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        # An empty status keeps the record's (a new activity is planned, as one entered by hand).
        if field.attribute == "status" and _blank(row.get(field.column_name)):
            return
        super().import_field(field, instance, row, is_m2m, **kwargs)

    def check_record(self, activity):
        if activity.starts_at and activity.ends_at and activity.ends_at <= activity.starts_at:
            return {"ends_at": _("An activity ends after it starts.")}
        if activity.category == Activity.Category.LOCAL and not activity.local_name:
            return {"local_name": _("A local signature activity needs its local name.")}
        return {}


class AttendanceResource(RecordResource):
    """Who came to an activity: a family member (by ID number) or a volunteer, once each."""

    activity = Column(gettext_lazy("activity"), "activity", ActivityByTitleAndDate(), required=True,
                      example="东门村三月集体庆生")
    activity_date = Column(gettext_lazy("activity date"), None, DateWidget(), required=True, example="2025-03-15")
    activity_region = Column(gettext_lazy("activity's division code"), None, text=True)
    id_number = Column(ID_NUMBER, "member", MemberByIdNumber(), text=True, example="350623196803050024")
    volunteer_id_number = Column(gettext_lazy("volunteer's ID number"), "volunteer", VolunteerByIdNumber(), text=True)

    natural_key = ("activity", "member", "volunteer")

    class Meta:
        model = ActivityAttendance

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seated = None  # activity id -> family members counted so far (on record, then the file's)

    def check_record(self, attendance):
        if (attendance.member_id is None) == (attendance.volunteer_id is None):
            return {"id_number": _("Check in either a family member or a volunteer.")}
        activity = attendance.activity
        if activity.status == Activity.Status.CANCELLED:
            return {"activity": _("This activity was cancelled.")}
        if attendance.member_id is not None:
            if attendance.member.is_deceased:
                return {"id_number": _("This member is recorded as deceased.")}
            if activity.capacity is not None and attendance.pk is None:
                if self.seated is None:
                    self.seated = self._seated()
                self.seated[activity.pk] = self.seated.get(activity.pk, 0) + 1
                if self.seated[activity.pk] > activity.capacity:
                    return {"activity": _("The activity is full.")}
        return {}

    def _seated(self):
        """Family members on record at the file's activities of limited capacity (one query)."""
        lookup = next(f.widget for f in self.columns() if isinstance(f.widget, ActivityByTitleAndDate))
        limited = {a.pk for a in lookup.found.values() if not isinstance(a, list) and a.capacity is not None}
        return dict(ActivityAttendance.objects.filter(activity__in=limited, member__isnull=False).order_by()
                    .values_list("activity").annotate(n=models.Count("pk")))

    def before_save_instance(self, instance, row, **kwargs):
        if instance.pk is None:  # ticked on the list when it was held
            instance.checked_in_at = instance.activity.starts_at


class TrainingSessionResource(RecordResource):
    """Training sessions held (volunteer skills, 青春健康 facilitators, …), of a course in the catalogue."""

    course = Column(gettext_lazy("course"), "course", CourseByTitle(), required=True, example="陪伴技能培训")
    region_code = Column(gettext_lazy("division code"), "region", RegionByCode(), required=True, text=True,
                         example="350623")
    starts_at = Column(gettext_lazy("starts at"), "starts_at", DateTimeWidget(), required=True,
                       example="2025-04-10 09:00")
    ends_at = Column(gettext_lazy("ends at"), "ends_at", DateTimeWidget(), required=True, example="2025-04-10 16:00")
    venue = Column(gettext_lazy("venue"), "venue", required=True, example="县计生协会议室")
    trainer = Column(gettext_lazy("trainer"), "trainer")
    capacity = Column(gettext_lazy("capacity"), "capacity", CountWidget(), required=True, example="30")
    status = Column(gettext_lazy("status"), "status", ChoiceWidget(TrainingSession.Status.choices, {
        "已完成": "completed", "完成": "completed", "已举办": "completed", "已取消": "cancelled", "取消": "cancelled",
        "已安排": "scheduled", "计划": "scheduled"}), example="已完成")

    natural_key = ("course", "region", "starts_at")

    class Meta:
        model = TrainingSession

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        # An empty status keeps the record's (a new session is scheduled).
        if field.attribute == "status" and _blank(row.get(field.column_name)):
            return
        super().import_field(field, instance, row, is_m2m, **kwargs)

    def check_record(self, session):
        if session.starts_at and session.ends_at and session.ends_at <= session.starts_at:
            return {"ends_at": _("A session ends after it starts.")}
        if not session.capacity:
            return {"capacity": _("Enter a whole number, such as 30.")}
        return {}


TEMPLATES = {template.kind: template for template in (
    *PEOPLE_TEMPLATES,
    RecordTemplate("disbursements", gettext_lazy("disbursements of every kind"), DisbursementResource),
    RecordTemplate("volunteer-support", gettext_lazy("volunteer support"), VolunteerSupportResource),
    RecordTemplate("grants", gettext_lazy("grants"), GrantResource),
    RecordTemplate("funds", gettext_lazy("funds"), FundResource),
    RecordTemplate("checkups", gettext_lazy("health check-ups"), CheckupResource),
    RecordTemplate("sites", gettext_lazy("service sites"), SiteResource),
    RecordTemplate("policies", gettext_lazy("insurance policies"), PolicyResource),
    RecordTemplate("training", gettext_lazy("training attendance"), TrainingAttendanceResource),
    RecordTemplate("visits", gettext_lazy("consolation visits"), ConsolationVisitResource),
    RecordTemplate("premiums", gettext_lazy("premium payments"), PremiumPaymentResource),
    RecordTemplate("claims", gettext_lazy("insurance claims"), ClaimResource),
    RecordTemplate("checkins", gettext_lazy("check-ins"), CheckInResource),
    RecordTemplate("activities", gettext_lazy("activities"), ActivityResource),
    RecordTemplate("attendance", gettext_lazy("activity attendance"), AttendanceResource),
    RecordTemplate("training-sessions", gettext_lazy("training sessions"), TrainingSessionResource),
)}

