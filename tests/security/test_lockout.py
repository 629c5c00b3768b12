"""Lockout that protects without excluding, tried from the outside behind a trusted proxy: the
client's address comes from X-Forwarded-For (TRUSTED_PROXY_COUNT), one address guessing a username
or spraying many is slowed down with a growing wait, and the account's owner signs in elsewhere."""
import datetime

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory

from casemgmt.core.models import AuditEvent
from casemgmt.security.network import client_ip
from casemgmt.security.totp import totp_device_create, totp_token
from tests.conftest import PASSWORD

PROXY = "10.0.0.2"
ATTACKER = "203.0.113.5"
OFFICE = "198.51.100.20"


@pytest.fixture
def lockout(settings):
    settings.AXES_ENABLED = True
    settings.TRUSTED_PROXY_COUNT = 1
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_ADDRESS_FAILURE_LIMIT = 20
    settings.AXES_BACKOFF_BASE_SECONDS = 60
    settings.AXES_BACKOFF_MAX_SECONDS = 3600
    AccessAttempt.objects.all().delete()
    return settings


def via_proxy(username, password, client_address, code="", forwarded=None, client=None):
    """A sign-in as the proxy passes it on: from the proxy's address, the client's appended."""
    return (client or Client()).post("/login/", {"username": username, "password": password, "otp_token": code},
                                     REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded or client_address)


def age(seconds, ip=ATTACKER):
    """As if the address's last failure were ``seconds`` older (no waiting in tests)."""
    for attempt in AccessAttempt.objects.filter(ip_address=ip):
        AccessAttempt.objects.filter(pk=attempt.pk).update(
            attempt_time=attempt.attempt_time - datetime.timedelta(seconds=seconds))


@pytest.mark.parametrize("trusted,forwarded,peer,expected", [
    (0, "1.2.3.4", "10.0.0.2", "10.0.0.2"),           # no proxy trusted: the header is the client's word
    (1, "1.2.3.4", "10.0.0.2", "1.2.3.4"),            # what our proxy saw
    (1, "6.6.6.6, 1.2.3.4", "10.0.0.2", "1.2.3.4"),   # a forged hop further left is ignored
    (2, "6.6.6.6, 1.2.3.4, 10.0.0.9", "10.0.0.2", "1.2.3.4"),
    (2, "1.2.3.4", "10.0.0.2", "1.2.3.4"),            # fewer hops than proxies: the leftmost
    (1, "not-an-address", "10.0.0.2", "10.0.0.2"),
    (1, "", "10.0.0.2", "10.0.0.2"),
    (1, "2001:db8::1", "10.0.0.2", "2001:db8::1"),
])
def test_client_ip_believes_only_the_trusted_hops(settings, trusted, forwarded, peer, expected):
    settings.TRUSTED_PROXY_COUNT = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_the_audit_trail_records_the_client_behind_the_proxy(people, lockout):
    device = totp_device_create(user=people["alice"])
    assert via_proxy("alice", PASSWORD, OFFICE, code=totp_token(device)).status_code == 302
    assert AuditEvent.objects.get(event="auth.login").ip == OFFICE


