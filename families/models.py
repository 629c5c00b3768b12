"""Special families, their members and the casework around them."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from pypinyin import Style, lazy_pinyin

from casemgmt.core.crypto import EncryptedTextField, blind_index
from casemgmt.core.idcard import mask_id_number, mask_phone, normalize_id_number, parse_id_number
from casemgmt.core.models import Region, TrackedModel

USER = settings.AUTH_USER_MODEL


class Category(models.TextChoices):
    BEREAVED = "bereaved", _("bereaved (only child died)")
    DISABLED = "disabled", _("disabled (only child disabled)")


class Residence(models.TextChoices):
    URBAN = "urban", _("urban")
    RURAL = "rural", _("rural")


class RiskLevel(models.TextChoices):
    GREEN = "green", _("green")
    YELLOW = "yellow", _("yellow")
    ORANGE = "orange", _("orange")
    RED = "red", _("red")


class Family(TrackedModel):
    class Status(models.TextChoices):
        REGISTERED = "registered", _("registered")
        ACTIVE = "active", _("active")
        CLOSED = "closed", _("closed")
        MOVED = "moved", _("moved away")
        DECEASED = "deceased", _("deceased")

    file_number = models.CharField(_("file number"), max_length=32, unique=True)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    region = models.ForeignKey(Region, verbose_name=_("home region"), on_delete=models.PROTECT, related_name="families")
    # Copy of region.path so that region scoping and due-date ordering are one index scan.
    region_path = models.CharField(_("region path"), max_length=12, editable=False)
    address = models.CharField(_("address"), max_length=300, blank=True)
    residence = models.CharField(_("residence"), max_length=8, choices=Residence.choices, default=Residence.RURAL)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.REGISTERED)
    status_reason = EncryptedTextField(_("status reason"), max_length=300, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    risk_level = models.CharField(_("risk level"), max_length=8, choices=RiskLevel.choices, default=RiskLevel.GREEN)
    risk_reason = EncryptedTextField(_("risk reason"), max_length=300, blank=True)
    risk_assessed_at = models.DateTimeField(_("risk assessed at"), null=True, blank=True)
    registered_on = models.DateField(_("registered on"), default=timezone.localdate)
    last_checkin_at = models.DateTimeField(_("last check-in"), null=True, blank=True)
    next_checkin_due = models.DateField(_("next check-in due"), null=True, blank=True)
    last_home_visit_at = models.DateTimeField(_("last home visit"), null=True, blank=True)
    next_home_visit_due = models.DateField(_("next home visit due"), null=True, blank=True)
    notes = EncryptedTextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("family")
        verbose_name_plural = _("families")
        ordering = ["file_number"]
        indexes = [
            models.Index(fields=["region_path"], name="family_region_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["next_checkin_due", "id"], name="family_next_due"),
            # A search matching thousands of families walks this in file-number order, reading
            # region and id from the index alone (families.selectors.family_search).
            models.Index(fields=["file_number"], include=["region_path", "id"], name="family_file_number_walk"),
            models.Index(fields=["status", "risk_level"], name="family_status_risk"),
        ]

    def __str__(self):
        return f"{self.file_number}"

    def save(self, *args, **kwargs):
        self.region_path = self.region.path
        super().save(*args, **kwargs)


class CadenceRule(models.Model):
    """How often a family of a given risk level must be contacted, configurable per region subtree.

    The most specific rule (longest region path) wins; a rule without a region is the default.
    """

    region = models.ForeignKey(
        Region,
        verbose_name=_("region"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Empty for the default; otherwise applies to the region and everything below it."),
    )
    risk_level = models.CharField(_("risk level"), max_length=8, choices=RiskLevel.choices)
    contact_interval_days = models.PositiveSmallIntegerField(_("contact at least every (days)"))
    home_visit_interval_days = models.PositiveSmallIntegerField(_("home visit at least every (days)"))

    class Meta:
        verbose_name = _("check-in cadence")
        verbose_name_plural = _("check-in cadences")
        ordering = ["region__code", "risk_level"]
        constraints = [
            models.UniqueConstraint(fields=["region", "risk_level"], name="cadence_one_per_region_and_level"),
            models.UniqueConstraint(
                fields=["risk_level"], condition=Q(region__isnull=True), name="cadence_one_default_per_level"
            ),
            models.CheckConstraint(
                condition=Q(contact_interval_days__gt=0) & Q(home_visit_interval_days__gt=0), name="cadence_positive"
            ),
        ]

    def __str__(self):
        return f"{self.get_risk_level_display()}: {self.contact_interval_days}/{self.home_visit_interval_days}"


class FamilyStatusChange(models.Model):
    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(_("from status"), max_length=16, choices=Family.Status.choices, blank=True)
    to_status = models.CharField(_("to status"), max_length=16, choices=Family.Status.choices)
    reason = EncryptedTextField(_("reason"), max_length=300, blank=True)
    changed_by = models.ForeignKey(
        USER, verbose_name=_("changed by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.get_from_status_display()} → {self.get_to_status_display()}"


class RiskLevelChange(models.Model):
    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="risk_changes")
    from_level = models.CharField(_("from level"), max_length=8, choices=RiskLevel.choices, blank=True)
    to_level = models.CharField(_("to level"), max_length=8, choices=RiskLevel.choices)
    reason = EncryptedTextField(_("reason"), max_length=300)
    assessment = models.ForeignKey(
        "Assessment", verbose_name=_("assessment"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_by = models.ForeignKey(
        USER, verbose_name=_("changed by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("risk level change")
        verbose_name_plural = _("risk level changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.get_from_level_display()} → {self.get_to_level_display()}"


class FamilyMember(TrackedModel):
    class Relation(models.TextChoices):
        FATHER = "father", _("father")
        MOTHER = "mother", _("mother")
        CHILD = "child", _("only child")
        GRANDCHILD = "grandchild", _("grandchild")
        OTHER = "other", _("other")

    class Sex(models.TextChoices):
        MALE = "M", _("male")
        FEMALE = "F", _("female")

    class BirthdayCalendar(models.TextChoices):
        SOLAR = "solar", _("solar (Gregorian)")
        LUNAR = "lunar", _("lunar")

    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="members")
    name = models.CharField(_("name"), max_length=50)
    name_pinyin = models.CharField(_("name in pinyin"), max_length=200, editable=False, db_index=True)
    name_initials = models.CharField(_("pinyin initials"), max_length=50, editable=False, db_index=True)
    relation = models.CharField(_("relation"), max_length=16, choices=Relation.choices)
    id_number = EncryptedTextField(_("ID number"), blank=True)
    id_number_index = models.CharField(_("ID number index"), max_length=64, blank=True, editable=False)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birthday_calendar = models.CharField(
        _("birthday kept in"), max_length=8, choices=BirthdayCalendar.choices, default=BirthdayCalendar.SOLAR
    )
    lunar_birth_month = models.PositiveSmallIntegerField(
        _("lunar birth month"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    lunar_birth_day = models.PositiveSmallIntegerField(
        _("lunar birth day"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    phone = EncryptedTextField(_("phone"), blank=True)
    phone_index = models.CharField(_("phone index"), max_length=64, blank=True, editable=False)
    is_deceased = models.BooleanField(_("deceased"), default=False)
    death_date = models.DateField(_("date of death"), null=True, blank=True)
    disability_grade = models.PositiveSmallIntegerField(
        _("disability grade"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    disability_certificate_number = EncryptedTextField(_("disability certificate number"), blank=True)
    health_conditions = EncryptedTextField(_("health conditions"), blank=True)
    family_doctor = EncryptedTextField(_("family doctor"), max_length=100, blank=True)
    family_doctor_institution = EncryptedTextField(_("family doctor's institution"), max_length=200, blank=True)
    family_doctor_signed_on = models.DateField(_("family-doctor contract signed on"), null=True, blank=True)
    family_doctor_expires_on = models.DateField(_("family-doctor contract expires on"), null=True, blank=True)

    class Meta:
        verbose_name = _("family member")
        verbose_name_plural = _("family members")
        ordering = ["family", "relation", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["id_number_index"],
                condition=Q(is_deceased=False) & ~Q(id_number_index=""),
                name="member_unique_id_number_living",
            ),
            models.CheckConstraint(
                condition=Q(death_date__isnull=True) | Q(is_deceased=True), name="member_death_date_only_if_deceased"
            ),
            models.CheckConstraint(
                condition=Q(disability_grade__isnull=True) | Q(disability_grade__gte=1, disability_grade__lte=4),
                name="member_disability_grade_1_to_4",
            ),
        ]
        indexes = [
            models.Index(fields=["name"], name="member_name"),
            models.Index(fields=["birth_date"], name="member_birth_date"),
            # Blind indexes are only ever compared for equality: a plain b-tree each, not the extra
            # pattern (LIKE) index db_index=True adds to a CharField on PostgreSQL.
            models.Index(fields=["id_number_index"], name="member_id_number_index"),
            models.Index(fields=["phone_index"], name="member_phone_index"),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_relation_display()})"

    @property
    def masked_id_number(self):
        return mask_id_number(self.id_number)

    @property
    def masked_phone(self):
        return mask_phone(self.phone)

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.id_number:
            try:
                info = parse_id_number(self.id_number)
            except ValidationError as exc:
                raise ValidationError({"id_number": exc.messages}) from exc
            if self.birth_date and self.birth_date != info.birth_date:
                raise ValidationError({"birth_date": _("The birth date differs from the one in the ID number.")})
        if self.death_date and not self.is_deceased:
            raise ValidationError({"death_date": _("Only a deceased member has a date of death.")})
        if self.birthday_calendar == self.BirthdayCalendar.LUNAR and not (self.lunar_birth_month and self.lunar_birth_day):
            raise ValidationError({"lunar_birth_month": _("A lunar birthday needs its lunar month and day.")})

    def fill_derived(self):
        """The columns kept from the others: pinyin, blind indexes, birth date and sex (a bulk write,
        which bypasses ``save()``, calls this itself)."""
        self.name = self.name.strip()
        self.name_pinyin = "".join(lazy_pinyin(self.name)).lower()
        self.name_initials = "".join(lazy_pinyin(self.name, style=Style.FIRST_LETTER)).lower()
        self.id_number = normalize_id_number(self.id_number)
        if self.id_number:
            info = parse_id_number(self.id_number)
            self.birth_date, self.sex = info.birth_date, info.sex
        self.id_number_index = blind_index(self.id_number, "id_number")
        self.phone = (self.phone or "").strip()
        self.phone_index = blind_index(self.phone, "phone")

    def save(self, *args, **kwargs):
        self.fill_derived()
        super().save(*args, **kwargs)


class ContactAssignment(models.Model):
    """Who is responsible for a family, with history: ending an assignment never deletes it."""

    class Kind(models.TextChoices):
        TOWNSHIP_CONTACT = "township_contact", _("township contact")
        VILLAGE_CONTACT = "village_contact", _("village contact")
        SOCIAL_WORKER = "social_worker", _("social worker")
        ASSOCIATION_MEMBER = "association_member", _("association member")

    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(USER, verbose_name=_("staff member"), on_delete=models.PROTECT, related_name="assignments")
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    started_on = models.DateField(_("started on"), default=timezone.localdate)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=200, blank=True)
    assigned_by = models.ForeignKey(
        USER, verbose_name=_("assigned by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("contact assignment")
        verbose_name_plural = _("contact assignments")
        ordering = ["family", "kind", "-started_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["family", "kind"], condition=Q(ended_on__isnull=True), name="assignment_one_active_per_kind"
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="assignment_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["user", "ended_on"], name="assignment_caseload")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.user}"


class CheckIn(TrackedModel):
    """One contact with a family (联系记录): how it happened and what was found."""

    class Channel(models.TextChoices):
        HOME_VISIT = "home_visit", _("home visit")
        PHONE = "phone", _("phone call")
        SMS = "sms", _("SMS")
        WECHAT_VIDEO = "wechat_video", _("WeChat video")
        ACTIVITY = "activity", _("at an activity")
        CLINIC = "clinic", _("at a clinic")

    class PhysicalState(models.TextChoices):
        GOOD = "good", _("good")
        FAIR = "fair", _("fair")
        POOR = "poor", _("poor")
        CRITICAL = "critical", _("critical")

    class MentalState(models.TextChoices):
        STABLE = "stable", _("stable")
        LOW = "low", _("low mood")
        ANXIOUS = "anxious", _("anxious")
        DEPRESSED = "depressed", _("depressed")
        CRISIS = "crisis", _("in crisis")

    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="checkins",
                               db_index=False)  # checkin_family_time leads with the family
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    recorded_by = models.ForeignKey(USER, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="checkins")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    physical_state = models.CharField(_("physical state"), max_length=16, choices=PhysicalState.choices, blank=True)
    mental_state = models.CharField(_("mental state"), max_length=16, choices=MentalState.choices, blank=True)
    mental_notes = EncryptedTextField(_("mental-state notes"), blank=True)
    difficulties = EncryptedTextField(_("difficulties"), blank=True)
    needs = EncryptedTextField(_("needs and requests"), blank=True)
    help_given = EncryptedTextField(_("help given"), blank=True)
    follow_up = EncryptedTextField(_("follow-up"), blank=True)
    follow_up_due = models.DateField(_("follow-up due"), null=True, blank=True)

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["family", "-occurred_at"], name="checkin_family_time")]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d} {self.get_channel_display()}"


class AssessmentScale(models.Model):
    """A configurable psychological scale: score bands map to a risk level."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    max_score = models.PositiveIntegerField(_("maximum score"))
    # [[min_score, "risk level"], ...] in ascending order of min_score.
    bands = models.JSONField(_("score bands"), default=list)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("assessment scale")
        verbose_name_plural = _("assessment scales")
        ordering = ["code"]

    def __str__(self):
        return self.name

    def risk_for(self, score):
        level = RiskLevel.GREEN
        for minimum, band_level in self.bands:
            if score >= minimum:
                level = band_level
        return level


