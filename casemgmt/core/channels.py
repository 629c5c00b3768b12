"""Delivery channels besides the in-app inbox: email through Django's email backend and SMS through
a small pluggable backend.

An SMS provider adapter implements ``SMSBackend.send``; ``settings.SMS_BACKEND`` names the class.
The default backend only logs, so a laptop or a test never texts anyone by accident.
"""
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SMSBackend:
    """What a provider adapter implements. ``send`` raises on failure; the caller retries later."""

    def send(self, *, phone, text):
        raise NotImplementedError


class LoggingSMSBackend(SMSBackend):
    """Writes the message to the log instead of sending it (the default)."""

    def send(self, *, phone, text):
        # The number is masked: logs are not a place for personal data.
        logger.info("SMS to %s***%s: %s", phone[:3], phone[-2:], text)


def get_sms_backend():
    return import_string(getattr(settings, "SMS_BACKEND", "casemgmt.core.channels.LoggingSMSBackend"))()


def send_email_message(*, address, subject, body):
    send_mail(subject, body, None, [address], fail_silently=False)


def send_sms_message(*, phone, text):
    get_sms_backend().send(phone=phone, text=text)
