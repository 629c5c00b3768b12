"""Each role's day on a 390×844 phone in headless Chromium, from sign-in to its last step: no page
scrolls sideways or fails axe, and every step leads on (the auditor's trail, the manager's counts and
reports, the worker's call and search, the volunteer's sessions and hours)."""
import csv
import datetime
import io
import re
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from casemgmt.core.models import AuditEvent
from families.models import ContactAssignment, Family
from volunteers.models import Enrollment, ServiceHours

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


def test_auditor_starts_on_the_trail_filters_it_by_family_person_event_and_period_and_downloads_it(
        phone, people, families):
    own, colleague = families["own"], families["colleague"]
    AuditEvent.objects.create(actor=people["alice"], actor_role="social_worker", event="families.familymember.revealed",
                              family_id=own.pk, region_path=own.region_path, reason="电话回访",
                              after={"fields": ["phone"]})
    AuditEvent.objects.create(actor=people["bob"], actor_role="social_worker", event="families.checkin.recorded",
                              family_id=colleague.pk, region_path=colleague.region_path)
    AuditEvent.objects.create(actor=people["alice"], actor_role="social_worker", event="families.family.read",
                              family_id=own.pk, region_path=own.region_path,
                              at=timezone.now() - datetime.timedelta(days=40))
    log_in(phone, "auditor")
    assert urlparse(phone.url).path == "/audit/"
    rows = phone.locator("#audit-rows")
    assert "families.familymember.revealed" in rows.inner_text() and "families.checkin.recorded" in rows.inner_text()
    assert_page_ok(phone)

    def filter_by(**fields):
        phone.goto("/audit/")
        for name, value in fields.items():
            phone.fill(f"#id_{name}", value)
        phone.click("form.filters button[type=submit]")
        phone.wait_for_load_state()
        assert_page_ok(phone)
        return rows.inner_text()

    # By family: the family id on a row is itself the filter.
    phone.click(f"#audit-rows a[href='?family={own.pk}']")
    phone.wait_for_url(f"**/audit/?family={own.pk}")
    assert "families.familymember.revealed" in rows.inner_text() and "families.checkin.recorded" not in rows.inner_text()
    assert_page_ok(phone)
    # By person, by event (the beginning of its name) and by period.
    text = filter_by(actor="bob")
    assert "families.checkin.recorded" in text and "families.familymember" not in text
    text = filter_by(event="families.familymember")
    assert "families.familymember.revealed" in text and "families.checkin" not in text
    last_month = timezone.localdate() - datetime.timedelta(days=45)
    text = filter_by(actor="alice", since=f"{last_month:%Y-%m-%d}", until=f"{last_month + datetime.timedelta(days=10):%Y-%m-%d}")
    assert "families.family.read" in text and "families.familymember.revealed" not in text
    # The CSV is what the page shows, all of it.
    with phone.expect_download() as download:
        phone.click("#audit-csv")
    assert re.fullmatch(r"audit-\d{8}\.csv", download.value.suggested_filename)
    lines = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
    assert [line[3] for line in lines[1:]] == ["families.family.read"]
    exported = AuditEvent.objects.get(event="workspace.audit.exported", actor=people["auditor"])
    assert exported.after["filters"]["actor"] == "alice"
    # A page the auditor may not open is a translated page with a way home, not "403 Forbidden".
    phone.goto("/families/")
    assert "您的角色无权访问" in phone.inner_text("main")
    assert_page_ok(phone)
    phone.click("text=返回首页")
    phone.wait_for_url("**/audit/")
    assert_page_ok(phone)


def test_region_manager_opens_the_families_behind_a_count_and_goes_to_the_reports_and_back(phone, people, families):
    overdue(families["own"])
    ContactAssignment.objects.filter(family=families["colleague"]).update(ended_on=timezone.localdate())
    log_in(phone, "manager")
    assert urlparse(phone.url).path == "/coverage/"
    assert_page_ok(phone)
    # Every number on the page opens the families it counts: as many as it says.
    counts = phone.eval_on_selector_all(
        "main table a.cell-link[href^='/families/'], #count-overdue, #count-open",
        "links => links.map(a => [a.getAttribute('href'), a.querySelector('b') ? a.querySelector('b').textContent"
        " : a.textContent])")
    assert len(counts) >= 8
    for href, shown in counts:
        phone.goto(href)
        assert phone.locator("#results li.item").count() == int(shown.split("/")[-1]), (href, shown)
    phone.goto("/coverage/")
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
    assert_page_ok(phone)


def test_volunteer_enrols_checks_in_by_the_sessions_code_and_logs_hours_for_their_family(phone, people, families,
                                                                                       workday):
    now, later, volunteer = workday["now"], workday["later"], workday["volunteer"]
    log_in(phone, "volunteer_user")
    assert urlparse(phone.url).path == "/me/"
    assert_page_ok(phone)
    # The family they visit, by the parents' names; their sessions, and one to enrol in.
    assert "王秀英" in phone.inner_text("main")
    phone.click(f"form:has(input[name=session][value='{later.pk}']) button[type=submit]")
    phone.wait_for_load_state()
    assert Enrollment.objects.get(session=later, volunteer=volunteer).status == Enrollment.Status.ENROLLED
    assert_page_ok(phone)
    # At the session: the code on the wall opens the check-in page.
    phone.goto(f"/trainings/checkin/{now.qr_token}/")
    assert_page_ok(phone)
    phone.click("main form button[type=submit]")
    phone.wait_for_load_state()
    assert Enrollment.objects.get(session=now, volunteer=volunteer).status == Enrollment.Status.ATTENDED
    assert_page_ok(phone)
    # Back home, the hours of the day: the date is filled in with today.
    phone.click("header nav a[href='/me/']")
    phone.wait_for_url("**/me/")
    assert phone.input_value("#id_date") == f"{timezone.localdate():%Y-%m-%d}"
    phone.fill("#id_hours", "1.5")
    phone.fill("#id_description", "陪同复查")
    phone.select_option("#id_family", str(families["own"].pk))
    phone.click("form:has(input[name=action][value=hours]) button[type=submit]")
    phone.wait_for_url("**/me/")
    logged = ServiceHours.objects.get(volunteer=volunteer, description="陪同复查")
    assert (logged.date, logged.family_id, str(logged.hours)) == (timezone.localdate(), families["own"].pk, "1.5")
    assert "陪同复查" in phone.inner_text("main")
    assert_page_ok(phone)