class Assessment(TrackedModel):
    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="assessments")
    member = models.ForeignKey(
        FamilyMember, verbose_name=_("member"), null=True, blank=True, on_delete=models.SET_NULL, related_name="assessments"
    )
    scale = models.ForeignKey(AssessmentScale, verbose_name=_("scale"), on_delete=models.PROTECT, related_name="assessments")
    score = models.PositiveIntegerField(_("score"))
    resulting_risk = models.CharField(_("resulting risk level"), max_length=8, choices=RiskLevel.choices)
    notes = EncryptedTextField(_("notes"), blank=True)
    assessed_by = models.ForeignKey(USER, verbose_name=_("assessed by"), on_delete=models.PROTECT, related_name="+")
    assessed_at = models.DateTimeField(_("assessed at"), default=timezone.now)

    class Meta:
        verbose_name = _("psychological assessment")
        verbose_name_plural = _("psychological assessments")
        ordering = ["-assessed_at", "-id"]

    def __str__(self):
        # The score is health data: a name shown in titles, links and choices never carries it.
        return f"{self.scale} {timezone.localtime(self.assessed_at):%Y-%m-%d}"


class CarePlan(TrackedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        ACTIVE = "active", _("active")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")

    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="care_plans")
    title = models.CharField(_("title"), max_length=200)
    summary = EncryptedTextField(_("summary"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    owner = models.ForeignKey(USER, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="care_plans")
    starts_on = models.DateField(_("starts on"), default=timezone.localdate)
    review_on = models.DateField(_("review on"), null=True, blank=True)

    class Meta:
        verbose_name = _("care plan")
        verbose_name_plural = _("care plans")
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(review_on__isnull=True) | Q(review_on__gte=models.F("starts_on")),
                name="careplan_review_after_start",
            ),
        ]

    def __str__(self):
        return self.title


