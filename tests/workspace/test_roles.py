"""Each role's day without a dead end: translated error pages with a way home, the auditor's trail,
coverage counts that open their families, tap-to-call on Today, and search by an ID number's last digits."""
import csv
import datetime
import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from casemgmt.core.models import AuditEvent
from families.models import ContactAssignment, Family
from tests.conftest import add_family

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
pytestmark = pytest.mark.django_db


def signed_in(user):
    client = Client(**ZH)
    client.force_login(user)
    return client


def make_overdue(family, days=3):
    Family.objects.filter(pk=family.pk).update(next_checkin_due=timezone.localdate() - datetime.timedelta(days=days))


def body(response):
    return b"".join(response.streaming_content if response.streaming else [response.content]).decode()


# --- error pages ----------------------------------------------------------------------------------

def test_error_pages_are_translated_and_lead_home(people, families):
    volunteer = signed_in(people["volunteer_user"])
    forbidden = volunteer.get("/families/")
    assert forbidden.status_code == 403
    html = forbidden.content.decode()
    assert "您的角色无权访问" in html and 'href="/"' in html and "403 Forbidden" not in html
    missing = signed_in(people["alice"]).get(f"/families/{families['outside'].pk}/")
    assert missing.status_code == 404 and "页面不存在" in missing.content.decode() and "返回首页" in missing.content.decode()
    assert Client(**ZH).get("/no-such-page/").status_code == 404


def test_a_form_sent_without_its_csrf_token_gets_the_translated_page(people):
    client = Client(enforce_csrf_checks=True, **ZH)
    client.force_login(people["alice"])
    response = client.post("/notifications/read/")
    assert response.status_code == 403 and "表单已过期" in response.content.decode()


def test_bad_request_and_server_error_pages(people, monkeypatch):
    bad = Client(**ZH).get("/login/", HTTP_HOST="bad host!")
    assert bad.status_code == 400 and "请求有误" in bad.content.decode()
    from workspace import selectors

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "today_worklist", broken)
    client = signed_in(people["alice"])
    client.raise_request_exception = False
    crashed = client.get("/today/")
    assert crashed.status_code == 500 and "出错了" in crashed.content.decode() and "boom" not in crashed.content.decode()


def test_errors_under_the_api_keep_the_api_shape(people):
    for response in (Client().get("/api/no-such-thing/"), Client().get("/api/v1/no-such-thing/")):
        assert response.status_code == 404 and response.json()["errors"][0]["code"] == "not_found"
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["alice"])
    refused = client.post("/api/v1/notifications/read-all/")
    assert refused.status_code == 403 and set(refused.json()) == {"detail", "errors"}


# --- the auditor's day ----------------------------------------------------------------------------

@pytest.fixture
def trail(people, families):
    alice, carol = people["alice"], people["carol"]
    own = families["own"]
    day = timezone.now() - datetime.timedelta(days=10)
    rows = {
        "reveal": AuditEvent.objects.create(actor=alice, actor_role="social_worker", event="families.familymember.revealed",
                                            family_id=own.pk, region_path=own.region_path, reason="电话回访",
                                            object_type="families.familymember", object_ids=[1],
                                            after={"fields": ["phone"], "surface": "workspace"}),
        "old": AuditEvent.objects.create(actor=alice, actor_role="social_worker", event="api.families.family.list",
                                         region_path=own.region_path, at=day),
        # Another city: outside the auditor of 漳州市.
        "elsewhere": AuditEvent.objects.create(actor=carol, event="families.familymember.revealed", region_path="3505",
                                               reason="outside"),
    }
    return rows


def test_the_auditor_lands_on_the_trail_of_their_region_with_field_names_never_values(people, trail):
    client = signed_in(people["auditor"])
    assert client.get("/").url == reverse("workspace:audit")
    assert client.get("/today/").url == reverse("workspace:audit")
    page = client.get(reverse("workspace:audit"))
    html = page.content.decode()
    assert page.status_code == 200 and "审计日志" in html
    assert "families.familymember.revealed" in html and "电话回访" in html and "phone" in html
    assert "outside" not in html  # another city's row
    assert 'href="/audit/"' in html  # the navigation names the auditor's work


