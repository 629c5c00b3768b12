"""Every page of the workspace and the reports, as each role opens it on a 390×844 phone: none scrolls
sideways or has an axe-core violation of serious or critical impact, and every link or button standing
on its own is at least 44 px either way."""
import pytest
from django.template.loader import render_to_string
from django.utils.translation import override

from .a11y import assert_fits, assert_page_ok, small_targets
from .conftest import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

def pages(regions, families, workday):
    """Each role's pages (path, expected status): what its menu and its pages link to, a search with and
    without a result, and the error pages it can meet."""
    own, now = families["own"].pk, workday["now"]
    zhangpu, suian = regions["zhangpu"].code, regions["suian"].code
    digits = families["colleague"].members.get(relation="mother").id_number[-4:]
    reports = ["/reports/", "/reports/annual/", f"/reports/?region={zhangpu}", "/reports/drilldown/families/",
               "/reports/drilldown/trainings/", "/reports/import/families/", "/reports/import/roster/"]
    return {
        None: [("/login/", 200), ("/offline/", 200), ("/no-such-page/", 404)],
        "alice": ["/today/", "/families/", "/families/?q=ZP", f"/families/?q={digits}", f"/families/{own}/",
                  f"/families/{own}/checkin/", "/calendar/", ("/no-such-page/", 404), ("/audit/", 403)],
        "contact": ["/today/", "/families/", "/calendar/"],
        "coordinator": ["/trainings/", "/trainings/?view=week", f"/trainings/?view=week&date={now.starts_at:%Y-%m-%d}",
                        "/trainings/new/", f"/trainings/{now.pk}/", f"/trainings/{workday['later'].pk}/",
                        f"/trainings/checkin/{now.qr_token}/", "/volunteers/", "/activities/", "/families/",
                        f"/families/{own}/pairing/", "/calendar/"],
        "volunteer_user": ["/me/", f"/trainings/checkin/{now.qr_token}/", "/calendar/", ("/families/", 403)],
        "manager": ["/coverage/", f"/coverage/?region={suian}", f"/families/?region={zhangpu}&open=1&overdue=1",
                    f"/families/?region={zhangpu}&open=1&risk=red", ("/families/?risk=purple", 400), "/today/",
                    "/families/", "/trainings/",
                    f"/trainings/{now.pk}/", *reports, "/calendar/"],
        "city_admin": ["/coverage/", "/reports/", "/reports/annual/"],
        "auditor": ["/audit/", "/audit/?actor=alice", f"/audit/?family={own}", "/calendar/", ("/families/", 403)],
    }


def visit(page, path, status):
    response = page.goto(path)
    page.wait_for_load_state()
    assert response.status == status, f"{path}: {response.status}"


def each_page(browser, live_server, regions, families, workday):
    """Every page of every role, opened in a fresh phone of that role: yields (page, path)."""
    from .conftest import PHONE

    for username, paths in pages(regions, families, workday).items():
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                      base_url=live_server.url, locale="zh-CN")
        context.set_default_timeout(15000)
        page = context.new_page()
        try:
            if username:
                log_in(page, username)
            for entry in paths:
                path, status = entry if isinstance(entry, tuple) else (entry, 200)
                visit(page, path, status)
                yield page, f"{username}: {path}"
        finally:
            context.close()


def test_every_page_of_every_role_fits_the_phone_and_passes_axe(browser, live_server, regions, people, families, workday):
    seen = 0
    for page, _where in each_page(browser, live_server, regions, families, workday):
        assert_page_ok(page)
        seen += 1
    assert seen >= 50

    # The server-error page, as Django serves it (no request context: it must render when the database is down).
    page = browser.new_page(viewport={"width": 390, "height": 844}, base_url=live_server.url)
    with override("zh-hans"):
        body = render_to_string("500.html")
    page.route("**/server-error/", lambda route: route.fulfill(status=500, body=body, content_type="text/html"))
    page.goto("/server-error/")
    assert "返回首页" in page.inner_text("main")
    assert_page_ok(page)
    # The admin's own sign-in page: Django's look, but not wider than the phone.
    page.goto("/admin/login/")
    assert_fits(page)
    page.close()


def test_no_tap_target_on_any_page_is_under_44_px(browser, live_server, regions, people, families, workday):
    small = {}
    for page, where in each_page(browser, live_server, regions, families, workday):
        if found := small_targets(page):
            small[where] = found
    assert not small, "\n".join(f"{where}: {', '.join(found)}" for where, found in small.items())
