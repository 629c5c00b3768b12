"""Delivery channels besides the in-app inbox: email through Django's email backend and SMS through
a small pluggable backend.

An SMS provider adapter implements ``SMSBackend.send``; ``settings.SMS_BACKEND`` names the class.
The default backend only logs, so a laptop or a test never texts anyone by accident; with DEBUG off
a real one must be configured (``casemgmt.core.checks``), e.g. ``HttpSMSBackend``.

Reminders come with an idempotency key, the id of the delivery attempt (``notifications``): an
adapter hands it to the gateway (most take one, e.g. an ``Idempotency-Key`` header or a client
message id), so that sending an attempt again after an unknown outcome reaches the person once. An
e-mail carries it in its ``Message-ID``, which relays and mail clients use to drop a second copy.
"""
import json
import logging
import urllib.request

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SMSBackend:
    """What a provider adapter implements. ``send`` raises on failure; the caller retries later, with
    the same ``idempotency_key``, which the adapter passes on so the gateway drops a message it has."""

    def send(self, *, phone, text, idempotency_key=None):
        raise NotImplementedError


class LoggingSMSBackend(SMSBackend):
    """Writes the message to the log instead of sending it (the default)."""

    def send(self, *, phone, text, idempotency_key=None):
        # The number is masked: logs are not a place for personal data.
        logger.info("SMS to %s***%s (%s): %s", phone[:3], phone[-2:], idempotency_key or "-", text)


class HttpSMSBackend(SMSBackend):
    """Posts each message as JSON (``{"phone": ..., "text": ...}``) to ``settings.SMS_GATEWAY_URL``
    with ``settings.SMS_GATEWAY_TOKEN`` as a bearer token: the shape of an SMS relay in front of a
    provider's signed API. The attempt's key goes in the ``Idempotency-Key`` header, so a resend of
    an attempt whose outcome was lost is dropped by the gateway. Any answer but 2xx raises, so the
    delivery is retried."""

    def send(self, *, phone, text, idempotency_key=None):
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {settings.SMS_GATEWAY_TOKEN}"}
        if idempotency_key:
            headers["Idempotency-Key"] = str(idempotency_key)
        request = urllib.request.Request(
            settings.SMS_GATEWAY_URL, data=json.dumps({"phone": phone, "text": text}).encode(), method="POST",
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=settings.SMS_GATEWAY_TIMEOUT) as response:
            response.read()


def get_sms_backend():
    return import_string(getattr(settings, "SMS_BACKEND", "casemgmt.core.channels.LoggingSMSBackend"))()


def message_id(idempotency_key):
    """The ``Message-ID`` of an e-mail sent under ``idempotency_key``: the same for every resend."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">") or "localhost"
    return f"<{idempotency_key}@{domain}>"


def send_email_message(*, address, subject, body, idempotency_key=None):
    headers = {"Message-ID": message_id(idempotency_key)} if idempotency_key else {}
    EmailMessage(subject, body, None, [address], headers=headers).send(fail_silently=False)


def send_sms_message(*, phone, text, idempotency_key=None):
    # Passed only when there is one: adapters of messages without a key keep their signature.
    extra = {"idempotency_key": idempotency_key} if idempotency_key else {}
    get_sms_backend().send(phone=phone, text=text, **extra)
