"""Cross-cutting records: the region tree, users with their role and reach, audit and notifications."""

import datetime

import pgtrigger
from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .idcard import mask_phone


class TrackedModel(models.Model):
    """Creation and change times plus a version number for optimistic concurrency control."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        abstract = True


class Region(models.Model):
    """One node of province → city → county → township → village.

    ``code`` is the 12-digit statistical division code (GB/T 2260 codes are padded with zeros);
    ``path`` is its significant prefix (2, 4, 6, 9 or 12 digits), so a subtree is one indexed
    ``path LIKE 'prefix%'`` condition instead of a recursive walk.
    """

    class Level(models.IntegerChoices):
        PROVINCE = 1, _("province")
        CITY = 2, _("city")
        COUNTY = 3, _("county")
        TOWNSHIP = 4, _("township")
        VILLAGE = 5, _("village")

    PATH_LENGTH = {Level.PROVINCE: 2, Level.CITY: 4, Level.COUNTY: 6, Level.TOWNSHIP: 9, Level.VILLAGE: 12}

    code = models.CharField(_("division code"), max_length=12, unique=True)
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=100)
    full_name = models.CharField(_("full name"), max_length=300, blank=True)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent region"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(_("path"), max_length=12, editable=False)
    urban_rural_code = models.CharField(
        _("urban-rural classification code"),
        max_length=3,
        blank=True,
        help_text=_("Statistical urban-rural code of a village (111–122 urban, 210–220 rural)."),
    )
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["path"], name="region_path_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["parent", "name"], name="region_parent_name"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{12}$"), name="region_code_12_digits"),
        ]

    def __str__(self):
        return self.full_name or self.name

    def save(self, *args, **kwargs):
        self.code = self.normalize_code(self.code)
        self.path = self.path_for(self.code, self.level)
        super().save(*args, **kwargs)

    @classmethod
    def path_for(cls, code, level):
        return code[: cls.PATH_LENGTH[level]]

    @classmethod
    def normalize_code(cls, code):
        code = (code or "").strip()
        return code.ljust(12, "0") if code.isdigit() and len(code) <= 12 else code

    @property
    def is_rural(self):
        return self.urban_rural_code.startswith("2")

    def contains(self, other_path):
        return bool(other_path) and other_path.startswith(self.path)


class Role(models.TextChoices):
    ADMIN = "admin", _("system administrator")
    REGION_MANAGER = "region_manager", _("region manager")
    SOCIAL_WORKER = "social_worker", _("social worker")
    CONTACT_PERSON = "contact_person", _("contact person")
    VOLUNTEER_COORDINATOR = "volunteer_coordinator", _("volunteer coordinator")
    VOLUNTEER = "volunteer", _("volunteer")
    AUDITOR = "auditor", _("auditor")


class User(AbstractUser):
    """A person who signs in. Their reach is the subtree under ``region`` (the whole country if empty
    and they are an administrator); caseload roles see only the families assigned to them."""

    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.CONTACT_PERSON)
    region = models.ForeignKey(
        Region,
        verbose_name=_("region of responsibility"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=Q(region__isnull=False) | Q(role="admin") | Q(is_superuser=True),
                name="user_region_required_unless_admin",
            ),
        ]

    def __str__(self):
        return self.display_name or self.get_full_name() or self.username

    @property
    def reach_path(self):
        """The region prefix this user may see; '' means the whole country."""
        if self.region_id is None:
            return ""
        return self.region.path

    @property
    def masked_phone(self):
        return mask_phone(self.phone)


class AuditEvent(models.Model):
    """Who did or saw what, when and from where. Rows are only ever added."""

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        # The trail is append-only (a database trigger refuses updates), so deleting a user must not
        # touch it: the actor's id stays, without a foreign-key constraint to enforce.
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,  # audit_actor_at serves a look-up by actor
    )
    actor_role = models.CharField(_("actor role"), max_length=32, blank=True)
    event = models.CharField(_("event"), max_length=100)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_ids = models.JSONField(_("object ids"), default=list, blank=True)
    family_id = models.BigIntegerField(_("family id"), null=True, blank=True, db_index=True)
    region_path = models.CharField(_("region path"), max_length=12, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        # Every API read writes a row: each index is one more insert on the hottest paths. One per
        # question an auditor asks (by time, actor, family, region, event name or its beginning).
        indexes = [
            models.Index(fields=["actor", "-at"], name="audit_actor_at"),
            models.Index(fields=["region_path"], name="audit_region_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["event"], name="audit_event_prefix", opclasses=["varchar_pattern_ops"]),
        ]
        # Append-only in the database itself, against the schema's owner too (the application's role
        # may not even try: casemgmt.core.dbroles). A DELETE passes only inside the purge's own
        # transaction (casemgmt.security.services.audit_purge sets casemgmt.audit_purge) and only for
        # rows older than three years. Not pgtrigger.Protect: a trigger's WHEN cannot tell a DELETE
        # from an UPDATE, and the refusal should say "insufficient privilege" as the role's does.
        triggers = [
            pgtrigger.Trigger(
                name="append_only",
                when=pgtrigger.Before,
                operation=pgtrigger.Update | pgtrigger.Delete,
                func="""IF TG_OP = 'DELETE' AND current_setting('casemgmt.audit_purge', true) = 'on'
   AND OLD."at" < now() - interval '3 years' THEN
    RETURN OLD;
