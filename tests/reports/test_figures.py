"""Every figure by region adds up to the figure; flows of money and visits add up over the quarters;
premiums count in the period they were paid; the workbook a clerk hands in (formats, frozen headings,
filters, widths, sums, the masked public posting list)."""
import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse

from casemgmt.core.models import AuditEvent
from families.models import AssistanceEnrollment, ConsentRecord
from reports.excel import display_width
from reports.statistics import REGIONAL_FIGURES, ReportScope, regional_totals, statistics_compute, trends_compute
from tests.reports.conftest import YEAR

pytestmark = pytest.mark.django_db


def scope_for(user, **params):
    return ReportScope.from_params(user, {"year": str(YEAR), **params})


@pytest.mark.parametrize("username, params", [
    ("city_admin", {}), ("city_admin", {"quarter": "3"}), ("city_admin", {"region": "350623"}),
    ("manager", {}), ("alice", {}), ("carol", {"month": "9"}), ("city_admin", {"start": "2024-07-01", "end": "2025-06-30"}),
])
def test_every_breakdown_adds_up_to_its_figure(report_data, people, username, params):
    scope = scope_for(people[username], **params)
    totals = regional_totals(statistics_compute(scope))
    rows = trends_compute(scope)["by_region"]
    assert set(totals) == {key for key, _heading, _total in REGIONAL_FIGURES}
    for key, total in totals.items():
        assert sum(row[key] for row in rows) == total, key
    # Something of each figure is counted somewhere in the city's year, so no figure passes as 0 == 0.
    if username == "city_admin" and not params:
        assert all(totals.values()), [key for key, value in totals.items() if not value]


def test_the_city_and_the_county_have_a_row_of_their_own(report_data, people):
    city = {row["name"]: row for row in trends_compute(scope_for(people["city_admin"]))["by_region"]}
    assert list(city) == ["市本级", "云霄县", "漳浦县"]
    assert city["市本级"]["own_level"] and city["市本级"]["psych_aid_centres"] == 1
    assert city["市本级"]["volunteer_support"] == 1 and city["市本级"]["families"] == 0
    for county in ("漳浦县", "云霄县"):
        row = city[county]
        assert (row["insurance_premium"], row["claims_amount"], row["people_covered"]) == (
            Decimal("3600.00"), Decimal("2000.00"), 2)
        assert (row["assistance_amount"], row["grants_amount"], row["grant_beneficiaries"]) == (
            Decimal("4080.00"), Decimal("55000.00"), 2)
        assert (row["trainings"], row["training_participants"], row["volunteers_trained"]) == (2, 3, 2)
        assert (row["consolation_visits"], row["consolation_cash"], row["consolation_goods"]) == (
            3, Decimal("1000.00"), Decimal("250.50"))


FLOWS = {
    "consolation_visits", "consolation_cash", "consolation_goods", "free_checkups", "insurance_premium", "claims_paid",
    "claims_amount", "assistance_payments", "assistance_amount", "volunteer_support", "volunteer_support_amount",
    "grants", "grants_amount", "activities", "participants", "trainings", "training_participants",
}


def test_the_quarters_add_up_to_the_year(report_data, people):
    user = people["city_admin"]
    year = regional_totals(statistics_compute(scope_for(user)))
    quarters = [regional_totals(statistics_compute(scope_for(user, quarter=str(q)))) for q in (1, 2, 3, 4)]
    for key in FLOWS:
        assert sum(q[key] for q in quarters) == year[key], key
    assert [q["insurance_premium"] for q in quarters] == [0, 0, Decimal("7000.00"), Decimal("200.00")]


def test_a_policy_across_two_years_is_paid_and_counted_once(report_data, people):
    user = people["manager"]
    last_year = statistics_compute(ReportScope.from_params(user, {"year": str(YEAR - 1)}))["insurance"]
    this_year = statistics_compute(scope_for(user))["insurance"]
    next_year = statistics_compute(ReportScope.from_params(user, {"year": str(YEAR + 1)}))["insurance"]
    # July 2024 – June 2025: in force in both years, paid in 2024 only; the renewal paid in 2025 and 2026.
    assert (last_year["policies"], this_year["policies"], next_year["policies"]) == (1, 2, 1)
    assert (last_year["premium"], this_year["premium"], next_year["premium"]) == (
        Decimal("6800.00"), Decimal("3600.00"), Decimal("3400.00"))
    # The refunded policy's payment counts in no year.
    total = last_year["premium"] + this_year["premium"] + next_year["premium"]
    assert total == Decimal("13800.00")


def _shown(value):
    if isinstance(value, datetime.datetime):
        return "0000-00-00"
    return "" if value is None else str(value)


def _posting_list(families):
    mother = families["own"].members.get(relation="mother")
    AssistanceEnrollment.objects.create(member=mother, family=families["own"], status="approved")
    ConsentRecord.objects.create(family=families["own"], purpose="public_posting", given=True)
    # No consent: not posted.
    colleague = families["colleague"].members.get(relation="mother")
    AssistanceEnrollment.objects.create(member=colleague, family=families["colleague"], status="approved")
    return mother


