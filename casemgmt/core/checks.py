"""System checks of the deployment (``manage.py check --deploy``).

Messages to staff name family members and the dates that matter to them (a child's death
anniversary). The development defaults print e-mail to the console and write SMS to the log, where
they sit in plaintext and reach nobody; with DEBUG off they are an error, not a silent default.
"""
from django.conf import settings
from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

# Django's e-mail backends that deliver nothing: they print, keep in memory, write files or drop.
UNDELIVERED_EMAIL_BACKENDS = frozenset({
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
})


@register(Tags.security, deploy=True)
def check_message_backends(app_configs, **kwargs):
    from .channels import HttpSMSBackend, LoggingSMSBackend, SMSBackend

    if settings.DEBUG:
        return []
    errors = []
    if settings.EMAIL_BACKEND in UNDELIVERED_EMAIL_BACKENDS:
        errors.append(Error(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: e-mail would be printed or dropped, not sent.",
            hint="Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST (see .env.example).",
            id="core.E001",
        ))
    try:
        sms = import_string(settings.SMS_BACKEND)
    except ImportError:
        sms = None
    if not (isinstance(sms, type) and issubclass(sms, SMSBackend)) or issubclass(sms, LoggingSMSBackend):
        errors.append(Error(
            f"SMS_BACKEND is {settings.SMS_BACKEND}: text messages would be logged, not sent."
            if sms is not None else f"SMS_BACKEND {settings.SMS_BACKEND} cannot be imported.",
            hint="Name an SMS provider adapter (a casemgmt.core.channels.SMSBackend), "
                 "e.g. casemgmt.core.channels.HttpSMSBackend with SMS_GATEWAY_URL.",
            id="core.E002",
        ))
    elif issubclass(sms, HttpSMSBackend) and not settings.SMS_GATEWAY_URL.startswith(("https://", "http://")):
        errors.append(Error(
            "SMS_BACKEND is the HTTP gateway but SMS_GATEWAY_URL is not an http(s) address.",
            hint="Set SMS_GATEWAY_URL (and SMS_GATEWAY_TOKEN).",
            id="core.E003",
        ))
    return errors


@register()
def check_keys_match_the_data(app_configs, **kwargs):
    """Every command with system checks (runserver, shell, the maintenance commands) refuses keys
    that cannot read the database's data; gunicorn and the Celery worker call ``keys.verify`` at start."""
    from django.core.exceptions import ImproperlyConfigured

    from . import keys

    try:
        keys.verify()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="core.E010")]
    return []
