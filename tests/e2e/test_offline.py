"""Working without a connection, on a 390×844 phone in headless Chromium: a check-in kept offline
survives an expired session and is stored once with the time of the contact; what waits is shown
on every page; the confirmation and the offline notice are seen where the person is looking."""
import datetime
import time
from urllib.parse import urlparse

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from families.models import CheckIn, Family

from .a11y import assert_page_ok
from .conftest import log_in, wait_until
from .test_workspace import shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def in_viewport(page, selector):
    """The element is on the screen as the page stands scrolled (and zoomed out to fit, where a page
    is wider than the phone): inside the window's viewport, not above or below it."""
    return page.eval_on_selector(selector, """element => {
        const box = element.getBoundingClientRect();
        return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight
            && box.left >= 0 && box.right <= window.innerWidth;
    }""")


def worker_ready(page):
    """Wait until the service worker controls the page, so that what is opened next is kept."""
    page.evaluate("navigator.serviceWorker.ready")
    wait_until(page, "navigator.serviceWorker.controller !== null")


def test_an_offline_check_in_survives_an_expired_session_and_is_stored_once_with_the_contacts_time(
        phone, people, families):
    family = families["own"]
    Family.objects.filter(pk=family.pk).update(next_checkin_due=timezone.localdate() - datetime.timedelta(days=3))
    log_in(phone, "alice")
    worker_ready(phone)
    for path in ("/today/", f"/families/{family.pk}/", f"/families/{family.pk}/checkin/"):
        phone.goto(path)  # opened while online: kept for opening offline

    phone.context.set_offline(True)
    phone.check("input[name=channel][value=home_visit]")
    phone.fill("textarea[name=needs]", "断网时填写")
    before = timezone.now()
    phone.click("#checkin-form button[type=submit]")
    phone.wait_for_selector("#outbox-notice:not([hidden])")
    after = timezone.now()
    # Tapped at the foot of the form: the notice is on the screen, not above it.
    assert "网络未连接" in phone.inner_text("#outbox-notice")
    assert in_viewport(phone, "#outbox-notice")
    assert phone.inner_text("#outbox-waiting") == "1 条待发送"
    assert not CheckIn.objects.exists()
    shot(phone, "checkin-offline")
    assert_page_ok(phone)

    # Today opens offline from the last visit and says what waits.
    assert phone.goto("/today/").from_service_worker
    assert "ZP-0001" in phone.inner_text("#overdue")
    phone.wait_for_selector("#outbox-waiting:not([hidden])")
    assert phone.inner_text("#outbox-waiting") == "1 条待发送"
    assert in_viewport(phone, "#outbox-waiting")
    assert_page_ok(phone)
    assert phone.goto(f"/families/{family.pk}/").from_service_worker
    assert phone.inner_text("h1").startswith("ZP-0001")
    # A page never opened online says so, and still counts what waits.
    phone.goto("/families/?q=never-opened")
    assert "没有网络连接" in phone.inner_text("main")
    assert_page_ok(phone)

    assert phone.goto("/today/").from_service_worker
    Session.objects.all().delete()  # the session expires while the phone is away
    time.sleep(1.5)  # the contact's time and the sending's must differ measurably
    online_at = timezone.now()
    phone.context.set_offline(False)
    prompt = phone.locator("#outbox-waiting a")
    prompt.wait_for()
    assert prompt.inner_text() == "已退出登录：登录后发送 1 条"
    shot(phone, "today-signed-out")
    assert not CheckIn.objects.exists()
    prompt.click()
    phone.wait_for_url("**/login/**")
    assert phone.inner_text("#outbox-waiting") == "已退出登录：登录后发送 1 条"
    assert_page_ok(phone)

    log_in(phone, "alice")
    phone.wait_for_selector("#outbox-notice.saved:not([hidden])")
    assert "联系记录已保存" in phone.inner_text("#outbox-notice")
    phone.wait_for_selector("#outbox-waiting", state="hidden")
    checkin = CheckIn.objects.get(family=family)
    assert checkin.needs == "断网时填写" and checkin.channel == "home_visit"
    assert before - datetime.timedelta(seconds=1) <= checkin.occurred_at <= after < online_at

    # The same draft sent again (a second tab, a retry after a lost answer) stores nothing new.
    phone.evaluate("""k => window.workspaceOutbox.put(k).then(() => window.workspaceOutbox.flush())""", {
        "key": str(checkin_key(checkin)), "user": str(people["alice"].pk), "username": "alice",
        "url": f"/families/{family.pk}/checkin/", "fields": {"channel": "home_visit", "needs": "断网时填写"},
        "occurredAt": checkin.occurred_at.isoformat(), "queued": True, "error": None, "savedAt": 0})
    phone.wait_for_selector("#outbox-waiting", state="hidden")
    assert CheckIn.objects.filter(family=family).count() == 1