def test_the_workbook_a_clerk_hands_in(client, login, report_data, families):
    mother = _posting_list(families)
    login("manager")
    response = client.get(reverse("api:reports-workbook"), {"year": str(YEAR)})
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A1:"), sheet.title
        for column, heading in enumerate(next(sheet.iter_rows(max_row=1, values_only=True)), start=1):
            width = sheet.column_dimensions[openpyxl.utils.get_column_letter(column)].width
            widest = max(display_width(_shown(cell.value)) for cell in next(sheet.iter_cols(min_col=column, max_col=column)))
            assert width >= min(widest, 58), (sheet.title, heading, width, widest)
    summary = {row[0].value: row[1] for row in book["概况"].iter_rows(min_row=2)}
    coverage = summary["联系覆盖率"]
    assert coverage.value == 0.5 and coverage.number_format == "0.00%"
    assert summary["慰问现金（元）"].number_format == "#,##0.00" and summary["慰问现金（元）"].value == 1000
    assert summary["慰问物资价值（元）"].value == 250.5 and summary["慰问人次"].value == 3
    assert summary["保险理赔金额（元）"].value == 2000 and summary["资助受益人数"].value == 2
    # A CJK heading is measured double: "联系覆盖率" is five characters, ten columns.
    assert book["概况"].column_dimensions["A"].width >= 2 * len("慰问物资价值") + 2

    by_region = list(book["按地区"].iter_rows(values_only=True))
    headings, rows, total = by_region[0], by_region[1:-1], by_region[-1]
    assert headings[0] == "地区" and total[0] == "合计" and [r[0] for r in rows] == ["县本级", "绥安镇"]
    assert book["按地区"].auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(headings))}{len(rows) + 1}"
    for column in range(1, len(headings)):
        assert sum(Decimal(str(r[column])) for r in rows) == Decimal(str(total[column])), headings[column]
    assert total[headings.index("心理慰藉援助中心")] == 1 and total[headings.index("保险保费（元）")] == 3600

    posting = list(book["公示名单"].iter_rows(values_only=True))
    assert posting[0] == ("区域", "姓名", "身份证号码", "类别", "状态")
    assert len(posting) == 2  # the consenting family only
    row = posting[1]
    assert row[1] == "王*英" and row[2] == mother.id_number[:6] + "********" + mother.id_number[-4:]
    event = AuditEvent.objects.filter(event="reports.export.masked").latest("id")
    assert event.after["list"] == "public_posting" and event.after["rows"] == 1
    assert "families.familymember.name" in event.after["masked"]


def test_the_workbook_page_has_the_same_sheets(client, login, report_data, families):
    _posting_list(families)
    login("manager")
    response = client.get(reverse("reports:workbook"), {"year": str(YEAR)})
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[-2:] == ["按地区", "公示名单"] and book["公示名单"].max_row == 2


def test_the_page_and_the_api_show_every_figure_by_region(client, login, report_data):
    login("city_admin")
    body = client.get(reverse("api:reports-trends"), {"year": str(YEAR)}).json()
    row = next(r for r in body["by_region"] if r["name"] == "市本级")
    assert row["own_level"] and row["volunteer_support_amount"] == "1200.00"
    assert {key for key, _h, _t in REGIONAL_FIGURES} <= set(row)
    page = client.get(reverse("reports:index"), {"year": str(YEAR)}).content.decode()
    assert "市本级" in page and "心理慰藉援助中心" in page and "保险理赔金额（元）" in page
    annual = client.get(reverse("reports:annual"), {"year": str(YEAR)}).content.decode()
    assert "市本级" in annual and "55000.00" in annual.replace(",", "")


def test_new_figures_drill_down_to_their_records(client, login, report_data):
    login("manager")
    for figure, count in (("insurance_premiums", 2), ("claims_paid", 1), ("assistance_payments", 2), ("grants", 2),
                          ("trainings", 2), ("training_participants", 3), ("consolation", 3)):
        body = client.get(reverse("api:reports-drilldown", args=[figure]), {"year": str(YEAR)}).json()
        assert body["count"] == count, figure
    youth = client.get(reverse("api:reports-drilldown", args=["trainings"]),
                       {"year": str(YEAR), "programme": "youth_health"}).json()
    assert youth["count"] == 1 and youth["results"][0]["programme"] == "青春健康主持人培训"
    grants = client.get(reverse("api:reports-drilldown", args=["grants"]), {"year": str(YEAR)}).json()["results"]
    assert len(grants) == 2 and not any("王秀英" in row["recipient"] for row in grants)  # names masked
    visits = client.get(reverse("api:reports-drilldown", args=["consolation"]), {"year": str(YEAR)}).json()["results"]
    assert [row["visited_on"] for row in visits] == [f"{YEAR}-01-20", f"{YEAR}-04-03", f"{YEAR}-09-15"]
    assert visits[0]["visitor"] == "县计生协" and visits[2]["member"] == "王*英"


def test_a_period_without_records_has_no_rows_and_adds_up(report_data, people):
    scope = ReportScope.from_params(people["manager"], {"year": "2010"})
    figures = statistics_compute(scope)
    assert regional_totals(figures)["insurance_premium"] == 0
    assert all(sum(row[key] for row in trends_compute(scope)["by_region"]) == total
               for key, total in regional_totals(figures).items())
