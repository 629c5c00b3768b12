"""The one sign-in form (workspace and admin) with the second factor, enrolment by QR code,
recovery codes and the step-up page, through the real views; and the audit rows they leave, each in
the region of the account concerned."""
import base64
import re
import time

import pytest
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from casemgmt.core.models import AuditEvent
from casemgmt.security import otp, stepup
from casemgmt.security.totp import totp_device_create, totp_token
from tests.conftest import PASSWORD

LOGIN = "/login/"


def sign_in(client, username, code="", password=PASSWORD, url=LOGIN, **extra):
    return client.post(url, {"username": username, "password": password, "otp_token": code}, **extra)


def wrong(code):
    return f"{(int(code) + 500000) % 1000000:06d}"


def signed_in(client):
    return client.get(reverse("workspace:today")).status_code == 200


def test_the_password_alone_is_not_enough_and_leaves_no_false_otp_row(people):
    totp_device_create(user=people["alice"])
    client = Client()
    response = sign_in(client, "alice")
    assert response.status_code == 200
    assert "请输入身份验证器应用显示的动态码" in response.content.decode()
    assert not signed_in(client)
    assert not AuditEvent.objects.filter(event__in=("auth.otp_failed", "auth.login")).exists()


def test_password_and_code_sign_in_with_a_fresh_second_factor(people, regions):
    device = totp_device_create(user=people["alice"])
    client = Client()
    response = sign_in(client, "alice", totp_token(device), REMOTE_ADDR="10.2.3.4")
    assert response.status_code == 302 and response["Location"] == reverse("workspace:home")
    assert signed_in(client)
    session = client.session
    assert session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert time.time() - session[stepup.SESSION_KEY] < 5
    login = AuditEvent.objects.get(event="auth.login")
    assert login.actor == people["alice"] and login.region_path == regions["zhangpu"].path and login.ip == "10.2.3.4"


