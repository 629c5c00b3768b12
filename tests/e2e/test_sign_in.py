"""Signing in as a person does, in Chromium: password and authenticator code at /login/, and the
first sign-in of someone without an authenticator (QR page, secret read off the page, code typed,
recovery codes shown once)."""
import base64
import re
from urllib.parse import urlparse

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from casemgmt.core.models import AuditEvent
from casemgmt.security.totp import totp_device_create
from tests.conftest import PASSWORD

from .a11y import assert_page_ok
from .conftest import current_code, log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_password_and_code_sign_in_and_a_wrong_code_is_refused(phone, people):
    totp_device_create(user=people["alice"])
    phone.goto("/login/")
    assert phone.inner_text("label[for=id_otp_token]") == "身份验证器动态码"
    assert_page_ok(phone)
    phone.fill("#id_username", "alice")
    phone.fill("#id_password", PASSWORD)
    phone.fill("#id_otp_token", f"{(int(current_code(people['alice'])) + 1) % 1000000:06d}")
    phone.click("form button[type=submit]")
    phone.wait_for_load_state()
    assert urlparse(phone.url).path == "/login/"
    assert "动态码错误" in phone.inner_text("[role=alert]")
    assert_page_ok(phone)
    assert AuditEvent.objects.filter(event="auth.otp_failed", actor=people["alice"]).count() == 1

    phone.wait_for_timeout(1100)  # django-otp throttles a device for a second after a wrong code
    log_in(phone, "alice")
    assert urlparse(phone.url).path == "/today/"
    assert AuditEvent.objects.filter(event="auth.login", actor=people["alice"]).count() == 1


def test_first_sign_in_enrols_an_authenticator_from_the_qr_page(phone, people):
    phone.goto("/login/")
    phone.fill("#id_username", "bob")
    phone.fill("#id_password", PASSWORD)
    phone.click("form button[type=submit]")  # no code: bob has no authenticator yet
    phone.wait_for_url("**/sign-in/authenticator/")
    assert phone.locator("figure.qr svg").count() == 1
    assert_page_ok(phone)
    secret = phone.inner_text("#otp-secret").strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    # What an authenticator app does with the secret it scanned.
    code = f"{TOTP(base64.b32decode(secret)).token():06d}"
    phone.fill("#id_otp_token", code)
    phone.click("form button[type=submit]")
    phone.wait_for_url("**/account/recovery-codes/**")
    codes = phone.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
    assert_page_ok(phone)
    phone.click("a.button.primary")
    phone.wait_for_load_state()
    assert urlparse(phone.url).path == "/today/"
    assert TOTPDevice.objects.get(user=people["bob"]).confirmed
    # Shown once: the page has no codes on a second visit.
    phone.goto("/account/recovery-codes/")
    assert phone.locator("#recovery-codes").count() == 0
