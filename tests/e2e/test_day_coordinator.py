"""The volunteer coordinator's day on a 390×844 phone in headless Chromium: the "5+N" planner from
the home page, planning an activity at a site, inviting a family and a volunteer, attendance refused
before the start and taken after it; and a county coordinator scheduling a session of a city course.
Every page fits the screen and has no serious axe-core violation."""
import datetime
import re
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from services.models import Activity, ActivityAttendance, ActivityInvitation, ServiceSite
from volunteers.models import Skill, TrainingCourse, TrainingSession, Volunteer

from .a11y import assert_page_ok
from .conftest import log_in, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_coordinator_plans_an_activity_invites_and_takes_attendance_on_the_day(phone, regions, people, families):
    site = ServiceSite.objects.create(kind=ServiceSite.Kind.WARM_HEART_HOME, name="绥安暖心家园", region=regions["suian"])
    volunteer = Volunteer.objects.create(name="陈志愿", region=regions["suian"])
    mother = families["own"].members.get(relation="mother")
    log_in(phone, "coordinator")
    assert urlparse(phone.url).path == "/trainings/"  # the coordinator's home
    assert_page_ok(phone)
    phone.click("header nav a[href='/activities/']")
    phone.wait_for_url("**/activities/")
    assert_page_ok(phone)

    phone.click("#plan-activity")
    phone.wait_for_url("**/activities/new/**")
    assert_page_ok(phone)
    start = timezone.localtime() + datetime.timedelta(days=2)
    phone.select_option("#id_site", label="绥安暖心家园")
    phone.check("input[name=category][value=lecture]")
    phone.fill("#id_title", "心理健康讲座")
    phone.fill("#id_starts_at", start.strftime("%Y-%m-%dT09:00"))
    phone.fill("#id_ends_at", start.strftime("%Y-%m-%dT08:00"))  # a slip of the thumb: before the start
    phone.fill("#id_capacity", "20")
    phone.click("#activity-form button[type=submit]")
    phone.wait_for_load_state()
    assert "活动的结束时间须晚于开始时间。" in phone.inner_text("#activity-form")
    assert_page_ok(phone)
    phone.fill("#id_ends_at", start.strftime("%Y-%m-%dT11:00"))
    phone.click("#activity-form button[type=submit]")
    phone.wait_for_url(re.compile(r".*/activities/\d+/$"))
    activity = Activity.objects.get(title="心理健康讲座")
    assert activity.site == site and "活动已安排" in phone.inner_text(".messages")
    assert_page_ok(phone)

    phone.check(f"#invite input[name=member][value='{mother.pk}']")
    phone.check(f"#invite input[name=volunteer][value='{volunteer.pk}']")
    phone.click("#invite button[value=invite]")
    phone.wait_for_load_state()
    assert "已邀请 2 人。" in phone.inner_text(".messages")
    assert ActivityInvitation.objects.filter(activity=activity).count() == 2
    assert "王秀英" in phone.inner_text("#attendance") and "陈志愿" in phone.inner_text("#attendance")
    assert_page_ok(phone)

    # Two days ahead nobody can have come: the ticks are disabled and there is no button.
    assert phone.locator("#attendance-closed").is_visible()
    assert phone.locator("#attendance input[name=present]").first.is_disabled()
    assert phone.locator("input[value=attendance] ~ button[type=submit]").count() == 0
    # Sent anyway (a page from before the start, a crafted form): the server refuses, in Chinese.
    with phone.expect_navigation():
        phone.evaluate("""() => {
            const form = document.querySelector("input[value=attendance]").form;
            form.querySelector("fieldset").disabled = false;
            form.querySelector("input[name=present]").checked = true;
            form.submit();
        }""")
    assert "活动开始后才能登记出勤" in phone.inner_text(".messages")
    assert not ActivityAttendance.objects.exists()
    assert_page_ok(phone)

    begun = timezone.now() - datetime.timedelta(minutes=5)
    Activity.objects.filter(pk=activity.pk).update(starts_at=begun, ends_at=begun + datetime.timedelta(hours=2))
    phone.reload()
    for checkbox in phone.locator("#attendance input[name=present]").all():
        checkbox.check()
    phone.click("input[value=attendance] ~ button[type=submit]")
    phone.wait_for_load_state()
    wait_until(phone, "document.querySelector('#attended').textContent === '2'")
    assert set(ActivityAttendance.objects.values_list("member_id", "volunteer_id")) == {(mother.pk, None),
                                                                                         (None, volunteer.pk)}
    assert_page_ok(phone)

    # The planner's month shows it, with who came, and leads back to it.
    phone.goto(f"/activities/?date={timezone.localdate(begun):%Y-%m-%d}&site={site.pk}")
    item = phone.locator(f"li.item:has(a[href='/activities/{activity.pk}/'])").first
    assert "2 已参加" in item.inner_text()
    assert_page_ok(phone)
    item.locator("a").click()
    phone.wait_for_url(f"**/activities/{activity.pk}/")
    assert_page_ok(phone)


def test_county_coordinator_schedules_a_session_of_a_city_course(phone, regions, people):
    skill = Skill.objects.create(code="psych", name="心理疏导")
    TrainingCourse.objects.create(title="心理慰藉基础（市级课程）", region=regions["zhangzhou"], skill=skill)
    log_in(phone, "coordinator")
    assert_page_ok(phone)
    phone.click("a[href='/trainings/new/']")
    phone.wait_for_url("**/trainings/new/")
    assert_page_ok(phone)
    start = timezone.localtime() + datetime.timedelta(days=5)
    phone.select_option("#id_course", label="心理慰藉基础（市级课程）")
    phone.fill("#id_starts_at", start.strftime("%Y-%m-%dT14:00"))
    phone.fill("#id_ends_at", start.strftime("%Y-%m-%dT16:00"))
    phone.fill("#id_venue", "漳浦县计生协")
    phone.fill("#id_capacity", "12")
    phone.click("form.card button[type=submit]")
    phone.wait_for_url(re.compile(r".*/trainings/\d+/$"))
    session = TrainingSession.objects.get(venue="漳浦县计生协")
    # The city's course, held in the coordinator's county.
    assert (session.course.region, session.region) == (regions["zhangzhou"], regions["zhangpu"])
    assert_page_ok(phone)
    phone.goto(f"/trainings/?view=week&date={start:%Y-%m-%d}")
    assert "心理慰藉基础（市级课程）" in phone.inner_text("main")
    assert_page_ok(phone)
