"""The figures, exactly, for a county, a city and a caseload; each figure equals its drill-down."""
import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from casemgmt.core.errors import OutOfReachError
from reports.drilldown import FIGURES, drilldown_records
from reports.statistics import ReportScope, period_from_params, statistics_compute, trends_compute
from tests.reports.conftest import YEAR

pytestmark = pytest.mark.django_db


def scope_for(user, **params):
    return ReportScope.from_params(user, {"year": str(YEAR), **params})


def test_periods():
    assert period_from_params({"year": "2025"}).start == datetime.date(2025, 1, 1)
    quarter = period_from_params({"year": "2024", "quarter": "1"})
    assert (quarter.start, quarter.end) == (datetime.date(2024, 1, 1), datetime.date(2024, 3, 31))
    month = period_from_params({"year": "2024", "month": "2"})
    assert month.end == datetime.date(2024, 2, 29)
    custom = period_from_params({"start": "2025-03-01", "end": "2025-04-15"})
    assert (custom.start, custom.end, len(list(custom.months()))) == (datetime.date(2025, 3, 1), datetime.date(2025, 4, 15), 2)
    for bad in ({"year": "x"}, {"year": "2025", "quarter": "5"}, {"start": "2025-05-01", "end": "2025-04-01"}):
        with pytest.raises(ValidationError):
            period_from_params(bad)


def test_county_figures_for_the_manager(report_data, people, django_assert_max_num_queries):
    scope = scope_for(people["manager"])
    with django_assert_max_num_queries(20):
        figures = statistics_compute(scope)
    assert figures["sites"]["total"] == 2 and figures["sites"]["psych_aid_centres"] == 1
    kinds = {row["code"]: row["count"] for row in figures["sites"]["by_kind"]}
    assert kinds["psych_aid_centre"] == 1 and kinds["warm_heart_home"] == 1
    # Three visits, one with nothing given; cash and goods apart.
    assert figures["consolation"] == {"person_visits": 3, "cash": Decimal("1000.00"), "goods_value": Decimal("250.50"),
                                      "amount": Decimal("1250.50")}
    assert figures["free_checkups"] == {"count": 2}
    insurance = figures["insurance"]
    # Two policies in force in the year; of the premiums only what was paid in it: not the 2024 payment of
    # the policy across the two years, not next January's, not the refunded policy's.
    assert (insurance["policies"], insurance["premium"], insurance["people_covered"]) == (2, Decimal("3600.00"), 2)
    assert (insurance["claims_paid"], insurance["claims_amount"]) == (1, Decimal("2000.00"))
    assert {row["code"]: row["premium"] for row in insurance["by_product"]}["critical_illness"] == Decimal("3600.00")
    assert figures["volunteer_support"] == {"count": 1, "amount": Decimal("300.00")}
    assistance = figures["assistance_payments"]
    assert (assistance["count"], assistance["amount"]) == (2, Decimal("4080.00"))
    assert sum(row["amount"] for row in assistance["by_category"]) == Decimal("4080.00")
    assert figures["grants"] == {"count": 2, "amount": Decimal("55000.00"), "beneficiaries": 2,
                                 "outcome_amount": Decimal("30000.00")}
    trainings = figures["trainings"]
    assert (trainings["sessions"], trainings["participants"]) == (2, 3)
    by_programme = {row["code"]: (row["sessions"], row["participants"]) for row in trainings["by_programme"]}
    assert by_programme == {"volunteer": (1, 1), "youth_health": (1, 2), "other": (0, 0)}
    activities = {row["code"]: (row["activities"], row["participants"]) for row in figures["activities"]["by_category"]}
    assert activities["birthday"] == (1, 3) and activities["lecture"] == (1, 1) and activities["gathering"] == (0, 0)
    assert (figures["activities"]["total"], figures["activities"]["participants"]) == (2, 4)
    assert figures["volunteers_trained"] == {"count": 2}
    # alice's family was contacted in the year, bob's not.
    assert figures["checkin_coverage"] == {"contacted": 1, "active": 2, "rate": 0.5}
    assert figures["families"]["total"] == 2
    assert {r["code"]: r["count"] for r in figures["families"]["by_risk"]}["red"] == 1


