"""A social worker's and a contact person's day on a 390×844 phone, from sign-in to the last step:
Today with everything due (a family overdue, the village contact's anniversary task, a notification),
tap-to-call with an audited reveal, the family page that starts with what is due and the recent
timeline, a check-in in four taps with its confirmation, and a search by an ID number's last digits.
Every page fits the screen and axe-core finds nothing serious or critical on it."""
import datetime
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from casemgmt.core.models import AuditEvent
from families import reminders
from families.models import CareTask, CheckIn, ContactAssignment, Family, FamilyMember
from volunteers.models import Pairing, Volunteer

from .a11y import assert_page_ok
from .conftest import log_in, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
# The phone's dialler is outside the browser: record where the page sends it, and go no further (a
# headless browser left with an unanswered tel: navigation would ignore the next tap on a link).
DIALLED = ("window.__dialled = []; document.addEventListener('click', function (e) {"
           " var a = e.target.closest('a[href^=\"tel:\"]');"
           " if (a) { window.__dialled.push(a.href); e.preventDefault(); } });")


@pytest.fixture
def day(people, families):
    """alice's family is overdue; its village contact holds the sweep's task for the child's death
    anniversary in three days, and both were told."""
    family = families["own"]
    Family.objects.filter(pk=family.pk).update(next_checkin_due=timezone.localdate() - datetime.timedelta(days=4))
    ContactAssignment.objects.create(family=family, user=people["contact"], kind="village_contact")
    soon = timezone.localdate() + datetime.timedelta(days=3)
    death = soon.replace(year=soon.year - 5) if (soon.month, soon.day) != (2, 29) else datetime.date(soon.year - 4, 2, 29)
    FamilyMember.objects.create(family=family, name="王小明", relation="child", is_deceased=True, death_date=death)
    reminders.sensitive_dates_sweep(region_path=family.region_path)
    family.refresh_from_db()
    return family, CareTask.objects.get(family=family, kind=CareTask.Kind.ANNIVERSARY)


def test_a_social_workers_day_from_today_to_a_check_in_and_a_search(phone, people, families, day):
    family, task = day
    mother = family.members.get(relation="mother")
    phone.add_init_script(DIALLED)
    log_in(phone, "alice")
    assert urlparse(phone.url).path == "/today/"
    overdue = phone.locator("#overdue")
    assert family.file_number in overdue.inner_text()
    assert task.description in overdue.inner_text() and "由 contact 负责" in overdue.inner_text()
    notification = phone.locator(f"#notifications a[href='/families/{family.pk}/']").first
    assert notification.is_visible() and "忌日" in notification.inner_text()
    assert_page_ok(phone)

    # Tap-to-call: one tap reveals the number (audited, with the reason "phone call") and dials it.
    with phone.expect_response(lambda r: "/reveal/" in r.url):
        phone.locator(f"#overdue #member-{mother.pk}-phone button[type=submit]").click()
    phone.locator(f"#member-{mother.pk}-phone a[href='tel:{mother.phone}']").wait_for(state="attached")
    wait_until(phone, "window.__dialled.length > 0")
    assert phone.evaluate("window.__dialled") == [f"tel:{mother.phone}"]
    assert AuditEvent.objects.filter(event="families.familymember.revealed", actor=people["alice"],
                                     object_ids__contains=[mother.pk]).count() == 1
    assert_page_ok(phone)

    # The notification opens the family page: what is due first, then the recent timeline.
    notification.click()
    phone.wait_for_url(f"**/families/{family.pk}/")
    top = phone.evaluate("[...document.querySelectorAll('main h2')].map(h => h.closest('section').id)")
    assert top[:2] == ["due", "timeline"]
    due = phone.inner_text("#due")
    assert "忌日" in due and "由 contact 负责" in due and "子女忌日（5 周年）" in due
    assert phone.locator("#next-due.late").is_visible()
    assert_page_ok(phone)

    # A check-in in four taps: "log check-in", the channel, how they are, save; then the confirmation.
    phone.click(f"a[href='/families/{family.pk}/checkin/']")
    phone.wait_for_url(f"**/families/{family.pk}/checkin/")
    assert_page_ok(phone)
    phone.check("input[name=channel][value=home_visit]")
    phone.check("input[name=mental_state][value=stable]")
    phone.click("#checkin-form button[type=submit]")
    phone.wait_for_url(f"**/families/{family.pk}/")
    phone.wait_for_selector("#outbox-notice.saved:not([hidden])")
    assert "联系记录已保存" in phone.inner_text("#outbox-notice")
    family.refresh_from_db()
    assert CheckIn.objects.filter(family=family).count() == 1 and family.next_checkin_due > timezone.localdate()
    assert phone.inner_text("#next-due") == f"{family.next_checkin_due:%Y-%m-%d}"
    assert "入户走访" in phone.inner_text("#timeline")
    assert_page_ok(phone)

    # Search by the last digits of an ID number, from Today's search box.
    phone.goto("/today/")
    assert family.file_number not in phone.inner_text("#overdue")  # contacted now
    phone.fill("#q", mother.id_number[-5:])
    phone.press("#q", "Enter")
    phone.wait_for_url("**/families/?q=*")
    assert family.file_number in phone.inner_text("#results")
    assert_page_ok(phone)


def test_a_contact_persons_day_their_task_the_family_and_a_search_that_says_why_it_found_nothing(
        phone, people, families, day):
    family, task = day
    log_in(phone, "contact")
    assert urlparse(phone.url).path == "/today/"
    assert task.description in phone.inner_text("#overdue") and "由您负责" in phone.inner_text("#overdue")
    assert_page_ok(phone)
    phone.click(f"#overdue a[href='/families/{family.pk}/']")
    phone.wait_for_url(f"**/families/{family.pk}/")
    assert "由您负责" in phone.inner_text("#due")
    assert "********" in phone.inner_text("main")  # the ID number stays masked for a contact person
    assert_page_ok(phone)
    mother = family.members.get(relation="mother")
    phone.goto(f"/families/?q={mother.id_number[-4:]}")
    assert family.file_number in phone.inner_text("#results")
    colleague = families["colleague"].members.get(relation="mother").id_number
    phone.goto(f"/families/?q={colleague[-6:]}")
    assert "后 4 至 6 位" in phone.inner_text("#no-family")
    assert_page_ok(phone)


def test_the_pairing_page_and_the_volunteers_page_on_a_phone(phone, regions, people, families):
    user = people["volunteer_user"]
    user.display_name = "黄丽华"
    user.save(update_fields=["display_name"])
    volunteer = Volunteer.objects.create(name="黄丽华", region=regions["zhangpu"], user=user)
    Volunteer.objects.create(name="陈志愿", region=regions["village"])
    Pairing.objects.create(volunteer=volunteer, family=families["own"])
    log_in(phone, "coordinator")
    phone.goto(f"/families/{families['own'].pk}/pairing/")
    assert "陈志愿" in phone.inner_text("main")
    assert_page_ok(phone)
    phone.context.clear_cookies()
    log_in(phone, "volunteer_user")
    assert urlparse(phone.url).path == "/me/"
    assert phone.inner_text("h1") == "黄丽华"
    assert "李建国 王秀英 · 东门村" in phone.locator("#id_family option").all_inner_texts()
    assert_page_ok(phone)
