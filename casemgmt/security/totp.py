"""TOTP devices for the admin's second factor (django-otp)."""
import base64

from django.db import transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def totp_device_create(*, user, replace=False, name="authenticator"):
    """A confirmed TOTP device for ``user`` (the existing one unless ``replace``)."""
    with transaction.atomic():
        if replace:
            TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=name, confirmed=True)
    return device


def totp_secret(device):
    """The base32 secret an authenticator app asks for when it is typed in by hand."""
    return base64.b32encode(device.bin_key).decode()


def totp_token(device, steps_ahead=0):
    """The code the user's authenticator shows now (or ``steps_ahead`` periods later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"