def test_city_admin_sees_both_counties_and_the_quarter_narrows(report_data, people):
    city = statistics_compute(scope_for(people["city_admin"]))
    assert city["consolation"]["person_visits"] == 6 and city["consolation"]["amount"] == Decimal("2501.00")
    assert city["families"]["total"] == 3
    # Held at the city itself: counted in the city's figures.
    assert city["sites"]["total"] == 5 and city["volunteer_support"]["amount"] == Decimal("1800.00")
    q1 = statistics_compute(scope_for(people["city_admin"], quarter="1"))
    assert q1["consolation"]["person_visits"] == 2 and q1["consolation"]["amount"] == Decimal("2000.00")
    assert q1["insurance"]["policies"] == 2  # only the policy running since last July, in both counties
    one_county = statistics_compute(scope_for(people["city_admin"], region="350622"))
    assert one_county["families"]["total"] == 1


def test_region_outside_reach_is_refused(report_data, people):
    with pytest.raises(OutOfReachError):
        scope_for(people["carol"], region="350623")


def test_social_worker_sees_her_caseload_only(report_data, people):
    alice = statistics_compute(scope_for(people["alice"]))
    assert alice["families"]["total"] == 1
    assert alice["checkin_coverage"] == {"contacted": 1, "active": 1, "rate": 1.0}
    carol = statistics_compute(scope_for(people["carol"]))
    # carol's figures are yunxiao's only, never alice's county: her caseload's visits.
    assert carol["consolation"]["person_visits"] == 3 and carol["consolation"]["amount"] == Decimal("1250.50")
    assert carol["sites"]["total"] == 2
    for figure in FIGURES:
        rows = drilldown_records(scope_for(people["carol"]), figure)
        paths = {row.region.path for row in rows if hasattr(row, "region") and not hasattr(row, "family_id")}
        assert not any(path.startswith("350623") for path in paths)


FIGURE_VALUES = {
    "sites": lambda f: f["sites"]["total"],
    "consolation": lambda f: f["consolation"]["person_visits"],
    "free_checkups": lambda f: f["free_checkups"]["count"],
    "insurance_policies": lambda f: f["insurance"]["policies"],
    "insured_people": lambda f: f["insurance"]["people_covered"],
    "insurance_premiums": lambda f: len(f["_premium_rows"]),
    "claims_paid": lambda f: f["insurance"]["claims_paid"],
    "assistance_payments": lambda f: f["assistance_payments"]["count"],
    "grants": lambda f: f["grants"]["count"],
    "trainings": lambda f: f["trainings"]["sessions"],
    "training_participants": lambda f: f["trainings"]["participants"],
    "volunteer_support": lambda f: f["volunteer_support"]["count"],
    "activities": lambda f: f["activities"]["total"],
    "participants": lambda f: f["activities"]["participants"],
    "volunteers_trained": lambda f: f["volunteers_trained"]["count"],
    "families_active": lambda f: f["checkin_coverage"]["active"],
    "families_contacted": lambda f: f["checkin_coverage"]["contacted"],
    "families": lambda f: f["families"]["total"],
}


@pytest.mark.parametrize("username", ["manager", "city_admin", "alice", "carol"])
def test_every_drilldown_has_exactly_the_rows_counted(report_data, people, username):
    scope = scope_for(people[username])
    figures = statistics_compute(scope)
    made = [row for county in report_data.values() for row in county.get("insurance_premiums", ())]
    figures["_premium_rows"] = [row for row in made if scope.premium_payments().filter(pk=row.pk).exists()]
    assert set(FIGURE_VALUES) == set(FIGURES)
    for name, value in FIGURE_VALUES.items():
        assert drilldown_records(scope, name).count() == value(figures), name
    records = drilldown_records(scope, "consolation")
    assert sum(r.cash for r in records) == figures["consolation"]["cash"]
    assert sum(r.goods_value for r in records) == figures["consolation"]["goods_value"]
    assert sum(r.amount for r in drilldown_records(scope, "insurance_premiums")) == figures["insurance"]["premium"]
    assert sum(r.amount_settled for r in drilldown_records(scope, "claims_paid")) == figures["insurance"]["claims_amount"]
    assert sum(r.amount for r in drilldown_records(scope, "grants")) == figures["grants"]["amount"]
    for row in figures["assistance_payments"]["by_category"]:
        assert drilldown_records(scope, "assistance_payments", {"category": row["code"]}).count() == row["count"]
    for row in figures["trainings"]["by_programme"]:
        assert drilldown_records(scope, "trainings", {"programme": row["code"]}).count() == row["sessions"]
        assert drilldown_records(scope, "training_participants", {"programme": row["code"]}).count() == row["participants"]
    # Breakdowns drill down too.
    for row in figures["activities"]["by_category"]:
        assert drilldown_records(scope, "participants", {"category": row["code"]}).count() == row["participants"]
    for row in figures["sites"]["by_kind"]:
        assert drilldown_records(scope, "sites", {"kind": row["code"]}).count() == row["count"]


