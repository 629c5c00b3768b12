"""Pre-computed tallies behind the bulletin's largest figures, kept exact by the database (``reports.aggregates``).

A figure of a region subtree is a sum over the rows whose path starts with the subtree's path.
Families, disbursements, consolation visits, free check-ups and activity participants are additive;
families contacted in a period are not (a family contacted in January and March is one family of
the quarter), so they are counted per calendar month, quarter and year, each period on its own;
people insured neither (one person on a county's and a city's policy), so they are counted per
period and per subtree, each toward one first region path there.
No table grows with the families or their records: their size is bounded by regions × months × keys.
"""
from django.db import models
from django.utils.translation import gettext_lazy as _

from families.models import Category, Family, RiskLevel
from services.models import MONEY, Activity, Disbursement


class FamilyTally(models.Model):
    """Families on the books now with one region path, category, risk level and status."""

    pk = models.CompositePrimaryKey("region_path", "category", "risk_level", "status", verbose_name=_("tally key"))
    region_path = models.CharField(_("region path"), max_length=12)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    risk_level = models.CharField(_("risk level"), max_length=8, choices=RiskLevel.choices)
    status = models.CharField(_("status"), max_length=16, choices=Family.Status.choices)
    families = models.IntegerField(_("number of families"))

    class Meta:
        verbose_name = _("family tally")
        verbose_name_plural = _("family tallies")
        indexes = [models.Index(fields=["region_path"], name="familytally_region_prefix", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return f"{self.region_path} {self.category} {self.risk_level} {self.status}: {self.families}"


class ContactTally(models.Model):
    """Families with one region path and status now that had at least one check-in in a calendar period."""

    class Period(models.TextChoices):
        MONTH = "m", _("month")
        QUARTER = "q", _("quarter")
        YEAR = "y", _("year")

    pk = models.CompositePrimaryKey("period", "starts_on", "status", "region_path", verbose_name=_("tally key"))
    period = models.CharField(_("calendar period"), max_length=1, choices=Period.choices)
    starts_on = models.DateField(_("starts on"))
    status = models.CharField(_("status"), max_length=16, choices=Family.Status.choices)
    region_path = models.CharField(_("region path"), max_length=12)
    families = models.IntegerField(_("number of families"))

    class Meta:
        verbose_name = _("contact tally")
        verbose_name_plural = _("contact tallies")

    def __str__(self):
        return f"{self.period}{self.starts_on:%Y-%m} {self.region_path} {self.status}: {self.families}"


class DisbursementTally(models.Model):
    """Disbursements of one kind paid in a month, by where they went, by the paying fund's region and by
    the category of the family paid.

    ``region_path`` is where the statistics attribute a payment (the recipient's home, else the
    fund's region); the fund's region is what a region manager's reach is decided on; ``category``
    is blank for a payment to a member, a volunteer or someone outside the system.
    """

    pk = models.CompositePrimaryKey("month", "kind", "region_path", "fund_region_path", "category",
                                    verbose_name=_("tally key"))
    month = models.DateField(_("month"))
    kind = models.CharField(_("kind"), max_length=24, choices=Disbursement.Kind.choices)
    region_path = models.CharField(_("region path"), max_length=12)
    fund_region_path = models.CharField(_("fund's region path"), max_length=12)
    category = models.CharField(_("family category"), max_length=16, choices=Category.choices, blank=True)
    disbursements = models.IntegerField(_("number of disbursements"))
    amount = models.DecimalField(_("amount (CNY)"), max_digits=16, decimal_places=MONEY["decimal_places"])

    class Meta:
        verbose_name = _("disbursement tally")
        verbose_name_plural = _("disbursement tallies")

    def __str__(self):
        return f"{self.month:%Y-%m} {self.kind} {self.region_path} {self.category}: {self.disbursements} / {self.amount}"


class ConsolationTally(models.Model):
    """Consolation visits (慰问) in a month to families with one region path: person-visits, cash and
    the value of the goods given, apart as the bulletin counts them."""

    pk = models.CompositePrimaryKey("month", "region_path", verbose_name=_("tally key"))
    month = models.DateField(_("month"))
    region_path = models.CharField(_("region path"), max_length=12)
    visits = models.IntegerField(_("number of visits"))
    cash = models.DecimalField(_("cash (CNY)"), max_digits=16, decimal_places=MONEY["decimal_places"])
    goods_value = models.DecimalField(_("value of the goods (CNY)"), max_digits=16, decimal_places=MONEY["decimal_places"])

    class Meta:
        verbose_name = _("consolation tally")
        verbose_name_plural = _("consolation tallies")

    def __str__(self):
        return f"{self.month:%Y-%m} {self.region_path}: {self.visits} / {self.cash} / {self.goods_value}"


class CheckupTally(models.Model):
    """Free health check-ups in a month of members of families with one region path."""

    pk = models.CompositePrimaryKey("month", "region_path", verbose_name=_("tally key"))
    month = models.DateField(_("month"))
    region_path = models.CharField(_("region path"), max_length=12)
    checkups = models.IntegerField(_("number of check-ups"))

    class Meta:
        verbose_name = _("check-up tally")
        verbose_name_plural = _("check-up tallies")

    def __str__(self):
        return f"{self.month:%Y-%m} {self.region_path}: {self.checkups}"


class InsuredTally(models.Model):
    """Distinct members on the roster of a bought policy (active or expired) that runs during some part of a
    calendar period, among the policies of one region subtree (``region_prefix``: a region's path, "" for all),
    by the first (least) region path of those policies (``first_path``).

    A member is insured by two or three policies a year, often of different regions (a county's and a
    city's), so distinct members add up neither over months nor over regions: each period and each
    subtree is counted on its own, and a subtree's figure is the sum of its rows. Within a subtree
    each member counts toward one first path, so its breakdown by sub-region adds up to that figure.
    """

    pk = models.CompositePrimaryKey("period", "starts_on", "region_prefix", "first_path", verbose_name=_("tally key"))
    period = models.CharField(_("calendar period"), max_length=1, choices=ContactTally.Period.choices)
    starts_on = models.DateField(_("starts on"))
    region_prefix = models.CharField(_("region path"), max_length=12, blank=True)
    first_path = models.CharField(_("first region path"), max_length=12)
    people = models.IntegerField(_("number of people"))

    class Meta:
        verbose_name = _("insured people tally")
        verbose_name_plural = _("insured people tallies")

    def __str__(self):
        return f"{self.period}{self.starts_on:%Y-%m} {self.region_prefix or '*'} {self.first_path}: {self.people}"


class AttendanceTally(models.Model):
    """Participants (attendance rows) of the activities of one category and region path that started in a
    month, cancelled ones left out."""

    pk = models.CompositePrimaryKey("month", "region_path", "category", verbose_name=_("tally key"))
    month = models.DateField(_("month"))
    region_path = models.CharField(_("region path"), max_length=12)
    category = models.CharField(_("category"), max_length=16, choices=Activity.Category.choices)
    participants = models.IntegerField(_("number of participants"))

    class Meta:
        verbose_name = _("attendance tally")
        verbose_name_plural = _("attendance tallies")

    def __str__(self):
        return f"{self.month:%Y-%m} {self.region_path} {self.category}: {self.participants}"


class AggregateState(models.Model):
    """One row: whether the tallies are exact, and the time zone their months were cut in.

    No row (a new or flushed database) or a stale one: figures are computed from the records, and
    the triggers stop maintaining the tallies until ``reports.aggregates.rebuild`` runs.
    """

    id = models.PositiveSmallIntegerField(_("state row"), primary_key=True, default=1)
    time_zone = models.CharField(_("time zone"), max_length=64)
    built_at = models.DateTimeField(_("built at"))
    stale_since = models.DateTimeField(_("stale since"), null=True, blank=True)

    class Meta:
        verbose_name = _("aggregate state")
        verbose_name_plural = _("aggregate states")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="aggregatestate_single_row")]

    def __str__(self):
        return f"{self.time_zone} {self.built_at:%Y-%m-%d %H:%M}{' stale' if self.stale_since else ''}"
