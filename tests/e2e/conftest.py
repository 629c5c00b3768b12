"""End-to-end fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

Playwright's sync API runs an event loop in this thread, and Django refuses database access from a
thread with a running loop unless told it is safe; here the loop only talks to the browser."""
import datetime
import os
import shutil
import time

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM), "the end-to-end tests need Debian's chromium (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone(browser, live_server):
    """A fresh phone-sized browser context (own cookies and storage) with the live server as base."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  base_url=live_server.url, locale="zh-CN")
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()


def current_code(user):
    """The code the user's authenticator shows now (the user's device made if missing), or the next
    period's when this one was used already: a code is accepted once."""
    from django_otp.oath import TOTP

    from casemgmt.security.totp import totp_device_create, totp_token

    device = totp_device_create(user=user)
    device.refresh_from_db()
    now = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).t()
    return totp_token(device, steps_ahead=1 if device.last_t >= now else 0)


def log_in(page, username):
    """Sign in at /login/ as a person does: username, password and the authenticator's code."""
    from casemgmt.core.models import User
    from tests.conftest import PASSWORD

    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", current_code(User.objects.get(username=username)))
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def wait_until(page, expression, timeout=10.0):
    """Wait until ``expression`` is true in ``page``. Playwright's ``wait_for_function`` polls by
    evaluating a string inside the page, which the Content-Security-Policy (no 'unsafe-eval') refuses
    whenever the first look is false; ``page.evaluate`` runs outside the page's policy."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.05)


# An address as long as real ones are: on one line it is wider than the phone.
VENUE = "漳浦县绥安镇东门村党群服务中心三楼多功能活动室（东门停车场入口旁，凭短信通知入场）"


@pytest.fixture
def workday(regions, people, families):
    """What a day's pages show: an overdue family, a training on now and one next week with places
    and a waiting list, a volunteer of their own with a family and hours, a row on the audit trail."""
    from django.utils import timezone

    from casemgmt.core.models import AuditEvent
    from families.models import Family
    from volunteers.models import Enrollment, Pairing, ServiceHours, Skill, TrainingCourse, TrainingSession, Volunteer

    own = families["own"]
    Family.objects.filter(pk=own.pk).update(next_checkin_due=timezone.localdate() - datetime.timedelta(days=4))
    skill = Skill.objects.create(code="care", name="生活照料")
    course = TrainingCourse.objects.create(title="入户关怀技能培训", region=regions["zhangpu"], skill=skill)
    started = timezone.now() - datetime.timedelta(minutes=30)
    now = TrainingSession.objects.create(course=course, region=regions["zhangpu"], starts_at=started,
                                         ends_at=started + datetime.timedelta(hours=2), venue=VENUE, capacity=2)
    later = TrainingSession.objects.create(course=course, region=regions["zhangpu"], venue=VENUE, capacity=10,
                                           starts_at=started + datetime.timedelta(days=7),
                                           ends_at=started + datetime.timedelta(days=7, hours=2))
    volunteer = Volunteer.objects.create(name="张志愿", region=regions["suian"], user=people["volunteer_user"])
    others = [Volunteer.objects.create(name=name, region=regions["suian"]) for name in ("陈一", "林二")]
    Enrollment.objects.create(session=now, volunteer=volunteer)
    Enrollment.objects.create(session=now, volunteer=others[0])
    Enrollment.objects.create(session=now, volunteer=others[1], status=Enrollment.Status.WAITLISTED)
    Pairing.objects.create(volunteer=volunteer, family=own)
    ServiceHours.objects.create(volunteer=volunteer, family=own, date=timezone.localdate(), hours=2, description="陪同就医")
    AuditEvent.objects.create(actor=people["alice"], actor_role="social_worker", event="families.familymember.revealed",
                              family_id=own.pk, region_path=own.region_path, reason="电话回访", after={"fields": ["phone"]})
    return {"now": now, "later": later, "volunteer": volunteer}