class CarePlanGoal(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        MET = "met", _("met")
        DROPPED = "dropped", _("dropped")

    plan = models.ForeignKey(CarePlan, verbose_name=_("care plan"), on_delete=models.CASCADE, related_name="goals")
    description = EncryptedTextField(_("goal"), max_length=300)
    target_date = models.DateField(_("target date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)

    class Meta:
        verbose_name = _("care-plan goal")
        verbose_name_plural = _("care-plan goals")

    def __str__(self):
        # The description is case notes (the privacy policy's NOTES); a name is shown to everyone.
        return _("goal %(number)s of %(plan)s") % {"number": self.pk, "plan": self.plan}


class CareTask(models.Model):
    """A dated piece of work for a family: a plan task, a follow-up, an anniversary or festival visit."""

    class Kind(models.TextChoices):
        PLAN = "plan", _("care-plan task")
        FOLLOW_UP = "follow_up", _("follow-up")
        ANNIVERSARY = "anniversary", _("death anniversary visit")
        FESTIVAL = "festival", _("festival visit")
        BIRTHDAY = "birthday", _("birthday visit")
        REVIEW = "review", _("annual review")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("done")
        CANCELLED = "cancelled", _("cancelled")

    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="tasks")
    plan = models.ForeignKey(
        CarePlan, verbose_name=_("care plan"), null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    goal = models.ForeignKey(
        CarePlanGoal, verbose_name=_("goal"), null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.PLAN)
    description = models.CharField(_("description"), max_length=300)
    assignee = models.ForeignKey(
        USER, verbose_name=_("assignee"), null=True, blank=True, on_delete=models.SET_NULL, related_name="care_tasks"
    )
    due_on = models.DateField(_("due on"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    # Scheduled tasks carry a key (e.g. "anniversary:42:2026") so a rerun never creates a second one.
    dedup_key = models.CharField(_("deduplication key"), max_length=120, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("care task")
        verbose_name_plural = _("care tasks")
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["assignee", "status", "due_on"], name="caretask_worklist")]

    def __str__(self):
        return self.description


class AssistanceRate(models.Model):
    """Dated monthly rate of special assistance per person, configurable per region subtree."""

    region = models.ForeignKey(
        Region,
        verbose_name=_("region"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty for the national rate; otherwise applies to the region and everything below it."),
    )
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    residence = models.CharField(_("residence"), max_length=8, choices=Residence.choices)
    monthly_amount = models.DecimalField(_("monthly amount (CNY)"), max_digits=10, decimal_places=2)
    effective_from = models.DateField(_("effective from"))

    class Meta:
        verbose_name = _("special-assistance rate")
        verbose_name_plural = _("special-assistance rates")
        ordering = ["region__code", "category", "residence", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["region", "category", "residence", "effective_from"], name="assistance_rate_unique"),
            models.CheckConstraint(condition=Q(monthly_amount__gte=0), name="assistance_rate_not_negative"),
        ]

    def __str__(self):
        return f"{self.get_category_display()} {self.get_residence_display()} {self.monthly_amount}"


class AssistanceEnrollment(TrackedModel):
    """A person's enrolment in special assistance (特别扶助)."""

    class Status(models.TextChoices):
        APPLIED = "applied", _("applied")
        APPROVED = "approved", _("approved")
        SUSPENDED = "suspended", _("suspended")
        ENDED = "ended", _("ended")

    class EndReason(models.TextChoices):
        DEATH = "death", _("death")
        NEW_CHILD = "new_child", _("a new child was born")
        ADOPTION = "adoption", _("a child was adopted")
        MOVED = "moved", _("moved away")
        OTHER = "other", _("other")

    member = models.ForeignKey(FamilyMember, verbose_name=_("beneficiary"), on_delete=models.PROTECT, related_name="enrollments")
    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="enrollments")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.APPLIED)
    applied_on = models.DateField(_("applied on"), default=timezone.localdate)
    approved_on = models.DateField(_("approved on"), null=True, blank=True)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=16, choices=EndReason.choices, blank=True)
    bank_name = models.CharField(_("bank"), max_length=100, blank=True)
    bank_account = EncryptedTextField(_("bank account"), blank=True)

    class Meta:
        verbose_name = _("special-assistance enrolment")
        verbose_name_plural = _("special-assistance enrolments")
        ordering = ["-applied_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member"], condition=~Q(status="ended"), name="enrollment_one_open_per_member"),
            models.CheckConstraint(
                condition=Q(status="ended", ended_on__isnull=False) | ~Q(status="ended"),
                name="enrollment_ended_has_date",
            ),
        ]

    def __str__(self):
        return f"{self.member.name} {self.get_status_display()}"


