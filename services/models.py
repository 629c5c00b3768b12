"""Service sites, "5+N" activities, insurance, funds and what they pay out, health check-ups."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from casemgmt.core.crypto import EncryptedTextField
from casemgmt.core.models import Region, TrackedModel
from volunteers.models import new_qr_token

USER = settings.AUTH_USER_MODEL
MONEY = {"max_digits": 12, "decimal_places": 2}


class ServiceSite(models.Model):
    class Kind(models.TextChoices):
        WARM_HEART_HOME = "warm_heart_home", _("Warm Heart Home (暖心家园)")
        PSYCH_AID_CENTRE = "psych_aid_centre", _("psychological aid centre")
        COUNSELLING_CENTRE = "counselling_centre", _("psychological counselling centre")
        HAPPINESS_STATION = "happiness_station", _("happiness station (幸福驿站)")
        PARENT_CHILD_HUT = "parent_child_hut", _("parent-child hut (向日葵亲子小屋)")
        FAMILY_HEALTH_CENTRE = "family_health_centre", _("family health service centre")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=200)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="sites")
    address = models.CharField(_("address"), max_length=300, blank=True)
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)
    opened_on = models.DateField(_("opened on"), null=True, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    partner = models.CharField(_("partner organisation"), max_length=200, blank=True, help_text=_("e.g. a hospital"))
    coordinator = models.ForeignKey(
        USER, verbose_name=_("coordinator"), null=True, blank=True, on_delete=models.SET_NULL, related_name="sites"
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("service site")
        verbose_name_plural = _("service sites")
        ordering = ["region__code", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(opened_on__isnull=True) | Q(closed_on__gte=models.F("opened_on")),
                name="site_closes_after_opening",
            ),
        ]

    def __str__(self):
        return self.name


class Activity(TrackedModel):
    class Category(models.TextChoices):
        BIRTHDAY = "birthday", _("group birthday celebration")
        LECTURE = "lecture", _("knowledge lecture")
        RECREATION = "recreation", _("cultural and sports activity")
        GATHERING = "gathering", _("social gathering")
        HOME_CARE = "home_care", _("home-care visit")
        LOCAL = "local", _("local signature activity")

    class Status(models.TextChoices):
        PLANNED = "planned", _("planned")
        OPEN = "open", _("open for sign-up")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")

    title = models.CharField(_("title"), max_length=200)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    local_name = models.CharField(_("local activity name"), max_length=100, blank=True)
    site = models.ForeignKey(
        ServiceSite, verbose_name=_("site"), null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="activities")
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)
    organiser = models.ForeignKey(
        USER, verbose_name=_("organiser"), null=True, blank=True, on_delete=models.SET_NULL, related_name="organised_activities"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PLANNED)
    description = models.TextField(_("description"), blank=True)
    qr_token = models.CharField(_("QR check-in token"), max_length=32, unique=True, default=new_qr_token, editable=False)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="activity_ends_after_start"),
            models.CheckConstraint(condition=~Q(category="local") | ~Q(local_name=""), name="activity_local_has_name"),
        ]

    def __str__(self):
        return self.title


class ActivityAttendance(models.Model):
    class Method(models.TextChoices):
        LIST = "list", _("ticked on the list")
        QR = "qr", _("QR code")

    activity = models.ForeignKey(Activity, verbose_name=_("activity"), on_delete=models.CASCADE, related_name="attendance")
    member = models.ForeignKey(
        "families.FamilyMember",
        verbose_name=_("family member"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attendance",
    )
    volunteer = models.ForeignKey(
        "volunteers.Volunteer",
        verbose_name=_("volunteer"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attendance",
    )
    checked_in_at = models.DateTimeField(_("checked in at"), default=timezone.now)
    method = models.CharField(_("method"), max_length=8, choices=Method.choices, default=Method.LIST)

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        ordering = ["activity", "checked_in_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(member__isnull=False) & Q(volunteer__isnull=True))
                | (Q(member__isnull=True) & Q(volunteer__isnull=False)),
                name="attendance_member_xor_volunteer",
            ),
            models.UniqueConstraint(fields=["activity", "member"], name="attendance_member_once"),
            models.UniqueConstraint(fields=["activity", "volunteer"], name="attendance_volunteer_once"),
        ]

    def __str__(self):
        return str(self.member or self.volunteer)


class ActivityInvitation(models.Model):
    """A family member or a volunteer invited to an activity: once each, answered or not. Who came
    is ``ActivityAttendance`` (what the figures count); an invitation is only the plan."""

    class Status(models.TextChoices):
        INVITED = "invited", _("invited")
        ACCEPTED = "accepted", _("accepted")
        DECLINED = "declined", _("declined")

    activity = models.ForeignKey(Activity, verbose_name=_("activity"), on_delete=models.CASCADE, related_name="invitations")
    member = models.ForeignKey(
        "families.FamilyMember", verbose_name=_("family member"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="activity_invitations",
    )
    volunteer = models.ForeignKey(
        "volunteers.Volunteer", verbose_name=_("volunteer"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="activity_invitations",
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.INVITED)
    invited_at = models.DateTimeField(_("invited at"), default=timezone.now)
    invited_by = models.ForeignKey(
        USER, verbose_name=_("invited by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["activity", "invited_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(member__isnull=False) & Q(volunteer__isnull=True))
                | (Q(member__isnull=True) & Q(volunteer__isnull=False)),
                name="invitation_member_xor_volunteer",
            ),
            models.UniqueConstraint(fields=["activity", "member"], name="invitation_member_once"),
            models.UniqueConstraint(fields=["activity", "volunteer"], name="invitation_volunteer_once"),
        ]

    def __str__(self):
        return str(self.member or self.volunteer)


class Fund(models.Model):
    class Programme(models.TextChoices):
        SPECIAL_ASSISTANCE = "special_assistance", _("special assistance")
        CONSOLATION = "consolation", _("consolation")
        INSURANCE = "insurance", _("insurance")
        VOLUNTEER_SUPPORT = "volunteer_support", _("volunteer support")
        HAPPINESS_PROJECT = "happiness_project", _("Happiness Project (幸福工程)")
        PROVINCIAL_SPECIAL = "provincial_special", _("provincial special fund")
        HEALTH = "health", _("health check-ups")
        OTHER = "other", _("other")

    name = models.CharField(pgettext_lazy("thing", "name"), max_length=200)
    programme = models.CharField(_("programme"), max_length=24, choices=Programme.choices)
    year = models.PositiveSmallIntegerField(_("year"))
    budget = models.DecimalField(_("budget (CNY)"), **MONEY)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="funds")
    source = models.CharField(_("source"), max_length=200, blank=True, help_text=_("e.g. provincial finance"))

    class Meta:
        verbose_name = _("fund")
        verbose_name_plural = _("funds")
        ordering = ["-year", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(budget__gte=0), name="fund_budget_not_negative"),
            models.UniqueConstraint(fields=["region", "programme", "year", "name"], name="fund_unique"),
        ]

    def __str__(self):
        return f"{self.year} {self.name}"


class InsurancePolicy(TrackedModel):
    class ProductKind(models.TextChoices):
        CRITICAL_ILLNESS = "critical_illness", _("critical-illness hospitalisation insurance")
        NURSING_ALLOWANCE = "nursing_allowance", _("hospital nursing-allowance insurance")
        ACCIDENT = "accident", _("accident insurance")
        OTHER = "other", _("other")

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        ACTIVE = "active", _("active")
        EXPIRED = "expired", _("expired")
        CANCELLED = "cancelled", _("cancelled")

    insurer = models.CharField(_("insurer"), max_length=200)
    product_kind = models.CharField(_("product"), max_length=24, choices=ProductKind.choices)
    policy_number = models.CharField(_("policy number"), max_length=64, blank=True)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="policies")
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    premium = models.DecimalField(_("premium (CNY)"), **MONEY)
    daily_allowance = models.DecimalField(_("daily allowance (CNY)"), null=True, blank=True, **MONEY)
    max_days = models.PositiveSmallIntegerField(_("maximum days per policy year"), null=True, blank=True)
    fund = models.ForeignKey(
        Fund, verbose_name=_("fund"), null=True, blank=True, on_delete=models.PROTECT, related_name="policies"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    renews = models.OneToOneField(
        "self", verbose_name=_("renews policy"), null=True, blank=True, on_delete=models.SET_NULL, related_name="renewal"
    )
    responsible = models.ForeignKey(
        USER, verbose_name=_("responsible administrator"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    members = models.ManyToManyField(
        "families.FamilyMember", through="InsuredPerson", verbose_name=_("insured members"), related_name="policies"
    )

    class Meta:
        verbose_name = _("insurance policy")
        verbose_name_plural = _("insurance policies")
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gt=models.F("starts_on")), name="policy_ends_after_start"),
            models.CheckConstraint(condition=Q(premium__gte=0), name="policy_premium_not_negative"),
            models.UniqueConstraint(
                fields=["insurer", "policy_number"], condition=~Q(policy_number=""), name="policy_number_unique"
            ),
        ]
        indexes = [models.Index(fields=["status", "ends_on"], name="policy_status_end")]

    def __str__(self):
        return f"{self.insurer} {self.get_product_kind_display()} {self.starts_on:%Y}"


class InsuredPerson(models.Model):
    policy = models.ForeignKey(InsurancePolicy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="roster")
    member = models.ForeignKey(
        "families.FamilyMember", verbose_name=_("member"), on_delete=models.PROTECT, related_name="insured_in"
    )
    premium = models.DecimalField(_("premium for this person (CNY)"), null=True, blank=True, **MONEY)
    added_on = models.DateField(_("added on"), default=timezone.localdate)

    class Meta:
        verbose_name = _("insured person")
        verbose_name_plural = _("insured people")
        constraints = [
            models.UniqueConstraint(fields=["policy", "member"], name="insured_once_per_policy"),
            models.CheckConstraint(condition=Q(premium__isnull=True) | Q(premium__gte=0), name="insured_premium_not_negative"),
        ]

    def __str__(self):
        return str(self.member)


class InsuranceClaim(TrackedModel):
    class Status(models.TextChoices):
        FILED = "filed", _("filed")
        UNDER_REVIEW = "under_review", _("under review")
        SETTLED = "settled", _("settled")
        REJECTED = "rejected", _("rejected")

    policy = models.ForeignKey(InsurancePolicy, verbose_name=_("policy"), on_delete=models.PROTECT, related_name="claims")
    member = models.ForeignKey("families.FamilyMember", verbose_name=_("member"), on_delete=models.PROTECT, related_name="claims")
    incident_date = models.DateField(_("incident or admission date"))
    hospital_days = models.PositiveSmallIntegerField(_("days in hospital"), null=True, blank=True)
    amount_claimed = models.DecimalField(_("amount claimed (CNY)"), **MONEY)
    amount_settled = models.DecimalField(_("amount settled (CNY)"), null=True, blank=True, **MONEY)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.FILED)
    filed_on = models.DateField(_("filed on"), default=timezone.localdate)
    settled_on = models.DateField(_("settled on"), null=True, blank=True)
    diagnosis = EncryptedTextField(_("diagnosis"), blank=True)

    class Meta:
        verbose_name = _("insurance claim")
        verbose_name_plural = _("insurance claims")
        ordering = ["-filed_on"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_claimed__gte=0), name="claim_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(amount_settled__isnull=True) | Q(amount_settled__gte=0), name="claim_settled_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.member} {self.amount_claimed}"


class Disbursement(models.Model):
    """Money or goods paid out of a fund to a family, a member or a volunteer.

    Consolation is not a disbursement: it is a visit (``ConsolationVisit``), counted in person-visits
    whether or not anything was given."""

    class Kind(models.TextChoices):
        ASSISTANCE_PAYMENT = "assistance_payment", _("special-assistance payment")
        VOLUNTEER_SUPPORT = "volunteer_support", _("volunteer support")
        GRANT = "grant", _("grant")
        OTHER = "other", _("other")

    fund = models.ForeignKey(Fund, verbose_name=_("fund"), on_delete=models.PROTECT, related_name="disbursements")
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    amount = models.DecimalField(_("amount or value (CNY)"), **MONEY)
    goods = models.CharField(_("goods"), max_length=200, blank=True)
    family = models.ForeignKey(
        "families.Family", verbose_name=_("family"), null=True, blank=True, on_delete=models.PROTECT, related_name="disbursements"
    )
    member = models.ForeignKey(
        "families.FamilyMember",
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disbursements",
    )
    volunteer = models.ForeignKey(
        "volunteers.Volunteer",
        verbose_name=_("volunteer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disbursements",
    )
    recipient_name = models.CharField(
        _("other recipient"),
        max_length=200,
        blank=True,
        help_text=_("For recipients outside the system, e.g. a Happiness Project mother."),
    )
    paid_on = models.DateField(_("paid on"))
    period = models.CharField(_("period"), max_length=20, blank=True, help_text=_("e.g. 2026H1 for a half-yearly payment batch"))
    description = models.CharField(_("description"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        USER, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(_("outcome"), max_length=300, blank=True, help_text=_("e.g. yearly income gained by a grant"))
    outcome_amount = models.DecimalField(_("outcome amount (CNY)"), null=True, blank=True, **MONEY)

    class Meta:
        verbose_name = _("disbursement")
        verbose_name_plural = _("disbursements")
        ordering = ["-paid_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="disbursement_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(family__isnull=False) | Q(member__isnull=False) | Q(volunteer__isnull=False) | ~Q(recipient_name=""),
                name="disbursement_has_recipient",
            ),
        ]
        indexes = [models.Index(fields=["kind", "paid_on"], name="disbursement_kind_date")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount}"


class PremiumPayment(models.Model):
    """A premium paid for a policy on a date: for the whole policy, or for one insured person (the
    roster row's premium when no amount is given). The figures count premiums by when they were paid,
    so a policy across two years is counted once and the quarters add up to the year."""

    policy = models.ForeignKey(InsurancePolicy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="payments")
    member = models.ForeignKey(
        "families.FamilyMember", verbose_name=_("insured person"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="premium_payments", help_text=_("Empty for a payment for the whole policy."),
    )
    paid_on = models.DateField(_("paid on"))
    amount = models.DecimalField(_("amount (CNY)"), **MONEY)
    reference = models.CharField(_("receipt or transfer number"), max_length=64, blank=True)
    recorded_by = models.ForeignKey(
        USER, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("premium payment")
        verbose_name_plural = _("premium payments")
        ordering = ["-paid_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="premium_payment_not_negative"),
            # The natural key an upload of the same payments again is recognised by.
            models.UniqueConstraint(fields=["policy", "member", "paid_on"], nulls_distinct=False,
                                    name="premium_payment_once"),
        ]
        indexes = [models.Index(fields=["paid_on"], name="premium_payment_date")]

    def __str__(self):
        return f"{self.policy} {self.paid_on} {self.amount}"


class ConsolationVisit(TrackedModel):
    """A consolation visit (慰问) to a family or one of its members: by whom, and what was given
    (cash, goods with their value, or nothing). The bulletin counts visits (人次) whatever was given,
    and cash and goods separately."""

    family = models.ForeignKey("families.Family", verbose_name=_("family"), on_delete=models.PROTECT,
                               related_name="consolation_visits")
    member = models.ForeignKey(
        "families.FamilyMember", verbose_name=_("member visited"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="consolation_visits",
    )
    visited_on = models.DateField(_("visited on"))
    visitor = models.ForeignKey(
        USER, verbose_name=_("visiting staff member"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    visiting_party = models.CharField(_("visiting organisation or person"), max_length=200, blank=True,
                                      help_text=_("e.g. the county family planning association, a county leader"))
    occasion = models.CharField(_("occasion"), max_length=100, blank=True, help_text=_("e.g. Spring Festival"))
    cash = models.DecimalField(_("cash (CNY)"), default=0, validators=[MinValueValidator(0)], **MONEY)
    goods = models.CharField(_("goods given"), max_length=200, blank=True)
    goods_value = models.DecimalField(_("value of the goods (CNY)"), default=0, validators=[MinValueValidator(0)], **MONEY)
    fund = models.ForeignKey(
        Fund, verbose_name=_("fund"), null=True, blank=True, on_delete=models.PROTECT, related_name="consolation_visits"
    )
    # Like a disbursement's description; what the family said and needs goes into a check-in.
    notes = models.CharField(_("notes"), max_length=300, blank=True,
                             help_text=_("What the visit was for; the family's situation belongs in a check-in."))
    recorded_by = models.ForeignKey(
        USER, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("consolation visit")
        verbose_name_plural = _("consolation visits")
        ordering = ["-visited_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(cash__gte=0) & Q(goods_value__gte=0), name="visit_gifts_not_negative"),
            models.CheckConstraint(condition=Q(goods_value=0) | ~Q(goods=""), name="visit_goods_described"),
            # The natural key an upload of the same visits again is recognised by.
            models.UniqueConstraint(fields=["family", "member", "visited_on", "visitor", "visiting_party"],
                                    nulls_distinct=False, name="visit_once"),
        ]
        indexes = [models.Index(fields=["visited_on"], name="visit_date")]

    def __str__(self):
        return f"{self.family} {self.visited_on}"

    def clean(self):
        errors = {}
        if self.member_id is not None and self.family_id is not None and self.member.family_id != self.family_id:
            errors["member"] = _("This member belongs to another family.")
        if self.goods_value and not self.goods.strip():
            errors["goods"] = _("Say what goods were given.")
        if self.visitor_id is None and not self.visiting_party.strip():
            errors["visiting_party"] = _("Name who visited: a staff member or an organisation or person.")
        if (self.fund_id is not None and self.family_id is not None
                and not self.family.region_path.startswith(self.fund.region.path)):
            errors["fund"] = _("The family lives outside the fund's region.")
        if errors:
            raise ValidationError(errors)


class HealthCheckup(models.Model):
    member = models.ForeignKey(
        "families.FamilyMember", verbose_name=_("member"), on_delete=models.CASCADE, related_name="checkups"
    )
    date = models.DateField(_("date"))
    provider = models.CharField(_("provider"), max_length=200)
    site = models.ForeignKey(
        ServiceSite, verbose_name=_("site"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_free = models.BooleanField(_("free of charge"), default=True)
    cost = models.DecimalField(_("cost (CNY)"), null=True, blank=True, **MONEY)
    findings = EncryptedTextField(_("findings"), blank=True)

    class Meta:
        verbose_name = _("health check-up")
        verbose_name_plural = _("health check-ups")
        ordering = ["-date"]
        constraints = [models.CheckConstraint(condition=Q(cost__isnull=True) | Q(cost__gte=0), name="checkup_cost_not_negative")]

    def __str__(self):
        return f"{self.member} {self.date}"
