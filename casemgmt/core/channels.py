"""Delivery channels besides the in-app inbox: email through Django's email backend and SMS through
a small pluggable backend.

An SMS provider adapter implements ``SMSBackend.send``; ``settings.SMS_BACKEND`` names the class.
The default backend only logs, so a laptop or a test never texts anyone by accident; with DEBUG off
a real one must be configured (``casemgmt.core.checks``), e.g. ``HttpSMSBackend``.
"""
import json
import logging
import urllib.request

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


class HttpSMSBackend(SMSBackend):
    """Posts each message as JSON (``{"phone": ..., "text": ...}``) to ``settings.SMS_GATEWAY_URL``
    with ``settings.SMS_GATEWAY_TOKEN`` as a bearer token: the shape of an SMS relay in front of a
    provider's signed API. Any answer but 2xx raises, so the delivery is retried."""

    def send(self, *, phone, text):
        request = urllib.request.Request(
            settings.SMS_GATEWAY_URL, data=json.dumps({"phone": phone, "text": text}).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {settings.SMS_GATEWAY_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=settings.SMS_GATEWAY_TIMEOUT) as response:
            response.read()


def get_sms_backend():
    return import_string(getattr(settings, "SMS_BACKEND", "casemgmt.core.channels.LoggingSMSBackend"))()


def send_email_message(*, address, subject, body):
    send_mail(subject, body, None, [address], fail_silently=False)


def send_sms_message(*, phone, text):
    get_sms_backend().send(phone=phone, text=text)
