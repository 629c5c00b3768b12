"""The records behind each figure: for every figure of ``statistics_compute`` the rows it counted.

A drill-down is the figure's record set from ``ReportScope`` (the same queryset the aggregate ran
on), optionally narrowed by the figure's breakdown (a site kind, an activity category…), with the
columns a reader needs to check it. Names are masked: the list proves the count, the case file
(opened through the admin or the API, audited there) shows the person.
"""
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from casemgmt.core.idcard import mask_name
from families.models import FamilyMember


def _local(value):
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _recipient(disbursement):
    if disbursement.member_id:
        return mask_name(disbursement.member.name)
    if disbursement.family_id:
        return disbursement.family.file_number
    if disbursement.volunteer_id:
        return mask_name(disbursement.volunteer.name)
    return mask_name(disbursement.recipient_name)


def _visitor(visit):
    """Staff by their name as the system knows them, an organisation or person as recorded."""
    names = [visit.visitor.get_full_name() or visit.visitor.get_username()] if visit.visitor_id else []
    return "; ".join(names + ([visit.visiting_party] if visit.visiting_party else []))


@dataclass(frozen=True)
class Figure:
    title: object
    records: object  # ReportScope -> queryset
    columns: tuple  # (key, heading, getter(obj))
    filters: dict = field(default_factory=dict)  # query parameter -> lookup
    related: tuple = ()
    ordering: tuple = ("pk",)


REGION = ("region", _("region"), lambda o: str(o.region))
FILE_NUMBER = ("file_number", _("file number"), lambda o: o.file_number)
FAMILY_CATEGORY = ("category", _("category"), lambda o: o.get_category_display())
STATUS = ("status", _("status"), lambda o: o.get_status_display())
FAMILY_REGION = ("region", _("region"), lambda o: str(o.family.region))
FAMILY_FILE = ("family", _("file number"), lambda o: o.family.file_number)

