"""Records of the security app: emergency (break-the-glass) access grants, messages sent to
families, anonymisations done and authenticator enrolment windows."""
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casemgmt.core.crypto import EncryptedTextField

USER = settings.AUTH_USER_MODEL


class BreakGlassGrantQuerySet(models.QuerySet):
    def live(self, now=None):
        return self.filter(status=BreakGlassGrant.Status.APPROVED, revoked_at__isnull=True,
                           expires_at__gt=now or timezone.now())


class BreakGlassGrant(models.Model):
    """Read access to one family outside the user's reach, given for a stated emergency and for a
    few hours only. ``reach.restrict`` admits the family while the grant is live.

    A user opens a few a day alone (``BREAK_GLASS_DAILY_CAP``); beyond them a grant is a pending
    request until a region manager over the family approves it (its hours run from then) or denies it."""

    class Status(models.TextChoices):
        APPROVED = "approved", _("approved")
        PENDING = "pending", _("awaiting approval")
        DENIED = "denied", _("denied")

    user = models.ForeignKey(USER, verbose_name=_("user"), on_delete=models.PROTECT, related_name="break_glass_grants")
    family = models.ForeignKey(
        "families.Family", verbose_name=_("family"), on_delete=models.CASCADE, related_name="break_glass_grants"
    )
    reason = models.CharField(_("reason"), max_length=500)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.APPROVED)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    hours = models.PositiveSmallIntegerField(_("hours"), default=4)
    # Now, unless the grant waits for approval (then empty until approved).
    granted_at = models.DateTimeField(_("granted at"), null=True, blank=True, default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        USER, verbose_name=_("decided by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        USER, verbose_name=_("revoked by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = BreakGlassGrantQuerySet.as_manager()

    class Meta:
        verbose_name = _("break-the-glass grant")
        verbose_name_plural = _("break-the-glass grants")
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["user", "expires_at"], name="breakglass_user_expiry"),
            models.Index(fields=["user", "requested_at"], name="breakglass_user_requested"),
        ]
        constraints = [
            # An approved grant has its window; a request not (yet) approved has none.
            models.CheckConstraint(
                condition=(Q(status="approved", granted_at__isnull=False, expires_at__gt=F("granted_at"))
                           | (Q(status__in=("pending", "denied"), granted_at__isnull=True, expires_at__isnull=True))),
                name="breakglass_window_when_approved"),
            models.CheckConstraint(condition=~Q(reason=""), name="breakglass_reason_required"),
            # One open request per user and family: asking again does not ask the manager twice.
            models.UniqueConstraint(fields=["user", "family"], condition=Q(status="pending"),
                                    name="breakglass_one_pending_request"),
        ]

    def __str__(self):
        return f"{self.user} → {self.family} ({timezone.localtime(self.requested_at):%Y-%m-%d %H:%M})"

    @property
    def is_live(self):
        return (self.status == self.Status.APPROVED and self.revoked_at is None and self.expires_at is not None
                and self.expires_at > timezone.now())


class FamilyMessage(models.Model):
    """Every attempt to send an SMS or WeChat-style message to a family: sent, or refused because
    the family (or the member) has not consented to that channel."""

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        WECHAT = "wechat", _("WeChat")

    class Status(models.TextChoices):
        SENT = "sent", _("sent")
        REFUSED = "refused", _("refused: no consent")
        FAILED = "failed", _("failed")

    family = models.ForeignKey("families.Family", verbose_name=_("family"), on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(
        "families.FamilyMember", verbose_name=_("member"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices)
    text = EncryptedTextField(_("text"), blank=True)
    sent_by = models.ForeignKey(USER, verbose_name=_("sent by"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("message to a family")
        verbose_name_plural = _("messages to families")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_channel_display()} → {self.family}: {self.get_status_display()}"


class Anonymisation(models.Model):
    """A family whose retention ended and whose personal data was replaced by placeholders."""

    family = models.OneToOneField("families.Family", verbose_name=_("family"), on_delete=models.CASCADE,
                                  related_name="anonymisation")
    done_at = models.DateTimeField(_("done at"), default=timezone.now)
    done_by = models.ForeignKey(USER, verbose_name=_("done by"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    reason = models.CharField(_("reason"), max_length=300)

    class Meta:
        verbose_name = _("anonymisation")
        verbose_name_plural = _("anonymisations")
        ordering = ["-done_at"]

    def __str__(self):
        return f"{self.family} {self.done_at:%Y-%m-%d}"


class EnrolmentWindow(models.Model):
    """An administrator's leave for ``user`` to enrol a (new) authenticator with their password alone,
    until ``expires_at`` and once. Without one, only a new account that has never signed in may: a
    password that leaked must not let a stranger put their own phone on someone's account."""

    user = models.ForeignKey(USER, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+")
    opened_by = models.ForeignKey(USER, verbose_name=_("opened by"), null=True, on_delete=models.SET_NULL,
                                  related_name="+")
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300)

    class Meta:
        verbose_name = _("authenticator enrolment")
        verbose_name_plural = _("authenticator enrolments")
        ordering = ["-opened_at"]

    def __str__(self):
        return _("enrolment of %(user)s") % {"user": self.user}
