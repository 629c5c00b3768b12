"""Messages to a family (SMS, WeChat): sent only with the family's consent to that channel, every
attempt recorded (``casemgmt.security.models.FamilyMessage``) and audited."""
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from casemgmt.core import reach
from casemgmt.core.audit import audit_log
from casemgmt.core.channels import send_sms_message
from casemgmt.core.errors import OutOfReachError
from casemgmt.security.models import FamilyMessage

from .consent import CHANNEL_PURPOSES, consent_allows
from .models import Family

logger = logging.getLogger(__name__)


def family_message_send(*, actor, family, member, channel, text):
    """Send an SMS or WeChat-style message to a family member — only with their consent to that
    channel. Every attempt is recorded; a refusal raises ``PermissionDenied`` after recording."""
    if not reach.restrict(Family.objects.filter(pk=family.pk), actor).exists():
        raise OutOfReachError()
    if member is not None and member.family_id != family.pk:
        raise ValidationError({"member": _("This person is not a member of the family.")})
    if channel not in CHANNEL_PURPOSES or channel == "phone":
        raise ValidationError({"channel": _("Unknown channel.")})
    allowed = consent_allows(family=family, member=member, purpose=CHANNEL_PURPOSES[channel])
    message = FamilyMessage(family=family, member=member, channel=channel, text=text, sent_by=actor,
                            status=FamilyMessage.Status.SENT if allowed else FamilyMessage.Status.REFUSED)
    with transaction.atomic():
        message.save()
        audit_log(actor=actor, event="security.family_message.sent" if allowed else "security.family_message.refused",
                  obj=message, family_id=family.pk, region_path=family.region_path,
                  after={"channel": channel, "member": member.pk if member else None})
    if not allowed:
        raise PermissionDenied(_("The family has not consented to be contacted this way."))
    phone = member.phone if member is not None else ""
    if not phone:
        phone = next((m.phone for m in family.members.filter(is_deceased=False).order_by("id") if m.phone), "")

    def send():
        try:
            if channel == FamilyMessage.Channel.SMS:
                send_sms_message(phone=phone, text=text)
            else:
                get_wechat_backend().send(phone=phone, text=text)
        except Exception as exc:  # a provider failure is recorded, not raised into the caller's page
            logger.warning("Message %s to a family failed: %s", message.pk, type(exc).__name__)
            FamilyMessage.objects.filter(pk=message.pk).update(status=FamilyMessage.Status.FAILED, error=str(exc)[:300])

    transaction.on_commit(send)
    return message


class LoggingWeChatBackend:
    """Stands for a WeChat service-account adapter; only logs (masked), like the SMS default."""

    def send(self, *, phone, text):
        logger.info("WeChat message to %s***%s (%d characters)", phone[:3], phone[-2:], len(text))


def get_wechat_backend():
    return import_string(getattr(settings, "WECHAT_BACKEND", "families.messages.LoggingWeChatBackend"))()