def test_the_trail_filters_by_family_person_event_and_period(people, families, trail):
    client = signed_in(people["auditor"])

    def shown(**params):
        html = client.get(reverse("workspace:audit"), params).content.decode()
        return {name for name, row in trail.items() if f'id="audit-{row.pk}"' in html}

    assert shown(family=families["own"].pk) == {"reveal"}
    assert shown(actor="alice") == {"reveal", "old"}
    assert shown(actor="carol") == set()
    assert shown(event="api.") == {"old"}
    today = timezone.localdate()
    assert shown(since=today - datetime.timedelta(days=1)) == {"reveal"}
    assert shown(until=today - datetime.timedelta(days=5)) == {"old"}
    wrong = client.get(reverse("workspace:audit"), {"since": "2026-05-01", "until": "2026-04-01"})
    assert wrong.status_code == 200 and "时间段的结束不能早于开始" in wrong.content.decode()
    malformed = client.get(reverse("workspace:audit"), {"since": "not a date"})
    assert malformed.status_code == 200 and "有效的日期" in malformed.content.decode()


def test_the_trail_pages_without_counting(people, regions):
    for i in range(55):
        AuditEvent.objects.create(event=f"test.row.{i:02d}", region_path=regions["village"].path)
    client = signed_in(people["auditor"])
    first = client.get(reverse("workspace:audit"), {"event": "test.row"}).content.decode()
    assert first.count("<strong>test.row.") == 50 and "page=2" in first
    second = client.get(reverse("workspace:audit"), {"event": "test.row", "page": 2}).content.decode()
    assert second.count("<strong>test.row.") == 5 and "page=3" not in second and "event=test.row" in second


