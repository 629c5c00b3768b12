"""Sign-in from the outside: the admin needs the second factor, replayed codes are refused,
lockouts count username and address together, passwords are strong and hashed with Argon2."""
import importlib

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from casemgmt.core.models import AuditEvent
from casemgmt.security.totp import totp_device_create, totp_token
from tests.conftest import PASSWORD

ADMIN_INDEX = "/admin/"


def admin_login(client, username, token="", password=PASSWORD, ip="10.1.1.1", device=None):
    """POST the admin's login form as a browser does after the first step offered the user's device."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = device or TOTPDevice.objects.filter(user__username=username).first()
    return client.post(reverse("admin:login"), {
        "username": username, "password": password, "otp_token": token, "next": ADMIN_INDEX,
        "otp_device": device.persistent_id if device else "",
    }, REMOTE_ADDR=ip)


def test_a_password_alone_reaches_no_admin_page(people):
    totp_device_create(user=people["manager"])
    client = Client()
    response = admin_login(client, "manager")
    assert response.status_code == 200  # the form again, with an error
    assert client.get(ADMIN_INDEX).status_code == 302
    assert client.get(reverse("admin:families_family_changelist")).status_code == 302


def test_a_workspace_session_without_second_factor_is_sent_to_the_admin_login(people):
    client = Client()
    response = client.post(reverse("workspace:login"), {"username": "manager", "password": PASSWORD})
    assert response.status_code == 302
    response = client.get(ADMIN_INDEX)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_password_and_current_code_open_the_admin_and_the_login_is_audited(people):
    device = totp_device_create(user=people["manager"])
    client = Client()
    response = admin_login(client, "manager", totp_token(device))
    assert response.status_code == 302
    assert client.get(ADMIN_INDEX).status_code == 200
    event = AuditEvent.objects.filter(event="auth.login", actor=people["manager"]).latest("id")
    assert event.ip == "10.1.1.1"


def test_a_replayed_code_is_refused_and_audited(people):
    device = totp_device_create(user=people["manager"])
    token = totp_token(device)
    first = Client()
    assert admin_login(first, "manager", token).status_code == 302
    thief = Client()
    response = admin_login(thief, "manager", token, ip="10.9.9.9")
    assert response.status_code == 200
    assert thief.get(ADMIN_INDEX).status_code == 302
    event = AuditEvent.objects.get(event="auth.otp_failed")
    assert event.actor == people["manager"] and event.ip == "10.9.9.9"


def test_a_wrong_code_is_refused(people):
    device = totp_device_create(user=people["manager"])
    wrong = f"{(int(totp_token(device)) + 1) % 1000000:06d}"
    client = Client()
    assert admin_login(client, "manager", wrong).status_code == 200
    assert client.get(ADMIN_INDEX).status_code == 302
    assert AuditEvent.objects.filter(event="auth.otp_failed", actor=people["manager"]).count() == 1
    assert not AuditEvent.objects.filter(event="auth.login", actor=people["manager"]).exists()


@pytest.fixture
def axes_on(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    from axes.models import AccessAttempt

    AccessAttempt.objects.all().delete()
    return settings


def workspace_login(client, username, password, ip):
    return client.post(reverse("workspace:login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_lockout_after_failures_from_one_address_spares_the_colleague_elsewhere(people, axes_on):
    attacker = Client()
    for _ in range(3):
        workspace_login(attacker, "alice", "wrong-password-123", "203.0.113.5")
    # From the attacker's address even the right password is refused now.
    response = workspace_login(attacker, "alice", PASSWORD, "203.0.113.5")
    assert response.status_code == 429
    assert AuditEvent.objects.filter(event="auth.locked_out", ip="203.0.113.5").exists()
    failed = AuditEvent.objects.filter(event="auth.login_failed")
    assert failed.count() >= 3 and failed.first().after == {"username": "alice"}  # never the password
    # alice herself, from the office, signs in.
    office = Client()
    assert workspace_login(office, "alice", PASSWORD, "10.20.0.8").status_code == 302
    # Another user from the attacker's address is not locked either (username AND address).
    assert workspace_login(Client(), "bob", PASSWORD, "203.0.113.5").status_code == 302


def test_admin_login_is_locked_out_too(people, axes_on):
    device = totp_device_create(user=people["manager"])
    client = Client()
    for _ in range(3):
        admin_login(client, "manager", password="not-the-password-1", ip="198.51.100.7")
    response = admin_login(client, "manager", totp_token(device), ip="198.51.100.7")
    assert response.status_code == 429
    assert client.get(ADMIN_INDEX).status_code == 302


def test_production_hashes_with_argon2_and_validates_strength():
    settings_module = importlib.import_module("casemgmt.settings")
    assert settings_module.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    from django.contrib.auth.hashers import Argon2PasswordHasher

    encoded = Argon2PasswordHasher().encode(PASSWORD, Argon2PasswordHasher().salt())
    assert encoded.startswith("argon2$") and Argon2PasswordHasher().verify(PASSWORD, encoded)
    for weak in ("short", "1234567890123", "password123"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("马上-清明-要去东门村")


def test_totp_device_command_prints_a_provisioning_uri(people, capsys):
    from django.core.management import call_command

    call_command("totp_device_create", "manager")
    out = capsys.readouterr().out
    assert out.startswith("manager: otpauth://totp/")
