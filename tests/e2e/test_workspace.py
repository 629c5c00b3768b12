"""People using the workspace in a real browser (headless Chromium on a 390×844 phone screen)."""
import datetime
import os
import re
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from casemgmt.core.idcard import make_id_number
from families.models import CheckIn, Family, FamilyMember
from families.services import checkin_record
from volunteers.models import Enrollment, Skill, TrainingCourse, TrainingSession, Volunteer

from .a11y import assert_page_ok
from .conftest import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
SCREENSHOTS = os.environ.get("E2E_SCREENSHOTS", "")  # a folder to keep phone screenshots in, for a look


def shot(page, name):
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def overdue(family, days=5):
    Family.objects.filter(pk=family.pk).update(next_checkin_due=timezone.localdate() - datetime.timedelta(days=days))


def test_social_worker_finds_an_overdue_family_logs_a_visit_and_sees_the_due_date_move(phone, people, families):
    family = families["own"]
    overdue(family)
    log_in(phone, "alice")
    assert urlparse(phone.url).path == "/today/"
    overdue_section = phone.locator("#overdue")
    assert "ZP-0001" in overdue_section.inner_text()
    shot(phone, "today")
    assert_page_ok(phone)
    overdue_section.locator(f"a[href='/families/{family.pk}/checkin/']").click()
    phone.wait_for_url(f"**/families/{family.pk}/checkin/")
    assert_page_ok(phone)
    phone.check("input[name=channel][value=home_visit]")
    phone.check("input[name=physical_state][value=fair]")
    phone.check("input[name=mental_state][value=low]")
    phone.fill("textarea[name=needs]", "需要陪同去医院复查")
    phone.fill("textarea[name=help_given]", "联系了家庭医生")
    phone.click("#checkin-form button[type=submit]")
    phone.wait_for_url(f"**/families/{family.pk}/")
    family.refresh_from_db()
    assert family.next_checkin_due > timezone.localdate()
    assert phone.inner_text("#next-due") == f"{family.next_checkin_due:%Y-%m-%d}"
    assert "需要陪同去医院复查" in phone.inner_text("main")
    shot(phone, "family")
    assert_page_ok(phone)
    assert CheckIn.objects.filter(family=family).count() == 1


def test_coordinator_schedules_a_training_enrols_past_capacity_and_takes_attendance(phone, regions, people):
    skill = Skill.objects.create(code="care", name="生活照料")
    TrainingCourse.objects.create(title="入户关怀技能培训", region=regions["zhangpu"], skill=skill)
    for name in ("陈一", "林二", "黄三"):
        Volunteer.objects.create(name=name, region=regions["suian"])
    log_in(phone, "coordinator")
    assert urlparse(phone.url).path == "/trainings/"
    assert_page_ok(phone)
    phone.click("a[href='/trainings/new/']")
    assert_page_ok(phone)
    start = timezone.localtime() + datetime.timedelta(days=3)
    phone.select_option("#id_course", label="入户关怀技能培训")
    phone.fill("#id_starts_at", start.strftime("%Y-%m-%dT09:00"))
    phone.fill("#id_ends_at", start.strftime("%Y-%m-%dT11:30"))
    phone.fill("#id_venue", "绥安镇暖心家园")
    phone.fill("#id_capacity", "2")
    phone.click("form.card button[type=submit]")
    phone.wait_for_url(re.compile(r".*/trainings/\d+/$"))
    session = TrainingSession.objects.get(venue="绥安镇暖心家园")
    for checkbox in phone.locator("input[name=volunteer]").all():
        checkbox.check()
    phone.click("input[value=enrol] ~ button[type=submit]")
    phone.wait_for_load_state()
    assert "2/2" in phone.inner_text("#places")
    assert_page_ok(phone)
    assert sorted(Enrollment.objects.filter(session=session).values_list("status", flat=True)) == [
        "enrolled", "enrolled", "waitlisted"]
    waiting = Enrollment.objects.get(session=session, status="waitlisted").volunteer.name
    # Three days ahead nobody can have come yet: the ticks are disabled and there is no button.
    assert phone.locator("input[name=present]").first.is_disabled()
    assert phone.locator("input[value=attendance] ~ button[type=submit]").count() == 0
    assert phone.locator("#attendance-closed").is_visible()
    # Sent anyway (a page from before the rule, a crafted form): the server refuses, in Chinese.
    with phone.expect_navigation():
        phone.evaluate("""() => {
            const form = document.querySelector("input[value=attendance]").form;
            form.querySelector("fieldset").disabled = false;
            form.querySelector("input[name=present]").checked = true;
            form.submit();
        }""")
    assert "培训开始后才能登记出勤" in phone.inner_text(".messages")
    assert not Enrollment.objects.filter(session=session, status="attended").exists()
    begun = timezone.now() - datetime.timedelta(minutes=5)
    TrainingSession.objects.filter(pk=session.pk).update(starts_at=begun, ends_at=begun + datetime.timedelta(hours=2))
    phone.reload()
    first = phone.locator("input[name=present]").first
    first.check()
    phone.click("input[value=attendance] ~ button[type=submit]")
    phone.wait_for_load_state()
    assert Enrollment.objects.filter(session=session, status="attended").count() == 1
    assert waiting in phone.inner_text("main")
    assert_page_ok(phone)
    phone.goto(f"/trainings/?view=week&date={timezone.localdate(begun):%Y-%m-%d}")
    assert "入户关怀技能培训" in phone.inner_text("main")
    assert_page_ok(phone)


def test_region_manager_sees_coverage_change(phone, people, families):
    log_in(phone, "manager")
    assert urlparse(phone.url).path == "/coverage/"
    assert phone.inner_text("#coverage-share") == "0%"
    checkin_record(actor=people["alice"], family=families["own"], channel="phone")
    phone.reload()
    assert phone.inner_text("#coverage-share") == "50%"  # one of zhangpu's two open families
    assert_page_ok(phone)


def test_volunteer_coordinator_cannot_see_an_id_number_on_any_page(phone, regions, people, families):
    Volunteer.objects.create(name="郑志愿", region=regions["village"],
                             id_number=make_id_number("350623", datetime.date(1990, 1, 1), 123))
    numbers = [m.id_number for m in FamilyMember.objects.exclude(id_number_index="")]
    numbers += [v.id_number for v in Volunteer.objects.exclude(id_number_index="")]
    masked = [n[:6] + "*" * 8 + n[-4:] for n in numbers]
    pattern = re.compile(r"\d{17}[\dXx]|\d{6}\*+\d{3}[\dXx]")
    log_in(phone, "coordinator")
    seen, queue = set(), ["/trainings/", "/volunteers/", "/activities/", "/families/", "/families/?q=wxy",
                          "/calendar/"]
    while queue and len(seen) < 60:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = phone.goto(path)
        if response.status != 200:
            continue
        text = phone.inner_text("body")
        html = phone.content()
        assert not pattern.search(text), path
        assert not any(n in html or m in html for n, m in zip(numbers, masked, strict=True)), path
        for href in phone.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            if href.startswith("/") and not href.startswith(("/admin", "/api", "/static", "/calendar/")) \
                    and href not in seen:
                queue.append(href)
    assert f"/families/{families['own'].pk}/" in seen and len(seen) >= 8
