"""What the web workspace itself needs to remember: calendar-feed secrets and used form keys."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CalendarFeed(models.Model):
    """A personal iCal feed. Only the SHA-256 of the secret is stored, so a leaked database does not
    leak working feed addresses; revoking sets ``revoked_at`` and the address stops answering."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(revoked_at__isnull=True), name="calendar_feed_one_active"),
        ]

    def __str__(self):
        return f"{self.user} {self.created_at:%Y-%m-%d}"


class CheckinSubmission(models.Model):
    """The idempotency key of a check-in form. The key is unique, so a form sent twice (a double tap,
    or a draft resent when the connection came back) stores one check-in."""

    key = models.UUIDField(_("form key"), unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+")
    checkin = models.OneToOneField(
        "families.CheckIn", verbose_name=_("check-in"), on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("check-in form submission")
        verbose_name_plural = _("check-in form submissions")

    def __str__(self):
        return str(self.key)
