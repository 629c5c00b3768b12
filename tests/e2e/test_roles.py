"""Each role's day on a 390×844 phone in headless Chromium: no page scrolls sideways, and every step
leads on (the auditor's trail, the manager's counts and reports, the worker's call and search)."""
import datetime
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from casemgmt.core.models import AuditEvent
from families.models import ContactAssignment, Family

from .a11y import assert_page_ok
from .conftest import log_in, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def overdue(family, days=5):
    Family.objects.filter(pk=family.pk).update(next_checkin_due=timezone.localdate() - datetime.timedelta(days=days))


def test_social_worker_calls_a_parent_from_today_and_finds_a_family_by_the_last_digits(phone, people, families):
    family = families["own"]
    overdue(family)
    mother = family.members.get(relation="mother")
    # The phone's dialler is outside the browser: record where the page sends it instead.
    phone.add_init_script("window.__dialled = []; document.addEventListener('click', function (e) {"
                          " var a = e.target.closest('a[href^=\"tel:\"]'); if (a) { window.__dialled.push(a.href); } });")
    log_in(phone, "alice")
    assert urlparse(phone.url).path == "/today/"
    assert_page_ok(phone)
    call = phone.locator(f"#member-{mother.pk}-phone button[type=submit]")
    assert "138****0001" in phone.inner_text(f"#member-{mother.pk}-phone")
    with phone.expect_response(lambda r: "/reveal/" in r.url):
        call.click()
    link = phone.locator(f"#member-{mother.pk}-phone a[href='tel:{mother.phone}']")
    link.wait_for(state="attached")
    wait_until(phone, "window.__dialled.length > 0")
    assert phone.evaluate("window.__dialled") == [f"tel:{mother.phone}"]
    assert AuditEvent.objects.filter(event="families.familymember.revealed", actor=people["alice"],
                                     object_ids__contains=[mother.pk]).count() == 1
    assert_page_ok(phone)

    phone.goto(f"/families/?q={mother.id_number[-6:]}")
    assert family.file_number in phone.inner_text("#results")
    assert_page_ok(phone)
    colleague = families["colleague"].members.get(relation="mother").id_number
    phone.goto(f"/families/?q={colleague[-4:]}")
    assert phone.locator("#no-family").is_visible() and "没有找到" in phone.inner_text("#no-family")
    assert_page_ok(phone)
    phone.goto(f"/families/{family.pk}/")
    assert_page_ok(phone)


def test_auditor_starts_on_the_trail_filters_it_and_downloads_it(phone, people, families):
    AuditEvent.objects.create(actor=people["alice"], actor_role="social_worker", event="families.familymember.revealed",
                              family_id=families["own"].pk, region_path=families["own"].region_path, reason="电话回访",
                              after={"fields": ["phone"]})
    log_in(phone, "auditor")
    assert urlparse(phone.url).path == "/audit/"
    assert "families.familymember.revealed" in phone.inner_text("#audit-rows")
    assert_page_ok(phone)
    phone.fill("#id_actor", "alice")
    phone.click("form.filters button[type=submit]")
    phone.wait_for_load_state()
    assert "actor=alice" in phone.url and "电话回访" in phone.inner_text("#audit-rows")
    assert_page_ok(phone)
    with phone.expect_download() as download:
        phone.click("#audit-csv")
    assert download.value.suggested_filename.startswith("audit-")
    assert AuditEvent.objects.filter(event="workspace.audit.exported", actor=people["auditor"]).count() == 1
    # A page the auditor may not open is a translated page with a way home, not "403 Forbidden".
    phone.goto("/families/")
    assert "您的角色无权访问" in phone.inner_text("main")
    phone.click("text=返回首页")
    phone.wait_for_url("**/audit/")
    assert_page_ok(phone)


def test_region_manager_opens_the_families_behind_a_count_and_goes_to_the_reports_and_back(phone, people, families):
    overdue(families["own"])
    ContactAssignment.objects.filter(family=families["colleague"]).update(ended_on=timezone.localdate())
    log_in(phone, "manager")
    assert urlparse(phone.url).path == "/coverage/"
    assert_page_ok(phone)
    phone.click("#count-overdue")
    phone.wait_for_url("**/families/**")
    assert "ZP-0001" in phone.inner_text("#results") and "ZP-0002" not in phone.inner_text("#results")
    assert phone.locator("#family-filter").is_visible()
    assert_page_ok(phone)
    phone.goto("/coverage/")
    phone.click("header nav >> text=统计报表")
    phone.wait_for_url("**/reports/")
    assert_page_ok(phone)
    phone.goto("/reports/annual/")
    assert_page_ok(phone)
    phone.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    phone.click("#print")
    assert phone.evaluate("window.__printed") == 1
    phone.goto("/reports/drilldown/families/")
    assert_page_ok(phone)
    phone.click("text=返回工作台")
    phone.wait_for_url("**/coverage/")