def test_the_csv_export_carries_the_filtered_rows_and_is_itself_audited(people, families, trail):
    client = signed_in(people["auditor"])
    response = client.get(reverse("workspace:audit"), {"actor": "alice", "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body(response).lstrip("\ufeff"))))
    assert rows[0][:4] == ["时间", "用户名", "角色", "事件"]
    events = sorted(row[3] for row in rows[1:])
    assert events == ["api.families.family.list", "families.familymember.revealed"]
    assert any(row[8] == "phone" and row[9] == "电话回访" for row in rows[1:])
    exported = AuditEvent.objects.get(event="workspace.audit.exported")
    assert exported.actor == people["auditor"] and exported.after == {"filters": {"actor": "alice"}}


@pytest.mark.parametrize("name", ["manager", "alice", "contact", "coordinator", "volunteer_user"])
def test_only_readers_of_the_trail_open_it(people, name):
    response = signed_in(people[name]).get(reverse("workspace:audit"))
    assert response.status_code == 403 and "返回首页" in response.content.decode()


# --- the region manager's day ---------------------------------------------------------------------

def test_every_coverage_count_opens_the_families_behind_it(people, regions, families):
    manager = people["manager"]
    make_overdue(families["own"])
    make_overdue(families["colleague"], days=9)
    Family.objects.filter(pk=families["colleague"].pk).update(risk_level="red")
    ContactAssignment.objects.filter(family=families["colleague"]).update(ended_on=timezone.localdate())
    client = signed_in(manager)
    html = client.get(reverse("workspace:coverage")).content.decode()
    assert reverse("reports:index") in html and 'href="/reports/' in html

    def listed(query):
        page = client.get("/families/?" + query.replace("&amp;", "&"))
        assert page.status_code == 200, query
        return {f.file_number for f in page.context["page"].object_list}

    code = regions["zhangpu"].code
    assert listed(f"region={code}&open=1") == {"ZP-0001", "ZP-0002"}
    assert listed(f"region={code}&open=1&overdue=1") == {"ZP-0001", "ZP-0002"}
    assert listed(f"region={code}&open=1&risk=red") == {"ZP-0002"}
    assert listed(f"region={code}&open=1&overdue=1&contact={people['alice'].pk}") == {"ZP-0001"}
    assert listed(f"region={code}&open=1&overdue=1&unassigned=1") == {"ZP-0002"}
    assert listed(f"region={code}&open=1&contacted=yes") == set()
    # Each link the page shows lists as many families as the count beside it.
    for href, count in (
        (f"/families/?region={code}&amp;open=1&amp;overdue=1&amp;contact={people['alice'].pk}", 1),
        (f"/families/?region={code}&amp;open=1&amp;overdue=1&amp;unassigned=1", 1),
    ):
        assert f'href="{href}">{count}</a>' in html
    # Another county is not the manager's, whatever the link says; nonsense is a clear 400.
    assert client.get("/families/", {"region": regions["yunxiao"].code}).status_code == 404
    bad = client.get("/families/", {"risk": "purple"})
    assert bad.status_code == 400 and "risk" in bad.content.decode()


def test_reports_link_back_to_the_workspace(people):
    html = signed_in(people["manager"]).get(reverse("reports:index")).content.decode()
    assert 'href="/"' in html and "返回工作台" in html


# --- tap-to-call and search by the last digits --------------------------------------------------------

def test_today_offers_to_call_a_parent_and_the_tap_reveals_the_number_with_an_audit_row(people, families):
    family = families["own"]
    make_overdue(family)
    mother = family.members.get(relation="mother")
    client = signed_in(people["alice"])
    html = client.get(reverse("workspace:today")).content.decode()
    action = reverse("workspace:member_reveal", args=[family.pk, mother.pk])
    assert f'action="{action}"' in html and mother.phone not in html and "138****0001" in html
    assert "/static/workspace/call.js" in html
    answer = client.post(action, {"field": "phone", "reason": "给家庭打电话"}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    assert f'href="tel:{mother.phone}"' in answer.content.decode() and "data-dial" in answer.content.decode()
    row = AuditEvent.objects.get(event="families.familymember.revealed", actor=people["alice"])
    assert row.object_ids == [mother.pk] and row.after["fields"] == ["phone"] and row.reason == "给家庭打电话"


@pytest.fixture
def numbered(people, regions, families):
    own = families["own"]
    ContactAssignment.objects.create(family=own, user=people["contact"], kind="village_contact")
    return own, own.members.get(relation="mother").id_number


def test_a_caseload_is_searchable_by_the_last_four_to_six_digits_of_an_id_number(people, families, numbered):
    own, number = numbered
    for name in ("alice", "contact"):
        client = signed_in(people[name])
        for digits in (number[-4:], number[-5:], number[-6:]):
            page = client.get(reverse("workspace:families"), {"q": digits})
            assert [f.pk for f in page.context["page"].object_list] == [own.pk], (name, digits)


def test_the_last_digits_find_nothing_outside_the_caseload_and_say_so(people, families, numbered):
    _own, number = numbered
    colleague_number = families["colleague"].members.get(relation="mother").id_number
    page = signed_in(people["alice"]).get(reverse("workspace:families"), {"q": colleague_number[-6:]})
    html = page.content.decode()
    assert list(page.context["page"].object_list) == [] and "没有找到与“" in html and "后 4 至 6 位" in html
    # A region manager has no caseload: the last digits are no search for them (they would list strangers).
    manager = signed_in(people["manager"]).get(reverse("workspace:families"), {"q": number[-6:]})
    assert list(manager.context["page"].object_list) == [] and "后 4 至 6 位" not in manager.content.decode()


def test_searching_by_the_last_digits_costs_the_same_queries_however_large_the_caseload(people, regions, families,
                                                                                        numbered):
    client = signed_in(people["alice"])
    suffix = numbered[1][-4:]

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("workspace:families"), {"q": suffix}).status_code == 200
        return len(captured)

    before = queries()
    for i in range(5):
        add_family(regions["village"], f"ZP-1{i:03d}", owner=people["alice"], mother_seq=40 + i, father_seq=60 + i)
    assert queries() == before


# --- favicon, Redoc ---------------------------------------------------------------------------------

def test_every_base_template_names_the_icon_and_redoc_loads_nothing_from_outside(people):
    icon = "/static/workspace/favicon.svg"
    assert icon in Client().get("/login/").content.decode()
    assert icon in Client().get("/admin/login/").content.decode()
    assert icon in signed_in(people["manager"]).get(reverse("reports:index")).content.decode()
    assert icon in Client().get("/no-such-page/").content.decode()
    assert Client().get("/favicon.ico").url == icon
    redoc = Client().get("/api/redoc/").content.decode()
    assert "googleapis" not in redoc and "gstatic" not in redoc and icon in redoc
    assert '<script src="/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js">' in redoc