def test_trends_by_month_and_sub_region(report_data, people, django_assert_max_num_queries):
    scope = scope_for(people["city_admin"])
    with django_assert_max_num_queries(25):
        trends = trends_compute(scope)
    months = {row["month"]: row for row in trends["by_month"]}
    assert len(months) == 12
    assert months["2025-01"]["consolation_amount"] == Decimal("2000.00")
    assert months["2025-09"]["consolation_visits"] == 2 and months["2025-04"]["consolation_visits"] == 2
    assert months["2025-07"]["insurance_premium"] == Decimal("7000.00")
    assert months["2025-02"]["families_contacted"] == 2
    assert months["2025-03"]["participants"] == 6
    regions = {row["name"]: row for row in trends["by_region"]}
    # The city's own records (a centre, support paid to a volunteer registered there) in the city's row.
    assert set(regions) == {"市本级", "漳浦县", "云霄县"}
    assert regions["市本级"]["sites"] == 1 and regions["市本级"]["volunteer_support_amount"] == Decimal("1200.00")
    assert regions["漳浦县"]["families"] == 2 and regions["漳浦县"]["families_contacted"] == 1
    assert regions["云霄县"]["consolation_cash"] == Decimal("1000.00")
    assert regions["云霄县"]["consolation_goods"] == Decimal("250.50")
    town = trends_compute(scope_for(people["manager"]))
    assert [row["name"] for row in town["by_region"]] == ["县本级", "绥安镇"]  # county-level records, then the township
    county_level, suian = town["by_region"]
    assert (county_level["grants"], county_level["grant_beneficiaries"], suian["grants"]) == (1, 1, 1)
    assert (county_level["trainings"], suian["trainings"], suian["training_participants"]) == (1, 1, 2)


def test_attendance_of_a_session_that_has_not_started_is_not_counted(regions, people):
    from django.utils import timezone

    from volunteers.models import Enrollment, TrainingCourse, TrainingSession, Volunteer

    now = timezone.now()
    course = TrainingCourse.objects.create(title="陪伴技能", region=regions["zhangpu"])
    session = TrainingSession.objects.create(course=course, region=regions["zhangpu"], venue="会议室", capacity=5,
                                             starts_at=now + datetime.timedelta(hours=2),
                                             ends_at=now + datetime.timedelta(hours=4))
    volunteer = Volunteer.objects.create(name="林小红", region=regions["zhangpu"])
    # Ticked ahead of time (a row written before the rule, or straight into the database).
    Enrollment.objects.create(session=session, volunteer=volunteer, status="attended", attended_at=now)
    day = timezone.localdate(now)
    params = {"start": f"{day - datetime.timedelta(days=1)}", "end": f"{day + datetime.timedelta(days=1)}"}

    def trained():
        return statistics_compute(ReportScope.from_params(people["manager"], params))["volunteers_trained"]["count"]

    assert trained() == 0
    TrainingSession.objects.filter(pk=session.pk).update(starts_at=now - datetime.timedelta(minutes=1))
    assert trained() == 1


def test_a_coordinator_sees_the_figures_of_her_own_records_and_none_of_casework(report_data, people):
    """A volunteer coordinator reads reports but no insurance roster: the people covered are none,
    by region too, rather than an error."""
    scope = scope_for(people["coordinator"])
    figures, trends = statistics_compute(scope), trends_compute(scope)
    assert figures["insurance"]["people_covered"] == 0 and figures["assistance_payments"]["count"] == 0
    assert sum(row["people_covered"] for row in trends["by_region"]) == 0
    assert figures["activities"]["total"] > 0
    assert sum(row["activities"] for row in trends["by_region"]) == figures["activities"]["total"]