def test_a_wrong_code_leaves_one_otp_failed_row_in_the_users_region(people, regions):
    device = totp_device_create(user=people["carol"])
    client = Client()
    response = sign_in(client, "carol", wrong(totp_token(device)), REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 200 and not signed_in(client)
    event = AuditEvent.objects.get(event="auth.otp_failed")
    assert event.actor == people["carol"] and event.ip == "10.9.9.9"
    assert event.region_path == regions["yunxiao"].path
    assert not AuditEvent.objects.filter(event="auth.login").exists()


def test_a_wrong_password_with_a_code_is_a_failed_login_not_a_failed_code(people, regions):
    device = totp_device_create(user=people["alice"])
    sign_in(Client(), "alice", totp_token(device), password="not-the-password-1")
    assert not AuditEvent.objects.filter(event="auth.otp_failed").exists()
    failed = AuditEvent.objects.get(event="auth.login_failed")
    # The attempted account's region: its auditors see that someone tries it.
    assert failed.region_path == regions["zhangpu"].path and failed.after == {"username": "alice"}
    assert failed.object_ids == [people["alice"].pk]
    sign_in(Client(), "nobody-here", "123456")
    assert AuditEvent.objects.filter(event="auth.login_failed", region_path="").count() == 1


def test_a_recovery_code_signs_in_once(people):
    totp_device_create(user=people["manager"])
    codes = otp.recovery_codes_create(user=people["manager"])
    assert len(codes) == 10 and len(set(codes)) == 10
    first = Client()
    assert sign_in(first, "manager", otp.display_code(codes[0])).status_code == 302 and signed_in(first)
    again = Client()
    assert sign_in(again, "manager", codes[0]).status_code == 200 and not signed_in(again)
    assert AuditEvent.objects.filter(event="auth.otp_failed", actor=people["manager"]).count() == 1
    assert otp.recovery_codes_left(people["manager"]) == 9


def test_the_admin_signs_in_through_the_same_form_in_chinese(people):
    device = totp_device_create(user=people["manager"])
    client = Client()
    page = client.get(reverse("admin:login")).content.decode()
    assert 'name="otp_token"' in page and "身份验证器动态码" in page
    assert "otp_device" not in page  # no device to choose: the user has one
    response = sign_in(client, "manager", totp_token(device), url=reverse("admin:login"))
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_volunteer_without_staff_rights_signs_in_with_the_password(people):
    client = Client()
    assert sign_in(client, "volunteer_user").status_code == 302
    assert client.get("/")["Location"] == reverse("workspace:me")  # signed in: sent to their own page


def test_a_staff_session_without_its_second_factor_counts_as_signed_out(people):
    client = Client()
    client.force_login(people["alice"])
    assert signed_in(client)
    session = client.session
    del session[DEVICE_ID_SESSION_KEY]  # as a session made by the password alone
    session.save()
    assert not signed_in(client)
    assert client.get("/api/v1/users/me/").status_code in (401, 403)


def _secret_from(page):
    return re.search(r'<code id="otp-secret">([A-Z2-7]+)</code>', page).group(1)


def _code_for(secret):
    return f"{TOTP(base64.b32decode(secret)).token():06d}"


def test_enrolment_by_qr_code_then_recovery_codes_shown_once(people, settings):
    settings.OTP_TOTP_ISSUER = "漳州计生协"
    client = Client()
    response = sign_in(client, "bob")  # no authenticator yet: the password opens enrolment only
    assert response.status_code == 302 and response["Location"] == reverse("otp_enrol")
    assert not signed_in(client)
    assert client.get("/api/v1/users/me/").status_code in (401, 403)
    page = client.get(reverse("otp_enrol")).content.decode()
    assert "<svg" in page and "设置身份验证器" in page
    secret = _secret_from(page)
    device = TOTPDevice.objects.get(user=people["bob"])
    assert not device.confirmed and "issuer=%E6%BC%B3" in device.config_url
    assert client.get(reverse("otp_enrol")).content.decode().count(secret) == 1  # a reload: the same secret

    assert client.post(reverse("otp_enrol"), {"otp_token": wrong(_code_for(secret))}).status_code == 200
    assert not signed_in(client)
    time.sleep(1.1)  # django-otp throttles a device for a second after a wrong code
    response = client.post(reverse("otp_enrol"), {"otp_token": _code_for(secret)})
    assert response.status_code == 302 and response["Location"].startswith(reverse("recovery_codes"))
    assert signed_in(client)
    codes_page = client.get(response["Location"]).content.decode()
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", codes_page)
    assert len(codes) == 10
    assert "<li><code>" not in client.get(reverse("recovery_codes")).content.decode()  # shown once
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(event="auth.otp_enrolled", actor=people["bob"]).exists()
    # A recovery code from that page signs bob in.
    assert sign_in(Client(), "bob", codes[3]).status_code == 302


def test_the_enrolment_page_needs_the_password_first(people):
    client = Client()
    response = client.get(reverse("otp_enrol"))
    assert response.status_code == 302 and response["Location"] == reverse("workspace:login")
    assert not TOTPDevice.objects.exists()


def test_a_user_with_an_authenticator_cannot_enrol_another_with_the_password(people):
    totp_device_create(user=people["alice"])
    client = Client()
    assert sign_in(client, "alice").status_code == 200  # asks for the code, no enrolment
    assert client.get(reverse("otp_enrol")).status_code == 302
    assert TOTPDevice.objects.filter(user=people["alice"]).count() == 1


def _stale(client):
    session = client.session
    session[stepup.SESSION_KEY] = time.time() - 3600
    session.save()


def test_step_up_page_renews_the_second_factor_and_returns_to_next(people):
    client = Client()
    client.force_login(people["manager"])
    _stale(client)
    device = TOTPDevice.objects.get(user=people["manager"])
    url = f"{reverse('step_up')}?next=/families/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"otp_token": wrong(totp_token(device)), "next": "/families/"})
    assert response.status_code == 200
    assert AuditEvent.objects.filter(event="auth.otp_failed", actor=people["manager"]).count() == 1
    time.sleep(1.1)  # django-otp throttles a device for a second after a wrong code
    response = client.post(url, {"otp_token": totp_token(device), "next": "/families/"})
    assert response.status_code == 302 and response["Location"] == "/families/"
    assert time.time() - client.session[stepup.SESSION_KEY] < 5


def test_step_up_never_sends_off_site(people):
    client = Client()
    client.force_login(people["manager"])
    device = TOTPDevice.objects.get(user=people["manager"])
    response = client.post(reverse("step_up"), {"otp_token": totp_token(device), "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("workspace:home")


def test_new_recovery_codes_need_a_fresh_second_factor(people):
    client = Client()
    client.force_login(people["alice"])
    old = otp.recovery_codes_create(user=people["alice"])
    _stale(client)
    response = client.post(reverse("recovery_codes"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("step_up"))
    assert otp.recovery_codes_left(people["alice"]) == 10
    session = client.session
    session[stepup.SESSION_KEY] = time.time()
    session.save()
    response = client.post(reverse("recovery_codes"), follow=True)
    new = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", response.content.decode())
    assert len(new) == 10 and not {c.replace("-", "") for c in new} & set(old)
    assert otp.code_verify(user=people["alice"], code=old[0]) is None


def test_logout_is_audited_in_the_users_region(people, regions):
    client = Client()
    client.force_login(people["carol"])
    client.post(reverse("workspace:logout"))
    event = AuditEvent.objects.get(event="auth.logout")
    assert event.actor == people["carol"] and event.region_path == regions["yunxiao"].path


@pytest.mark.parametrize("where", ["workspace", "admin"])
def test_the_login_pages_render_the_code_field(client, db, where):
    url = LOGIN if where == "workspace" else reverse("admin:login")
    page = client.get(url).content.decode()
    assert 'autocomplete="one-time-code"' in page