class AnnualReview(TrackedModel):
    """The yearly eligibility confirmation (年审): application, village review, county confirmation."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        APPLIED = "applied", _("applied")
        VILLAGE_REVIEWED = "village_reviewed", _("reviewed by village")
        CONFIRMED = "confirmed", _("confirmed by county")
        REJECTED = "rejected", _("not eligible")

    enrollment = models.ForeignKey(
        AssistanceEnrollment, verbose_name=_("enrolment"), on_delete=models.CASCADE, related_name="reviews"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    applied_on = models.DateField(_("applied on"), null=True, blank=True)
    village_reviewed_on = models.DateField(_("village review on"), null=True, blank=True)
    confirmed_on = models.DateField(_("county confirmation on"), null=True, blank=True)
    reviewer = models.ForeignKey(
        USER, verbose_name=_("reviewer"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = EncryptedTextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("annual review")
        verbose_name_plural = _("annual reviews")
        ordering = ["-year", "enrollment"]
        constraints = [models.UniqueConstraint(fields=["enrollment", "year"], name="review_one_per_year")]

    def __str__(self):
        return f"{self.year} {self.get_status_display()}"


class ConsentRecord(models.Model):
    """Consent for one purpose (PIPL art. 29: separate consent for sensitive data)."""

    class Purpose(models.TextChoices):
        CASE_MANAGEMENT = "case_management", _("case management")
        CONTACT_SMS = "contact_sms", _("contact by SMS")
        CONTACT_WECHAT = "contact_wechat", _("contact by WeChat")
        CONTACT_PHONE = "contact_phone", _("contact by phone")
        HEALTH_DATA = "health_data", _("processing health data")
        INSURANCE = "insurance", _("sharing with insurers")
        STATISTICS = "statistics", _("statistics and reporting")
        PUBLIC_POSTING = "public_posting", _("public posting of the assistance list")
        PHOTOS = "photos", _("photos at activities")

    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="consents")
    member = models.ForeignKey(
        FamilyMember, verbose_name=_("member"), null=True, blank=True, on_delete=models.CASCADE, related_name="consents"
    )
    purpose = models.CharField(_("purpose"), max_length=24, choices=Purpose.choices)
    scope = models.CharField(_("scope"), max_length=300, blank=True)
    given = models.BooleanField(_("given"), default=True)
    recorded_by = models.ForeignKey(
        USER, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    evidence = models.CharField(_("evidence"), max_length=300, blank=True, help_text=_("e.g. signed form number"))

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["family", "purpose"], name="consent_family_purpose")]

    def __str__(self):
        return f"{self.get_purpose_display()}: {_('given') if self.is_effective else _('not given')}"

    @property
    def is_effective(self):
        return self.given and self.withdrawn_at is None


class FamilyTransfer(models.Model):
    """Moving a family to another region: the receiving region's manager accepts or rejects."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("requested")
        ACCEPTED = "accepted", _("accepted")
        REJECTED = "rejected", _("rejected")
        CANCELLED = "cancelled", _("cancelled")

    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="transfers")
    from_region = models.ForeignKey(Region, verbose_name=_("from region"), on_delete=models.PROTECT, related_name="+")
    to_region = models.ForeignKey(Region, verbose_name=_("to region"), on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.REQUESTED)
    reason = models.CharField(_("reason"), max_length=300)
    requested_by = models.ForeignKey(USER, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    decided_by = models.ForeignKey(
        USER, verbose_name=_("decided by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("family transfer")
        verbose_name_plural = _("family transfers")
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(fields=["family"], condition=Q(status="requested"), name="transfer_one_open_per_family"),
        ]

    def __str__(self):
        return f"{self.from_region} → {self.to_region}"
