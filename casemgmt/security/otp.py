"""The second factor of a sign-in: one authenticator (TOTP) per user, plus recovery codes.

Every user but a volunteer without staff rights needs one (``second_factor_required``). A user has
a single authenticator, so the sign-in form asks for a code without asking which device: the code
is tried on the authenticator, and, when it looks like a recovery code, on those (each works once).
"""
import datetime
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from casemgmt.core import privacy
from casemgmt.core.audit import audit_log

RECOVERY_CODE_COUNT = 10
RECOVERY_DEVICE_NAME = "recovery codes"
# Recovery codes: ten characters a person copies without confusion (no 0/o, 1/l/i).
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def second_factor_required(user):
    """Whether ``user`` signs in with a second factor: the privacy policy says."""
    return privacy.needs_second_factor(user)


def may_self_enrol(user, now=None):
    """Whether ``user``'s password alone may enrol an authenticator: a new account before its first
    sign-in, or one an administrator opened enrolment for (``enrolment_window_open``)."""
    from .models import EnrolmentWindow

    now = now or timezone.now()
    if user.last_login is None and user.date_joined >= now - datetime.timedelta(days=settings.SELF_ENROL_DAYS):
        return True
    return EnrolmentWindow.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now).exists()


def enrolment_window_open(*, actor, user, reason, ip=None):
    """Let ``user`` enrol a new authenticator with their password for a while (a lost phone, an
    account that signed in before second factors were required). Their current authenticator and
    recovery codes stop working at once."""
    from .models import EnrolmentWindow

    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": _("Say why this user enrols a new authenticator.")})
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        window = EnrolmentWindow.objects.create(
            user=user, opened_by=actor, reason=reason[:300],
            expires_at=timezone.now() + datetime.timedelta(hours=settings.ENROLMENT_WINDOW_HOURS))
        audit_log(actor=actor, event="auth.enrolment_opened", obj=user, region_path=user.reach_path or None, ip=ip,
                  reason=window.reason, after={"expires_at": window.expires_at.isoformat()})
    return window


def authenticator_of(user):
    """The user's confirmed authenticator, or None (not enrolled yet)."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("id").first()


def _normalised(code):
    return "".join((code or "").split()).replace("-", "").lower()


def code_verify(*, user, code):
    """The device that accepts ``code`` (the authenticator, else a recovery code, which is then
    spent), or None. Throttling of each device (django-otp) applies."""
    code = _normalised(code)
    if not code or len(code) > 16:
        return None
    with transaction.atomic():
        if code.isdigit():
            for device in TOTPDevice.objects.devices_for_user(user, confirmed=True).select_for_update():
                if device.verify_token(code):
                    return device
        for device in StaticDevice.objects.devices_for_user(user, confirmed=True).select_for_update():
            if device.verify_token(code):
                return device
    return None


def code_failed_log(*, user, request, where, reason="invalid"):
    """The audit row of a wrong or replayed code after a right password: the pattern auditors look
    for after a password leaked. In the user's region, so that their region's auditors see it."""
    from .network import client_ip

    audit_log(actor=user, event="auth.otp_failed", obj=user, region_path=user.reach_path or None,
              ip=client_ip(request), after={"code": reason, "where": where})


def enrolment_refused_log(*, user, request):
    """The audit row of a right password for an account that may not enrol an authenticator alone:
    someone holds the password of an account without a second factor."""
    from .network import client_ip

    audit_log(actor=user, event="auth.enrolment_refused", obj=user, region_path=user.reach_path or None,
              ip=client_ip(request) if request is not None else None)


def enrolment_device(user):
    """The authenticator being enrolled: an unconfirmed TOTP device, kept until it is confirmed so
    that a reload shows the same QR code."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-id").first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def enrolment_confirm(*, user, device, code, ip=None):
    """Confirm ``device`` with a code it shows; it becomes the user's one authenticator (an open
    enrolment window is used up). Returns the recovery codes made alongside (shown once), or None
    when the code is wrong."""
    from .models import EnrolmentWindow

    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
        if not device.verify_token(_normalised(code)):
            return None
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        EnrolmentWindow.objects.filter(user=user, used_at__isnull=True).update(used_at=timezone.now())
        audit_log(actor=user, event="auth.otp_enrolled", obj=user, region_path=user.reach_path or None, ip=ip)
        codes = recovery_codes_create(user=user, ip=ip)
    user.otp_device = device
    return codes


def recovery_codes_create(*, user, ip=None):
    """A fresh set of recovery codes for ``user`` (the old ones stop working); returns them."""
    codes = ["".join(secrets.choice(_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODE_COUNT)]
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
        audit_log(actor=user, event="auth.recovery_codes.created", obj=user, region_path=user.reach_path or None,
                  ip=ip, after={"count": len(codes)})
    return codes


def recovery_codes_left(user):
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def display_code(code):
    """A recovery code as shown: two groups of five."""
    return f"{code[:5]}-{code[5:]}"