END IF;
RAISE EXCEPTION 'core_auditevent is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';""",
            ),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.event}"


class Notification(models.Model):
    """A message for one user: shown in the in-app inbox and sent on their chosen channels.

    ``dedup_key`` is unique in the database, so the same reminder is never stored twice.
    """

    class Level(models.TextChoices):
        INFO = "info", _("information")
        REMINDER = "reminder", _("reminder")
        WARNING = "warning", _("warning")
        ESCALATION = "escalation", _("escalation")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,  # notification_inbox leads with the recipient
    )
    kind = models.CharField(_("kind"), max_length=64)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices, default=Level.INFO)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True)
    family = models.ForeignKey(
        "families.Family",
        verbose_name=_("family"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    dedup_key = models.CharField(_("deduplication key"), max_length=200)  # unique: notification_once
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at", "-created_at"], name="notification_inbox")]
        # A constraint rather than unique=True: the same index for ON CONFLICT, without the pattern
        # index unique=True adds on PostgreSQL, which nothing uses and every sweep pays to write.
        constraints = [models.UniqueConstraint(fields=["dedup_key"], name="notification_once")]

    def __str__(self):
        return self.title


class NotificationPreference(models.Model):
    """How one user wants to be told: channels besides the in-app inbox, and hours without SMS."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="notification_preference"
    )
    email = models.BooleanField(_("by email"), default=True)
    sms = models.BooleanField(_("by SMS"), default=True)
    quiet_start = models.TimeField(_("quiet hours start"), default=datetime.time(21, 0))
    quiet_end = models.TimeField(_("quiet hours end"), default=datetime.time(8, 0))

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self):
        return str(self.user)


class Delivery(models.Model):
    """The outbox: one row per notification and channel, unique, so a message is sent once.

    ``due_at`` holds deferred work (quiet hours, the daily digest time) in the database instead of
    a long ETA in the broker; a sender claims rows with one conditional UPDATE before sending.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("email")
        SMS = "sms", _("SMS")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    # Both keys lead an index below (delivery_once_per_channel, delivery_recipient): no index of their own.
    notification = models.ForeignKey(
        Notification, verbose_name=_("notification"), on_delete=models.CASCADE, related_name="deliveries",
        db_index=False,
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="+",
        db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField(_("due at"), default=timezone.now)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # The id of the attempt that carries this row (one message may carry a day's digest): written before
    # the provider is called and handed to it as the idempotency key, and kept until the row is sent
    # or given up, so a retry or a reconciliation sends the same message under the same key.
    claim_token = models.CharField(_("attempt key"), max_length=32, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="delivery_once_per_channel"),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="delivery_due"),
            models.Index(fields=["recipient", "channel", "status"], name="delivery_recipient"),
            models.Index(fields=["claim_token"], name="delivery_claim"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} → {self.recipient_id}: {self.get_status_display()}"


class JobRun(models.Model):
    """The ledger of scheduled work: which period (a day, month or year) of which job is done for which
    region. The unique key makes a run happen once however many beats, catch-ups and redelivered
    messages ask for it; a row not done yet is what the catch-up (``casemgmt.core.jobs``) sends again.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", _("pending")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    job = models.CharField(_("job"), max_length=64)
    period = models.CharField(pgettext_lazy("schedule", "period"), max_length=10,
                              help_text=_("Day (YYYY-MM-DD), month (YYYY-MM) or year."))
    region_path = models.CharField(_("region path"), max_length=12, blank=True, help_text=_("Empty: country-wide."))
    due_at = models.DateTimeField(_("due at"))
    outcome = models.CharField(pgettext_lazy("job", "outcome"), max_length=8, choices=Outcome.choices,
                               default=Outcome.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    enqueued_at = models.DateTimeField(_("last enqueued at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("scheduled job run")
        verbose_name_plural = _("scheduled job runs")
        ordering = ["-due_at", "job", "region_path"]
        constraints = [
            models.UniqueConstraint(fields=["job", "period", "region_path"], name="jobrun_once"),
        ]

    def __str__(self):
        return f"{self.job} {self.period} {self.region_path or '*'}: {self.get_outcome_display()}"


class KeyFingerprint(models.Model):
    """Which keys the encrypted data in this database needs: a digest of each field-encryption key and
    of the blind-index key, never the keys. The one row lets web, worker and commands refuse to start
    with keys that cannot read the data (a backup restored without its key file, a fresh ``var/``)
    instead of writing under new keys next to rows nobody can decrypt (``casemgmt.core.keys``)."""

    id = models.PositiveSmallIntegerField(_("row"), primary_key=True, default=1, editable=False)
    encryption = models.JSONField(_("encryption key fingerprints"), default=list)
    blind_index = models.CharField(_("blind-index key fingerprint"), max_length=64)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("key fingerprint")
        verbose_name_plural = _("key fingerprints")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="keyfingerprint_single_row")]

    def __str__(self):
        return f"keys {', '.join(f[:12] for f in self.encryption)} / {self.blind_index[:12]}"
