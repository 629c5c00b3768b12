"""Personal API tokens: minted only from a signed-in session with a fresh second factor (or the
current code in X-OTP), never by a token, for at most API_TOKEN_MAX_DAYS; ended when the password
changes or the user is deactivated; every step audited in the user's region."""
import datetime
import time

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from casemgmt.api.models import ApiToken
from casemgmt.core.models import AuditEvent
from casemgmt.security import stepup
from casemgmt.security.totp import totp_token

TOKENS = "/api/v1/tokens/"


def session_client(user, fresh=True):
    client = APIClient()
    client.force_login(user)  # a full sign-in: device and step-up mark (tests/conftest.py)
    if not fresh:
        session = client.session
        session[stepup.SESSION_KEY] = time.time() - 3600
        session.save()
    return client


def mint(client, code=None, **body):
    headers = {"HTTP_X_OTP": code} if code is not None else {}
    return client.post(TOKENS, {"name": "laptop", **body}, format="json", **headers)


def test_a_fresh_session_mints_a_token_audited_in_the_users_region(people, regions):
    response = mint(session_client(people["alice"]))
    assert response.status_code == 201
    token = ApiToken.objects.get(pk=response.json()["id"])
    # No lifetime asked: the maximum (90 days by default).
    assert abs((token.expires_at - timezone.now()) - datetime.timedelta(days=90)) < datetime.timedelta(minutes=1)
    event = AuditEvent.objects.get(event="api.token.issued")
    assert event.actor == people["alice"] and event.region_path == regions["zhangpu"].path


def test_a_stale_session_is_refused_until_a_code_comes_with_it(people):
    client = session_client(people["manager"], fresh=False)
    response = mint(client)
    assert response.status_code == 403
    body = response.json()
    assert body["errors"][0]["code"] == "step_up_required" and body["detail"]
    assert not ApiToken.objects.exists()
    device = TOTPDevice.objects.get(user=people["manager"])
    assert mint(client, code="000000" if totp_token(device) != "000000" else "111111").status_code == 403
    time.sleep(1.1)  # django-otp throttles a device for a second after a wrong code
    assert mint(client, code=totp_token(device)).status_code == 201


def test_a_session_without_a_second_factor_cannot_mint(people):
    client = APIClient()
    client.force_authenticate(people["manager"])  # signed in, no fresh code
    assert mint(client).json()["errors"][0]["code"] == "step_up_required"


def test_a_token_never_mints_a_token_even_with_the_current_code(people):
    raw = mint(session_client(people["alice"])).json()["token"]
    device = TOTPDevice.objects.get(user=people["alice"])
    bearer = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = mint(bearer, code=totp_token(device))
    assert response.status_code == 403 and response.json()["errors"][0]["code"] == "token_not_allowed"
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize("days,status", [(30, 201), (31, 400), (365, 400), (0, 400)])
def test_lifetime_is_capped_by_the_setting(people, settings, days, status):
    settings.API_TOKEN_MAX_DAYS = 30
    response = mint(session_client(people["alice"]), expires_in_days=days)
    assert response.status_code == status, response.content
    if status == 400:
        assert response.json()["errors"][0]["field"] == "expires_in_days"


def _tokens(user, n=2):
    return [ApiToken.issue(user=user, name=f"t{i}", expires_at=timezone.now() + datetime.timedelta(days=5))
            for i in range(n)]


def test_a_new_password_revokes_every_token(people, regions):
    alice = people["alice"]
    issued = _tokens(alice)
    _tokens(people["bob"], 1)
    bearer = APIClient(HTTP_AUTHORIZATION=f"Bearer {issued[0][1]}")
    assert bearer.get("/api/v1/users/me/").status_code == 200
    alice.set_password("a-brand-new-passphrase-2")
    alice.save()
    assert bearer.get("/api/v1/users/me/").status_code == 401
    assert not ApiToken.objects.usable().filter(user=alice).exists()
    assert ApiToken.objects.usable().filter(user=people["bob"]).count() == 1
    event = AuditEvent.objects.get(event="api.token.revoked")
    assert event.reason == "password_changed" and event.after == {"count": 2}
    assert sorted(event.object_ids) == sorted(t.pk for t, _ in issued)
    assert event.region_path == regions["zhangpu"].path


def test_deactivation_revokes_every_token(people):
    carol = people["carol"]
    _tokens(carol)
    carol.is_active = False
    carol.save()
    assert not ApiToken.objects.usable().filter(user=carol).exists()
    assert AuditEvent.objects.get(event="api.token.revoked").reason == "deactivated"


def test_other_changes_and_a_rehash_of_the_same_password_keep_the_tokens(people, settings):
    from tests.conftest import PASSWORD

    alice = people["alice"]
    _tokens(alice)
    alice.display_name = "王社工"
    alice.save()
    # Signing in with a stronger hasher configured re-hashes the same password: not a new one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    old_hash = alice.password
    assert alice.check_password(PASSWORD)
    alice.refresh_from_db()
    assert alice.password != old_hash
    assert ApiToken.objects.usable().filter(user=alice).count() == 2


def test_revoking_one_token_is_audited_in_the_owners_region(people, regions):
    client = session_client(people["carol"])
    token_id = mint(client).json()["id"]
    assert client.delete(f"{TOKENS}{token_id}/").status_code == 204
    event = AuditEvent.objects.get(event="api.token.revoked")
    assert event.object_ids == [token_id] and event.region_path == regions["yunxiao"].path