FIGURES = {
    "sites": Figure(
        _("service sites"), lambda s: s.sites(),
        (("name", pgettext_lazy("thing", "name"), lambda o: o.name), ("kind", _("kind"), lambda o: o.get_kind_display()), REGION,
         ("opened_on", _("opened on"), lambda o: o.opened_on), ("closed_on", _("closed on"), lambda o: o.closed_on)),
        filters={"kind": "kind"}, related=("region",),
    ),
    "consolation": Figure(
        _("consolation visits"), lambda s: s.consolation(),
        (("visited_on", _("visited on"), lambda o: o.visited_on), FAMILY_FILE,
         ("member", _("member visited"), lambda o: mask_name(o.member.name) if o.member_id else ""),
         ("visitor", _("visited by"), _visitor), ("occasion", _("occasion"), lambda o: o.occasion),
         ("cash", _("cash (CNY)"), lambda o: o.cash), ("goods", _("goods given"), lambda o: o.goods),
         ("goods_value", _("value of the goods (CNY)"), lambda o: o.goods_value), FAMILY_REGION),
        related=("family__region", "member", "visitor"), ordering=("visited_on", "pk"),
    ),
    "free_checkups": Figure(
        _("free health check-ups"), lambda s: s.free_checkups(),
        (("date", _("date"), lambda o: o.date), ("member", _("member"), lambda o: mask_name(o.member.name)),
         ("family", _("file number"), lambda o: o.member.family.file_number), ("provider", _("provider"), lambda o: o.provider)),
        related=("member__family",), ordering=("date", "pk"),
    ),
    "insurance_policies": Figure(
        _("insurance policies"), lambda s: s.insurance_policies(),
        (("insurer", _("insurer"), lambda o: o.insurer), ("product", _("product"), lambda o: o.get_product_kind_display()),
         ("policy_number", _("policy number"), lambda o: o.policy_number), REGION,
         ("starts_on", _("starts on"), lambda o: o.starts_on), ("ends_on", _("ends on"), lambda o: o.ends_on),
         ("premium", _("premium (CNY)"), lambda o: o.premium)),
        filters={"product": "product_kind"}, related=("region",), ordering=("starts_on", "pk"),
    ),
    "insured_people": Figure(
        _("people covered by insurance"),
        lambda s: FamilyMember.objects.filter(pk__in=s.insured_people().values("member_id")),
        (("name", _("name"), lambda o: mask_name(o.name)), ("family", _("file number"), lambda o: o.family.file_number),
         ("relation", _("relation"), lambda o: o.get_relation_display()), FAMILY_REGION),
        related=("family__region",),
    ),
    "insurance_premiums": Figure(
        _("insurance premiums paid"), lambda s: s.premium_payments(),
        (("paid_on", _("paid on"), lambda o: o.paid_on), ("insurer", _("insurer"), lambda o: o.policy.insurer),
         ("product", _("product"), lambda o: o.policy.get_product_kind_display()),
         ("policy_number", _("policy number"), lambda o: o.policy.policy_number),
         ("insured", _("insured person"), lambda o: mask_name(o.member.name) if o.member_id else ""),
         ("amount", _("amount (CNY)"), lambda o: o.amount), ("region", _("region"), lambda o: str(o.policy.region))),
        filters={"product": "policy__product_kind"}, related=("policy__region", "member"), ordering=("paid_on", "pk"),
    ),
    "claims_paid": Figure(
        _("insurance claims paid"), lambda s: s.claims_paid(),
        (("settled_on", _("settled on"), lambda o: o.settled_on), ("member", _("member"), lambda o: mask_name(o.member.name)),
         ("family", _("file number"), lambda o: o.member.family.file_number),
         ("product", _("product"), lambda o: o.policy.get_product_kind_display()),
         ("amount_settled", _("amount settled (CNY)"), lambda o: o.amount_settled)),
        filters={"product": "policy__product_kind"}, related=("policy", "member__family"), ordering=("settled_on", "pk"),
    ),
    "assistance_payments": Figure(
        _("special-assistance payments"), lambda s: s.assistance_payments(),
        (("paid_on", _("paid on"), lambda o: o.paid_on), ("recipient", _("recipient"), _recipient),
         ("category", _("category"), lambda o: o.family.get_category_display() if o.family_id else ""),
         ("period", _("period"), lambda o: o.period), ("amount", _("amount (CNY)"), lambda o: o.amount),
         ("fund", _("fund"), lambda o: o.fund.name)),
        filters={"category": "family__category"}, related=("fund", "family", "member", "volunteer"),
        ordering=("paid_on", "pk"),
    ),
    "grants": Figure(
        _("grants"), lambda s: s.grants(),
        (("paid_on", _("paid on"), lambda o: o.paid_on), ("recipient", _("recipient"), _recipient),
         ("amount", _("amount (CNY)"), lambda o: o.amount), ("fund", _("fund"), lambda o: o.fund.name),
         ("outcome", _("outcome"), lambda o: o.outcome),
         ("outcome_amount", _("outcome amount (CNY)"), lambda o: o.outcome_amount)),
        filters={"programme": "fund__programme"}, related=("fund", "family", "member", "volunteer"),
        ordering=("paid_on", "pk"),
    ),
    "volunteer_support": Figure(
        _("volunteer support funds"), lambda s: s.volunteer_support(),
        (("paid_on", _("paid on"), lambda o: o.paid_on), ("recipient", _("recipient"), _recipient),
         ("amount", _("amount (CNY)"), lambda o: o.amount), ("fund", _("fund"), lambda o: o.fund.name),
         ("description", _("description"), lambda o: o.description)),
        related=("fund", "family", "member", "volunteer"), ordering=("paid_on", "pk"),
    ),
    "activities": Figure(
        _("activities"), lambda s: s.activities(),
        (("title", _("title"), lambda o: o.title), ("category", _("category"), lambda o: o.get_category_display()),
         REGION, ("starts_at", _("starts at"), lambda o: _local(o.starts_at)), STATUS),
        filters={"category": "category"}, related=("region",), ordering=("starts_at", "pk"),
    ),
    "participants": Figure(
        _("activity participants"), lambda s: s.participants(),
        (("activity", _("activity"), lambda o: o.activity.title),
         ("category", _("category"), lambda o: o.activity.get_category_display()),
         ("participant", _("participant"), lambda o: mask_name((o.member or o.volunteer).name)),
         ("checked_in_at", _("checked in at"), lambda o: _local(o.checked_in_at))),
        filters={"category": "activity__category"}, related=("activity", "member", "volunteer"),
        ordering=("activity__starts_at", "pk"),
    ),
    "trainings": Figure(
        _("training sessions"), lambda s: s.trainings(),
        (("course", _("course"), lambda o: o.course.title),
         ("programme", _("programme"), lambda o: o.course.get_programme_display()), REGION,
         ("starts_at", _("starts at"), lambda o: _local(o.starts_at)), ("venue", _("venue"), lambda o: o.venue), STATUS),
        filters={"programme": "course__programme"}, related=("course", "region"), ordering=("starts_at", "pk"),
    ),
    "training_participants": Figure(
        _("training participants"), lambda s: s.training_participants(),
        (("course", _("course"), lambda o: o.session.course.title),
         ("programme", _("programme"), lambda o: o.session.course.get_programme_display()),
         ("starts_at", _("starts at"), lambda o: _local(o.session.starts_at)),
         ("participant", _("participant"), lambda o: mask_name(o.volunteer.name))),
        filters={"programme": "session__course__programme"}, related=("session__course", "volunteer"),
        ordering=("session__starts_at", "pk"),
    ),
    "volunteers_trained": Figure(
        _("volunteers trained"), lambda s: s.volunteers_trained(),
        (("name", _("name"), lambda o: mask_name(o.name)), REGION, ("joined_on", _("joined on"), lambda o: o.joined_on)),
        related=("region",),
    ),
    "families_active": Figure(
        _("active families"), lambda s: s.families_active(),
        (FILE_NUMBER, FAMILY_CATEGORY,
         REGION, ("last_checkin_at", _("last check-in"), lambda o: _local(o.last_checkin_at))),
        related=("region",), ordering=("file_number",),
    ),
    "families_contacted": Figure(
        _("families contacted"), lambda s: s.families_contacted(),
        (FILE_NUMBER, FAMILY_CATEGORY,
         REGION, ("last_checkin_at", _("last check-in"), lambda o: _local(o.last_checkin_at))),
        related=("region",), ordering=("file_number",),
    ),
    "families": Figure(
        _("families"), lambda s: s.families(),
        (FILE_NUMBER, FAMILY_CATEGORY,
         ("risk", _("risk level"), lambda o: o.get_risk_level_display()), STATUS,
         REGION),
        filters={"category": "category", "risk": "risk_level", "status": "status"}, related=("region",),
        ordering=("file_number",),
    ),
}


def drilldown_records(scope, figure_name, params=None):
    """The queryset of rows behind ``figure_name`` (KeyError for an unknown figure)."""
    figure = FIGURES[figure_name]
    queryset = figure.records(scope)
    params = params or {}
    narrow = {lookup: params[name] for name, lookup in figure.filters.items() if params.get(name)}
    return queryset.filter(**narrow).select_related(*figure.related).order_by(*figure.ordering)


def drilldown_rows(figure_name, objects):
    """Plain rows (column key -> value) for the API, the page and the workbook."""
    columns = FIGURES[figure_name].columns
    return [{key: getter(obj) for key, _heading, getter in columns} for obj in objects]


def drilldown_columns(figure_name):
    return [(key, heading) for key, heading, _getter in FIGURES[figure_name].columns]