def test_guessing_one_password_slows_the_attackers_address_only(people, regions, lockout):
    device = totp_device_create(user=people["alice"])
    statuses = [via_proxy("alice", "wrong-password-123", ATTACKER).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # the third failure reaches the limit
    response = via_proxy("alice", PASSWORD, ATTACKER, code=totp_token(device))
    assert response.status_code == 429
    page = response.content.decode()
    assert "此地址登录失败次数过多" in page and 'name="otp_token"' in page  # the sign-in page, translated
    # This attempt, refused during the wait, counts too: the wait doubled to two minutes.
    assert 60 < int(response["Retry-After"]) <= 120
    locked = AuditEvent.objects.filter(event="auth.locked_out").latest("id")
    assert locked.ip == ATTACKER and locked.region_path == regions["zhangpu"].path
    # Forging another address further left in the header changes nothing.
    assert via_proxy("alice", PASSWORD, ATTACKER, forwarded=f"192.0.2.77, {ATTACKER}").status_code == 429
    # alice, from her office through the same proxy, signs in.
    assert via_proxy("alice", PASSWORD, OFFICE, code=totp_token(device)).status_code == 302
    # So does a colleague from the attacker's address: that username was not tried.
    bob = totp_device_create(user=people["bob"])
    assert via_proxy("bob", PASSWORD, ATTACKER, code=totp_token(bob)).status_code == 302


def test_spraying_twenty_usernames_from_one_address_is_stopped(people, lockout):
    for i in range(20):
        via_proxy(f"user{i:02d}" if i % 2 else "alice" if i == 0 else f"staff{i}", "Summer2026!", ATTACKER)
    device = totp_device_create(user=people["bob"])
    # Even a right password from that address now waits, whatever the username.
    response = via_proxy("bob", PASSWORD, ATTACKER, code=totp_token(device))
    assert response.status_code == 429
    # From anywhere else, bob and alice sign in.
    assert via_proxy("bob", PASSWORD, OFFICE, code=totp_token(device, steps_ahead=1)).status_code == 302
    alice = totp_device_create(user=people["alice"])
    assert via_proxy("alice", PASSWORD, "198.51.100.21", code=totp_token(alice)).status_code == 302


def test_the_wait_grows_with_each_failure_instead_of_an_hours_lock(people, lockout):
    device = totp_device_create(user=people["alice"])
    for _ in range(3):
        via_proxy("alice", "wrong-password-123", ATTACKER)
    assert via_proxy("alice", PASSWORD, ATTACKER).status_code == 429  # a fourth failure, during the wait
    # The fourth doubled the wait: two minutes from the last failure.
    age(61)
    response = via_proxy("alice", "wrong-password-123", ATTACKER)
    assert response.status_code == 429 and 100 < int(response["Retry-After"]) <= 240
    age(240)
    # Past the (now four-minute) wait: one more try is let through, and a right one signs in.
    assert via_proxy("alice", PASSWORD, ATTACKER, code=totp_token(device)).status_code == 302
    # A success clears the count for that username and address.
    assert not AccessAttempt.objects.filter(ip_address=ATTACKER, username="alice").exists()


def test_the_wait_is_capped(people, lockout):
    lockout.AXES_BACKOFF_MAX_SECONDS = 600
    for _ in range(12):
        via_proxy("alice", "wrong-password-123", ATTACKER)
    response = via_proxy("alice", "wrong-password-123", ATTACKER)
    assert response.status_code == 429 and int(response["Retry-After"]) <= 600


def test_old_failures_are_forgotten(people, lockout):
    for _ in range(3):
        via_proxy("alice", "wrong-password-123", ATTACKER)
    age(25 * 3600)
    device = totp_device_create(user=people["alice"])
    assert via_proxy("alice", PASSWORD, ATTACKER, code=totp_token(device)).status_code == 302


def test_admin_sign_in_behind_the_proxy_is_slowed_too(people, lockout):
    device = totp_device_create(user=people["manager"])
    client = Client()
    for _ in range(3):
        client.post("/admin/login/", {"username": "manager", "password": "nope-nope-123", "otp_token": ""},
                    REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER)
    response = client.post("/admin/login/", {"username": "manager", "password": PASSWORD,
                                             "otp_token": totp_token(device)},
                           REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER)
    assert response.status_code == 429 and "此地址登录失败次数过多" in response.content.decode()
    assert client.get("/admin/").status_code == 302
    assert 'id="login-form"' in response.content.decode()  # the admin's own sign-in page


def test_the_api_rate_limit_counts_the_same_client_address(settings):
    from rest_framework.request import Request

    from casemgmt.api.throttling import AnonThrottle
    from casemgmt.security.network import ClientAddressMiddleware

    settings.TRUSTED_PROXY_COUNT = 1
    seen = []
    request = RequestFactory().get("/api/v1/families/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"6.6.6.6, {ATTACKER}")
    ClientAddressMiddleware(seen.append)(request)
    # A forged hop cannot give a client a fresh rate-limit bucket.
    assert AnonThrottle().get_ident(Request(seen[0])) == ATTACKER
