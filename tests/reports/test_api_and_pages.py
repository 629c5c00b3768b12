"""Every report endpoint and page from the outside, as alice, bob, carol and the manager."""
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from casemgmt.core.models import AuditEvent
from tests.reports.conftest import YEAR

pytestmark = pytest.mark.django_db
Q = {"year": str(YEAR)}


def api(name, *args):
    return reverse(f"api:reports-{name}", args=args)


def test_anonymous_and_roles_without_figures_are_refused(client, report_data, login):
    assert client.get(api("statistics"), Q).status_code == 401
    assert client.get(reverse("reports:index")).status_code == 302  # to the login page
    login("volunteer_user")
    assert client.get(api("statistics"), Q).status_code == 403
    assert client.get(reverse("reports:index")).status_code == 403
    client.logout()
    login("auditor")
    assert client.get(api("drilldown", "families"), Q).status_code == 403


@pytest.mark.parametrize("username, n_families, consolation", [
    ("alice", 1, "1250.50"), ("bob", 1, "0.00"), ("carol", 1, "1250.50"), ("manager", 2, "1250.50"),
])
def test_statistics_api_per_person(client, report_data, login, username, n_families, consolation,
                                   django_assert_max_num_queries):
    login(username)
    with django_assert_max_num_queries(28):
        body = client.get(api("statistics"), Q).json()
    assert body["families"]["total"] == n_families
    assert body["consolation"]["amount"] == consolation


def test_carol_never_sees_alices_county(client, report_data, login):
    login("carol")
    assert client.get(api("statistics"), {**Q, "region": "350623"}).status_code == 404
    assert client.get(reverse("reports:index"), {**Q, "region": "350623"}).status_code == 404
    body = client.get(api("trends"), Q).json()
    assert all(not row["path"].startswith("350623") for row in body["by_region"])
    for figure in ("sites", "activities", "families", "insurance_policies", "participants"):
        rows = client.get(api("drilldown", figure), Q).json()["results"]
        assert rows, figure
        text = str(rows)
        assert "漳浦" not in text and "ZP" not in text, figure
    page = client.get(reverse("reports:drilldown", args=["sites"]), Q).content.decode()
    assert "心理慰藉中心YX" in page and "ZP" not in page


@pytest.mark.parametrize("username", ["alice", "bob", "carol", "manager"])
def test_drilldown_api_count_equals_the_figure(client, report_data, login, username):
    login(username)
    figures = client.get(api("statistics"), Q).json()
    expected = {"consolation": figures["consolation"]["person_visits"], "families": figures["families"]["total"],
                "sites": figures["sites"]["total"], "participants": figures["activities"]["participants"],
                "insured_people": figures["insurance"]["people_covered"],
                "families_contacted": figures["checkin_coverage"]["contacted"]}
    for figure, value in expected.items():
        body = client.get(api("drilldown", figure), Q).json()
        assert body["count"] == value == len(body["results"]), figure
    assert client.get(api("drilldown", "nonsense"), Q).status_code == 404
    assert AuditEvent.objects.filter(event="reports.drilldown.families", actor__username=username).exists()


def test_drilldown_masks_names(client, report_data, login):
    login("manager")
    rows = client.get(api("drilldown", "insured_people"), Q).json()["results"]
    assert sorted(row["name"] for row in rows) == ["李*国", "王*英"]


def test_pages_render_with_svg_charts_and_print_css(client, report_data, login):
    login("manager")
    page = client.get(reverse("reports:index"), Q)
    html = page.content.decode()
    assert page.status_code == 200
    # Eight charts, drawn or noted as empty; the only script is the print button's file (no inline script).
    assert len(re.findall(r'class="chart[ "]', html)) == 8 and "<svg" in html
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/reports/print.js" defer>']
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "1250.50" in html
    annual = client.get(reverse("reports:annual"), Q).content.decode()
    assert "@media print" in annual and "<svg" in annual and "绥安镇" in annual
    assert "onclick" not in annual and 'data-print' in annual
    assert 'name="viewport"' in annual and reverse("workspace:home") in annual


def test_a_chart_with_nothing_to_draw_says_so_instead_of_empty_axes(client, report_data, login):
    login("manager")
    html = client.get(reverse("reports:index"), {"year": 2001}).content.decode()
    with translation.override("zh-hans"):
        empty = [_("Consolation amount by month (CNY)"), _("Activity participants by month"),
                 _("Activity participants by category")]
    for title in empty:
        assert f'<figure class="chart no-data"><figcaption>{title}</figcaption><p>本地区本期没有数据。</p>' in html
    assert len(re.findall(r'class="chart[ "]', html)) == 8


def test_workbook_has_one_sheet_per_group_with_chinese_headings(client, report_data, login):
    login("manager")
    for url in (api("workbook"), reverse("reports:workbook")):
        response = client.get(url, Q)
        assert response.status_code == 200
        book = openpyxl.load_workbook(io.BytesIO(response.content))
        assert book.sheetnames == ["概况", "服务阵地", "慰问与支持", "保险", "特别扶助", "资助项目", "活动", "培训",
                                   "志愿者与联系", "家庭", "按月", "按地区", "公示名单"]
        summary = {row[0]: row[1] for row in book["概况"].iter_rows(min_row=2, values_only=True)}
        assert summary["慰问金额（元）"] == 1250.5
        assert summary["慰问人次"] == 3
        assert summary["免费体检"] == 2
        assert summary["保险保费（元）"] == 3600
        assert summary["志愿者支持经费（元）"] == 300
        assert summary["家庭"] == 2
        assert [c.value for c in book["活动"][1]] == ["类别", "活动", "参与人次"]
        months = list(book["按月"].iter_rows(min_row=2, values_only=True))
        assert len(months) == 12 and months[0][0] == f"{YEAR}-01" and months[0][2] == 1000
        assert Decimal(str(sum(r[2] for r in months))) == Decimal("1000")  # cash
        assert Decimal(str(sum(r[3] for r in months))) == Decimal("250.5")  # goods
