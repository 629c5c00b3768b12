"""Volunteers, their teams, skills and training, pairings with families and service hours."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from pypinyin import Style, lazy_pinyin

from casemgmt.core.crypto import EncryptedTextField, blind_index
from casemgmt.core.idcard import mask_phone, normalize_id_number, parse_id_number
from casemgmt.core.models import Region, TrackedModel

USER = settings.AUTH_USER_MODEL


def new_qr_token():
    return secrets.token_urlsafe(16)


class Skill(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=100)
    is_professional = models.BooleanField(
        _("professional"), default=False, help_text=_("Needs a professional qualification, e.g. psychologist, doctor, lawyer.")
    )

    class Meta:
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Team(models.Model):
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=100)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="+")
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("volunteer team")
        verbose_name_plural = _("volunteer teams")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["region", "name"], name="team_unique_name_in_region")]

    def __str__(self):
        return self.name


class Volunteer(TrackedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        INACTIVE = "inactive", _("inactive")
        SUSPENDED = "suspended", _("suspended")

    name = models.CharField(_("name"), max_length=50)
    name_initials = models.CharField(_("pinyin initials"), max_length=50, editable=False, db_index=True)
    id_number = EncryptedTextField(_("ID number"), blank=True)
    id_number_index = models.CharField(_("ID number index"), max_length=64, blank=True, editable=False, db_index=True)
    phone = EncryptedTextField(_("phone"), blank=True)
    phone_index = models.CharField(_("phone index"), max_length=64, blank=True, editable=False, db_index=True)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="volunteers")
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="volunteers"
    )
    skills = models.ManyToManyField(Skill, verbose_name=_("skills"), blank=True, related_name="volunteers")
    professional_title = models.CharField(
        _("professional qualification"),
        max_length=200,
        blank=True,
        help_text=_("e.g. licensed psychological counsellor, physician, lawyer"),
    )
    availability = models.CharField(_("availability"), max_length=200, blank=True, help_text=_("e.g. weekends, weekday evenings"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    joined_on = models.DateField(_("joined on"), default=timezone.localdate)
    user = models.OneToOneField(
        USER, verbose_name=_("user account"), null=True, blank=True, on_delete=models.SET_NULL, related_name="volunteer"
    )

    class Meta:
        verbose_name = _("volunteer")
        verbose_name_plural = _("volunteers")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["id_number_index"], condition=~Q(id_number_index=""), name="volunteer_unique_id_number"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def masked_phone(self):
        return mask_phone(self.phone)

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.id_number:
            try:
                parse_id_number(self.id_number)
            except ValidationError as exc:
                raise ValidationError({"id_number": exc.messages}) from exc

    def fill_derived(self):
        """The columns kept from the others: pinyin initials and blind indexes (a bulk write, which
        bypasses ``save()``, calls this itself)."""
        self.name = self.name.strip()
        self.name_initials = "".join(lazy_pinyin(self.name, style=Style.FIRST_LETTER)).lower()
        self.id_number = normalize_id_number(self.id_number)
        self.id_number_index = blind_index(self.id_number, "id_number")
        self.phone = (self.phone or "").strip()
        self.phone_index = blind_index(self.phone, "phone")

    def save(self, *args, **kwargs):
        self.fill_derived()
        super().save(*args, **kwargs)


class TrainingCourse(models.Model):
    class Programme(models.TextChoices):
        VOLUNTEER = "volunteer", _("volunteer skills training")
        YOUTH_HEALTH = "youth_health", _("youth health facilitator training (青春健康)")
        OTHER = "other", _("other training")

    title = models.CharField(_("title"), max_length=200)
    programme = models.CharField(_("programme"), max_length=16, choices=Programme.choices, default=Programme.VOLUNTEER)
    description = models.TextField(_("description"), blank=True)
    skill = models.ForeignKey(
        Skill, verbose_name=_("skill taught"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    qualification_name = models.CharField(
        _("qualification granted"), max_length=200, blank=True, help_text=_("Empty if completing the course grants nothing.")
    )
    validity_months = models.PositiveSmallIntegerField(_("qualification valid for (months)"), null=True, blank=True)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("training course")
        verbose_name_plural = _("training courses")
        ordering = ["title"]

    def __str__(self):
        return self.title


class TrainingSession(TrackedModel):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")

    course = models.ForeignKey(TrainingCourse, verbose_name=_("course"), on_delete=models.PROTECT, related_name="sessions")
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    venue = models.CharField(_("venue"), max_length=200)
    trainer = models.CharField(_("trainer"), max_length=100, blank=True)
    capacity = models.PositiveIntegerField(_("capacity"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    qr_token = models.CharField(_("QR check-in token"), max_length=32, unique=True, default=new_qr_token, editable=False)

    class Meta:
        verbose_name = _("training session")
        verbose_name_plural = _("training sessions")
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="session_ends_after_start"),
            models.CheckConstraint(condition=Q(capacity__gt=0), name="session_capacity_positive"),
        ]

    def __str__(self):
        return f"{self.course} {timezone.localtime(self.starts_at):%Y-%m-%d %H:%M}"


class Enrollment(models.Model):
    class Status(models.TextChoices):
        ENROLLED = "enrolled", _("enrolled")
        WAITLISTED = "waitlisted", _("waitlisted")
        ATTENDED = "attended", _("attended")
        NO_SHOW = "no_show", _("no-show")
        CANCELLED = "cancelled", _("cancelled")

    session = models.ForeignKey(TrainingSession, verbose_name=_("session"), on_delete=models.CASCADE, related_name="enrollments")
    volunteer = models.ForeignKey(Volunteer, verbose_name=_("volunteer"), on_delete=models.CASCADE, related_name="enrollments")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ENROLLED)
    enrolled_at = models.DateTimeField(_("enrolled at"), default=timezone.now)
    attended_at = models.DateTimeField(_("attended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        ordering = ["session", "enrolled_at", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "volunteer"], name="enrollment_once_per_session")]

    def __str__(self):
        return f"{self.volunteer}: {self.get_status_display()}"


class Qualification(models.Model):
    volunteer = models.ForeignKey(Volunteer, verbose_name=_("volunteer"), on_delete=models.CASCADE, related_name="qualifications")
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=200)
    course = models.ForeignKey(
        TrainingCourse, verbose_name=_("course"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session = models.ForeignKey(
        TrainingSession, verbose_name=_("session"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    certificate_number = models.CharField(_("certificate number"), max_length=64, blank=True)
    granted_on = models.DateField(_("granted on"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)

    class Meta:
        verbose_name = _("qualification")
        verbose_name_plural = _("qualifications")
        ordering = ["volunteer", "-granted_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gt=models.F("granted_on")),
                name="qualification_expires_after_grant",
            ),
        ]

    def __str__(self):
        return self.name


class Pairing(models.Model):
    """A volunteer paired with a family (结对帮扶)."""

    volunteer = models.ForeignKey(Volunteer, verbose_name=_("volunteer"), on_delete=models.PROTECT, related_name="pairings")
    family = models.ForeignKey("families.Family", verbose_name=_("family"), on_delete=models.CASCADE, related_name="pairings")
    started_on = models.DateField(_("started on"), default=timezone.localdate)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("pairing")
        verbose_name_plural = _("pairings")
        ordering = ["-started_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["volunteer", "family"], condition=Q(ended_on__isnull=True), name="pairing_one_active"
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")), name="pairing_ends_after_start"
            ),
        ]

    def __str__(self):
        return f"{self.volunteer} ↔ {self.family}"


class ServiceHours(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending approval")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    volunteer = models.ForeignKey(Volunteer, verbose_name=_("volunteer"), on_delete=models.CASCADE, related_name="service_hours")
    family = models.ForeignKey(
        "families.Family", verbose_name=_("family"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activity = models.ForeignKey(
        "services.Activity", verbose_name=_("activity"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    date = models.DateField(_("date"))
    hours = models.DecimalField(_("hours"), max_digits=4, decimal_places=1)
    description = models.CharField(_("description"), max_length=300)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    reviewed_by = models.ForeignKey(
        USER, verbose_name=_("reviewed by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("service hours")
        verbose_name_plural = _("service hours")
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(hours__gt=0) & Q(hours__lte=24), name="service_hours_0_to_24"),
        ]

    def __str__(self):
        return f"{self.volunteer} {self.date} {self.hours}h"
