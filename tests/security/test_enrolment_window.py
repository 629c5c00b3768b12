"""Who may enrol an authenticator with a password alone: a new account before its first sign-in, or
an account an administrator opened enrolment for; anybody else holding the password is refused."""
import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from casemgmt.core.models import AuditEvent
from casemgmt.security import otp
from casemgmt.security.models import EnrolmentWindow
from casemgmt.security.totp import totp_device_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, username, code=""):
    return client.post(reverse("workspace:login"), {"username": username, "password": PASSWORD, "otp_token": code})


def test_a_new_account_enrols_with_its_password(client, people):
    response = sign_in(client, "bob")
    assert response.status_code == 302 and response["Location"] == reverse("otp_enrol")


def test_an_account_that_signed_in_before_may_not_enrol_a_strangers_phone(client, people):
    bob = people["bob"]
    bob.last_login = timezone.now() - datetime.timedelta(days=30)
    bob.save(update_fields=["last_login"])
    response = sign_in(client, "bob")
    assert response.status_code == 200 and "otp_enrol" not in response.get("Location", "")
    assert "管理员" in response.content.decode()
    event = AuditEvent.objects.get(event="auth.enrolment_refused")
    assert event.actor == bob and event.region_path == bob.reach_path
    assert client.get(reverse("otp_enrol")).status_code == 302  # no way round the form


def test_an_old_unused_account_may_not_enrol_either(people, settings):
    bob = people["bob"]
    bob.date_joined = timezone.now() - datetime.timedelta(days=settings.SELF_ENROL_DAYS + 1)
    assert not otp.may_self_enrol(bob)


def test_an_administrator_opens_enrolment_once_for_a_lost_phone(client, people):
    bob, admin_user = people["bob"], people["city_admin"]
    totp_device_create(user=bob)
    bob.last_login = timezone.now()
    bob.save(update_fields=["last_login"])
    window = otp.enrolment_window_open(actor=admin_user, user=bob, reason="手机丢失")
    assert otp.authenticator_of(bob) is None  # the lost phone's codes stop working at once
    assert AuditEvent.objects.get(event="auth.enrolment_opened").reason == "手机丢失"
    assert otp.may_self_enrol(bob)
    device = otp.enrolment_device(bob)
    from casemgmt.security.totp import totp_token

    assert otp.enrolment_confirm(user=bob, device=device, code=totp_token(device)) is not None
    window.refresh_from_db()
    assert window.used_at is not None and not otp.may_self_enrol(bob)


def test_an_expired_window_does_not_open_enrolment(people):
    bob = people["bob"]
    bob.last_login = timezone.now()
    bob.save(update_fields=["last_login"])
    window = otp.enrolment_window_open(actor=people["city_admin"], user=bob, reason="新手机")
    EnrolmentWindow.objects.filter(pk=window.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert not otp.may_self_enrol(bob)


def test_the_admin_opens_windows_for_users_in_reach_only(client, people):
    client.force_login(people["city_admin"])
    url = reverse("admin:security_enrolmentwindow_add")
    form = client.get(url)
    assert form.status_code == 200
    choices = form.context["adminform"].form.fields["user"].queryset
    assert people["bob"] in choices and people["root"] not in choices
    response = client.post(url, {"user": people["bob"].pk, "reason": "手机丢失"})
    assert response.status_code == 302
    assert EnrolmentWindow.objects.get().opened_by == people["city_admin"]
    client.force_login(people["manager"])
    assert client.get(url).status_code == 403  # region managers do not hand out second factors