def checkin_key(checkin):
    from workspace.models import CheckinSubmission

    return CheckinSubmission.objects.get(checkin=checkin).key


def test_a_check_in_saved_online_opens_the_family_page_with_a_visible_confirmation(phone, people, families):
    family = families["own"]
    log_in(phone, "alice")
    phone.goto(f"/families/{family.pk}/checkin/")
    phone.check("input[name=channel][value=phone]")
    phone.click("#checkin-form button[type=submit]")
    phone.wait_for_url(f"**/families/{family.pk}/")
    phone.wait_for_selector("#outbox-notice.saved:not([hidden])")
    family.refresh_from_db()
    assert phone.inner_text("#outbox-notice").startswith(f"联系记录已保存。下次联系截止日期：{family.next_checkin_due}")
    assert in_viewport(phone, "#outbox-notice")
    shot(phone, "family-saved")
    assert_page_ok(phone)
    assert urlparse(phone.url).path == f"/families/{family.pk}/"
    assert CheckIn.objects.filter(family=family).count() == 1
    assert phone.locator("#outbox-waiting").is_hidden()


def test_signing_out_drops_the_kept_pages_and_keeps_the_drafts_for_their_writer(phone, people, families):
    family = families["colleague"]
    log_in(phone, "alice")
    worker_ready(phone)
    phone.goto("/today/")
    phone.goto(f"/families/{families['own'].pk}/")
    assert phone.evaluate("caches.open('workspace-pages').then(c => c.keys()).then(k => k.length)") == 2
    # bob's check-in, written on this phone earlier and not sent yet: never sent as alice's.
    written = (timezone.now() - datetime.timedelta(hours=2)).replace(microsecond=0)
    phone.evaluate("draft => window.workspaceOutbox.put(draft).then(() => window.workspaceOutbox.flush())", {
        "key": "6f1c0c57-9d0e-4c8e-9a57-0d1f2b3c4d5e", "user": str(people["bob"].pk), "username": "bob",
        "url": f"/families/{family.pk}/checkin/", "fields": {"channel": "phone", "needs": "bob 的记录"},
        "occurredAt": written.isoformat(), "queued": True, "error": None, "savedAt": 0})
    phone.wait_for_selector("#outbox-waiting:not([hidden])")
    assert "bob" in phone.inner_text("#outbox-waiting")
    assert not CheckIn.objects.exists()

    phone.click("header form button[type=submit]")  # log out
    phone.wait_for_url("**/login/")
    assert phone.evaluate("caches.open('workspace-pages').then(c => c.keys()).then(k => k.length)") == 0
    phone.wait_for_selector("#outbox-waiting:not([hidden])")
    assert phone.inner_text("#outbox-waiting") == "已退出登录：登录后发送 1 条"

    log_in(phone, "bob")
    phone.wait_for_selector("#outbox-notice.saved:not([hidden])")
    assert phone.locator("#outbox-waiting").is_hidden()
    checkin = CheckIn.objects.get()
    assert (checkin.family_id, checkin.recorded_by, checkin.needs, checkin.occurred_at) == (
        family.pk, people["bob"], "bob 的记录", written)


def test_a_draft_an_earlier_version_kept_in_local_storage_is_sent_from_any_page(phone, people, families):
    family = families["own"]
    log_in(phone, "alice")
    saved = (timezone.now() - datetime.timedelta(hours=3)).replace(microsecond=0)
    phone.evaluate("""([name, draft]) => localStorage.setItem(name, JSON.stringify(draft))""", [
        f"checkin-draft:{family.pk}",
        {"pending": True, "saved": int(saved.timestamp() * 1000),
         "fields": {"key": "0b0c8d4e-5f60-4a1b-8c2d-3e4f5a6b7c8d", "channel": "sms", "needs": "旧版本的草稿"}}])
    phone.goto("/today/")
    phone.wait_for_selector("#outbox-notice.saved:not([hidden])")
    checkin = CheckIn.objects.get(family=family)
    assert (checkin.channel, checkin.needs, checkin.occurred_at) == ("sms", "旧版本的草稿", saved)
    assert phone.evaluate(f"localStorage.getItem('checkin-draft:{family.pk}')") is None
