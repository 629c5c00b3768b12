"""A county's year entered through the import templates only, as an association clerk keeps it,
gives back every figure of the bulletin and every row of its breakdown by region, counted by hand;
records of another year, of another county, of a cancelled policy and a policy's next-year premium
count nowhere; the four quarters add up to the year; and the same files uploaded again change nothing."""
import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from casemgmt.core.models import AuditEvent
from families.models import Family, FamilyMember
from reports.statistics import ReportScope, regional_totals, statistics_compute, trends_compute
from services.models import (
    ConsolationVisit,
    Disbursement,
    Fund,
    HealthCheckup,
    InsurancePolicy,
    InsuredPerson,
    PremiumPayment,
    ServiceSite,
)
from tests.conftest import make_region
from tests.reports.test_record_imports import book
from volunteers.models import Enrollment, TrainingCourse, TrainingSession, Volunteer

pytestmark = pytest.mark.django_db

MODELS = (Family, FamilyMember, Fund, ServiceSite, Volunteer, Disbursement, ConsolationVisit, HealthCheckup,
          InsurancePolicy, InsuredPerson, PremiumPayment, Enrollment)


def uploaded(client, kind, rows, **params):
    response = client.post(f"/api/v1/reports/imports/{kind}/", {"file": book(kind, rows), "commit": "1", **params})
    assert response.status_code == 201, (kind, response.content)
    return response.json()


def people_rows(number, region, category, mother, father):
    return [{"file_number": number, "category": category, "region_code": region, "name": "王秀英", "relation": "母亲",
             "id_number": mother},
            {"file_number": number, "name": "李建国", "relation": "父亲", "id_number": father}]


def id_number(region, seq):
    from casemgmt.core.idcard import make_id_number
    return make_id_number(region[:6], datetime.date(1960, 1, 1) + datetime.timedelta(days=seq), seq)


def sessions(regions):
    """Training sessions are planned, not imported: 漳浦县's of the year and of the year before, and 云霄县's."""
    made = {}
    for key, region, year in (("zp", regions["suian"], 2025), ("zp_before", regions["suian"], 2024),
                              ("yx", regions["yx_town"], 2025)):
        course = TrainingCourse.objects.create(title=f"陪伴技能{key}", region=region)
        made[key] = TrainingSession.objects.create(
            course=course, region=region, venue="会议室", capacity=30,
            starts_at=timezone.make_aware(datetime.datetime(year, 4, 10, 9)),
            ends_at=timezone.make_aware(datetime.datetime(year, 4, 10, 16)))
    return made


def zhangpu_files(policy_ids):
    """漳浦县's files in the order a clerk loads them. Families A (东门村, 失独) and B (旧镇, 伤残)."""
    a_mother, a_father = id_number("350623", 1), id_number("350623", 2)
    b_mother, b_father = id_number("350623", 3), id_number("350623", 4)
    v1, v2 = id_number("350623", 11), id_number("350623", 12)
    files = [
        ("families", people_rows("ZP-A", "350623100201", "失独", a_mother, a_father)
         + people_rows("ZP-B", "350623101201", "伤残", b_mother, b_father), {}),
        ("volunteers", [{"name": "林一", "id_number": v1, "region_code": "350623100201"},
                        {"name": "林二", "id_number": v2, "region_code": "350623101201"}], {}),
        ("funds", [{"name": n, "programme": p, "year": "2025", "budget": "100000", "region_code": "350623"}
                   for n, p in (("特扶金2025", "特别扶助"), ("志愿者经费2025", "志愿者"), ("幸福工程2025", "幸福工程"),
                                ("慰问金2025", "慰问"))], {}),
        ("sites", [{"kind": "暖心家园", "name": "东门村暖心家园", "region_code": "350623100201", "opened_on": "2024-06-01"},
                   {"kind": "心理慰藉中心", "name": "县心理慰藉中心", "region_code": "350623"},
                   # closed before the year began
                   {"kind": "暖心家园", "name": "旧镇暖心家园", "region_code": "350623101201", "opened_on": "2020-01-01",
                    "closed_on": "2024-12-31"}], {}),
        ("disbursements", [
            {"fund": "特扶金2025", "kind": "特扶金", "file_number": "ZP-A", "id_number": a_mother, "amount": "590",
             "paid_on": "2025-06-30", "period": "2025H1"},
            {"fund": "特扶金2025", "kind": "特扶金", "id_number": a_mother, "amount": "590", "paid_on": "2025-12-30",
             "period": "2025H2"},
            {"fund": "特扶金2025", "kind": "特扶金", "file_number": "ZP-B", "amount": "590", "paid_on": "2025-06-30"},
            # the year before
            {"fund": "特扶金2025", "kind": "特扶金", "file_number": "ZP-A", "id_number": a_mother, "amount": "590",
             "paid_on": "2024-12-30", "period": "2024H2"}], {}),
        ("visits", [
            {"file_number": "ZP-A", "visited_on": "2025-01-20", "visitor": "manager", "cash": "1000", "occasion": "春节",
             "fund": "慰问金2025"},
            {"file_number": "ZP-A", "id_number": a_mother, "visited_on": "2025-01-20", "visiting_party": "县计生协会",
             "goods": "米油", "goods_value": "200"},
            {"file_number": "ZP-B", "visited_on": "2025-09-15", "visiting_party": "县领导"},
            {"file_number": "ZP-B", "visited_on": "2024-09-15", "visiting_party": "县领导", "cash": "500"}], {}),
        ("checkups", [
            {"id_number": a_mother, "date": "2025-04-01", "provider": "县医院"},
            {"id_number": b_father, "date": "2025-11-01", "provider": "县医院"},
            {"id_number": a_father, "date": "2025-10-01", "provider": "县医院", "is_free": "否", "cost": "200"},
            {"id_number": a_mother, "date": "2024-04-01", "provider": "县医院"}], {}),
        ("volunteer-support", [{"fund": "志愿者经费2025", "volunteer_id_number": v1, "amount": "300", "paid_on": day}
                               for day in ("2025-03-05", "2025-06-05", "2025-09-05", "2025-12-05", "2026-01-05")]
         + [{"fund": "志愿者经费2025", "volunteer_id_number": v2, "amount": "250", "paid_on": "2025-06-05"}], {}),
        ("grants", [{"fund": "幸福工程2025", "file_number": "ZP-B", "amount": "5000", "paid_on": "2025-03-01",
                     "outcome": "年增收", "outcome_amount": "8000"},
                    {"fund": "幸福工程2025", "recipient_name": "陈美华", "amount": "3000", "paid_on": "2025-04-01"}], {}),
        ("training", [{"course": "陪伴技能zp", "session_date": "2025-04-10", "volunteer_id_number": v, "status": "出席"}
                      for v in (v1, v2)]
         + [{"course": "陪伴技能zp_before", "session_date": "2024-04-10", "volunteer_id_number": v1, "status": "出席"}], {}),
        ("policies", [
            {"insurer": "中国人寿", "policy_number": "P-2025", "product_kind": "意外伤害保险", "region_code": "350623",
             "starts_on": "2025-01-01", "ends_on": "2025-12-31", "premium": "6800"},
            {"insurer": "人保", "policy_number": "R-2526", "product_kind": "accident", "region_code": "350623",
             "starts_on": "2025-07-01", "ends_on": "2026-06-30", "premium": "7000"},
            {"insurer": "人保", "policy_number": "X-CAN", "product_kind": "accident", "region_code": "350623",
             "starts_on": "2025-01-01", "ends_on": "2025-12-31", "premium": "2000"},
            {"insurer": "中国人寿", "policy_number": "P-2024", "product_kind": "accident", "region_code": "350623",
             "starts_on": "2024-01-01", "ends_on": "2024-12-31", "premium": "6000"}], {}),
        ("roster", [{"name": "王秀英", "id_number": a_mother, "premium": "120"},
                    {"name": "王秀英", "id_number": b_mother, "premium": "130"}], {"policy": "P-2025"}),
        ("premiums", [
            {"insurer": "中国人寿", "policy_number": "P-2025", "id_number": a_mother, "paid_on": "2025-01-10"},
            {"insurer": "中国人寿", "policy_number": "P-2025", "id_number": b_mother, "paid_on": "2025-04-10"},
            {"insurer": "中国人寿", "policy_number": "P-2025", "paid_on": "2025-07-10", "amount": "1000"},
            {"insurer": "中国人寿", "policy_number": "P-2025", "paid_on": "2025-10-10", "amount": "500"},
            {"insurer": "人保", "policy_number": "R-2526", "paid_on": "2025-07-05", "amount": "3500"},
            {"insurer": "人保", "policy_number": "R-2526", "paid_on": "2026-01-05", "amount": "3500"},
            {"insurer": "人保", "policy_number": "X-CAN", "paid_on": "2025-02-01", "amount": "2000"},
            {"insurer": "中国人寿", "policy_number": "P-2024", "paid_on": "2024-01-10", "amount": "6000"}], {}),
        # refunded later in the year: neither the policy nor its premium was spent
        ("policies", [{"insurer": "人保", "policy_number": "X-CAN", "product_kind": "accident", "region_code": "350623",
                       "starts_on": "2025-01-01", "ends_on": "2025-12-31", "premium": "2000", "status": "cancelled"}],
         {}),
    ]
    return [(kind, rows, {k: policy_ids.get(v, v) for k, v in params.items()}) for kind, rows, params in files]


def yunxiao_files():
    """云霄县's own records, loaded by its own manager: the same kinds, in the same year."""
    mother, v = id_number("350622", 21), id_number("350622", 22)
    return [
        ("families", people_rows("YX-A", "350622100201", "失独", mother, id_number("350622", 23)), {}),
        ("volunteers", [{"name": "云一", "id_number": v, "region_code": "350622100201"}], {}),
        ("funds", [{"name": "云霄资金", "programme": "特别扶助", "year": "2025", "budget": "1000", "region_code": "350622"}],
         {}),
        ("sites", [{"kind": "心理慰藉中心", "name": "云霄中心", "region_code": "350622"}], {}),
        ("disbursements", [{"fund": "云霄资金", "kind": "特扶金", "file_number": "YX-A", "amount": "590",
                            "paid_on": "2025-06-30"}], {}),
        ("visits", [{"file_number": "YX-A", "visited_on": "2025-01-20", "visitor": "other_manager", "cash": "800"}], {}),
        ("checkups", [{"id_number": mother, "date": "2025-04-01", "provider": "县医院"}], {}),
        ("volunteer-support", [{"fund": "云霄资金", "volunteer_id_number": v, "amount": "300", "paid_on": "2025-03-05"}],
         {}),
        ("grants", [{"fund": "云霄资金", "recipient_name": "某人", "amount": "100", "paid_on": "2025-03-01"}], {}),
        ("training", [{"course": "陪伴技能yx", "session_date": "2025-04-10", "volunteer_id_number": v, "status": "出席"}],
         {}),
        ("policies", [{"insurer": "人保", "policy_number": "YX-1", "product_kind": "accident", "region_code": "350622",
                       "starts_on": "2025-01-01", "ends_on": "2025-12-31", "premium": "900"}], {}),
        ("premiums", [{"insurer": "人保", "policy_number": "YX-1", "paid_on": "2025-02-01", "amount": "900"}], {}),
    ]


def flat(figures, prefix=""):
    """Every number of ``statistics_compute``'s answer by its path (lists by each entry's code)."""
    found = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            found.update(flat(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            for entry in value:
                found.update(flat({k: v for k, v in entry.items() if k not in ("code", "label")},
                                  f"{prefix}{key}.{entry['code']}."))
        elif not isinstance(value, str):
            found[f"{prefix}{key}"] = value
    return found


D = Decimal
# Every figure of 漳浦县's 2025 (zero where not named), counted from the files above by hand.
EXPECTED = {
    "sites.total": 2, "sites.psych_aid_centres": 1,
    "sites.by_kind.warm_heart_home.count": 1, "sites.by_kind.psych_aid_centre.count": 1,
    # A: 1,000 cash at New Year; A's mother: goods worth 200; B: a visit with nothing given.
    "consolation.person_visits": 3, "consolation.cash": D("1000.00"), "consolation.goods_value": D("200.00"),
    "consolation.amount": D("1200.00"),
    "free_checkups.count": 2,
    # P-2025 and R-2526 (bought, overlapping the year); premiums paid in 2025: 120 + 130 + 1,000 + 500 + 3,500.
    "insurance.policies": 2, "insurance.premium": D("5250.00"), "insurance.people_covered": 2,
    "insurance.by_product.accident.policies": 2, "insurance.by_product.accident.premium": D("5250.00"),
    "volunteer_support.count": 5, "volunteer_support.amount": D("1450.00"),
    "assistance_payments.count": 3, "assistance_payments.amount": D("1770.00"),
    "assistance_payments.by_category.bereaved.count": 2, "assistance_payments.by_category.bereaved.amount": D("1180.00"),
    "assistance_payments.by_category.disabled.count": 1, "assistance_payments.by_category.disabled.amount": D("590.00"),
    "grants.count": 2, "grants.amount": D("8000.00"), "grants.beneficiaries": 2, "grants.outcome_amount": D("8000.00"),
    "trainings.sessions": 1, "trainings.participants": 2,
    "trainings.by_programme.volunteer.sessions": 1, "trainings.by_programme.volunteer.participants": 2,
    "volunteers_trained.count": 2,
    "families.total": 2, "families.by_category.bereaved.count": 1, "families.by_category.disabled.count": 1,
    "families.by_risk.green.count": 2, "families.by_status.registered.count": 2,
}
# Every row of the breakdown (绥安镇: family A, the village site, volunteer 1's session; 旧镇: family B,
# volunteer 2; 县本级: what the county holds itself), zero where not named.
EXPECTED_BY_REGION = {
    "绥安镇": {"families": 1, "sites": 1, "consolation_visits": 2, "consolation_cash": D("1000.00"),
            "consolation_goods": D("200.00"), "free_checkups": 1, "assistance_payments": 2,
            "assistance_amount": D("1180.00"), "volunteer_support": 4, "volunteer_support_amount": D("1200.00"),
            "trainings": 1, "training_participants": 2, "volunteers_trained": 2},
    "旧镇": {"families": 1, "consolation_visits": 1, "free_checkups": 1, "assistance_payments": 1,
           "assistance_amount": D("590.00"), "volunteer_support": 1, "volunteer_support_amount": D("250.00"),
           "grants": 1, "grants_amount": D("5000.00"), "grant_beneficiaries": 1},
    "县本级": {"sites": 1, "psych_aid_centres": 1, "insurance_policies": 2, "insurance_premium": D("5250.00"),
            "people_covered": 2, "grants": 1, "grants_amount": D("3000.00"), "grant_beneficiaries": 1},
}
FLOWS = ("consolation_visits", "consolation_cash", "consolation_goods", "free_checkups", "insurance_premium",
         "assistance_payments", "assistance_amount", "volunteer_support", "volunteer_support_amount", "grants",
         "grants_amount", "training_participants")


def figures_of(user, **params):
    scope = ReportScope.from_params(user, {"year": "2025", "region": "350623", **params})
    return statistics_compute(scope), trends_compute(scope)["by_region"]


def test_a_county_year_through_the_templates_only_gives_every_figure(client, regions, people):
    make_region("350623101201", "新村", 5, make_region("350623101", "旧镇", 4, regions["zhangpu"]), "220")
    sessions(regions)
    client.force_login(people["other_manager"])
    for kind, rows, params in yunxiao_files():
        uploaded(client, kind, rows, **params)
    client.force_login(people["manager"])
    files = []
    for kind, rows, params in zhangpu_files({}):
        if kind == "roster":
            params = {"policy": InsurancePolicy.objects.get(policy_number=params["policy"]).pk}
        files.append((kind, rows, params))
        uploaded(client, kind, rows, **params)

    figures, by_region = figures_of(people["manager"])
    assert {key: value for key, value in flat(figures).items() if value} == EXPECTED
    rows = {row["name"]: {k: v for k, v in row.items() if v and k not in ("path", "name", "own_level")}
            for row in by_region}
    assert rows == EXPECTED_BY_REGION
    # The four quarters add up to the year, flow by flow.
    year = regional_totals(figures)
    quarters = [regional_totals(figures_of(people["manager"], quarter=str(q))[0]) for q in (1, 2, 3, 4)]
    for key in FLOWS:
        assert sum(q[key] for q in quarters) == year[key], key
    assert [q["insurance_premium"] for q in quarters] == [D("120.00"), D("130.00"), D("4500.00"), D("500.00")]
    # The next year counts R-2526's second payment only, and 云霄县's records stay in 云霄县.
    next_year, _rows = figures_of(people["manager"], year="2026")
    assert next_year["insurance"]["premium"] == D("3500.00") and next_year["insurance"]["policies"] == 1
    yunxiao, _rows = figures_of(people["other_manager"], region="350622")
    assert (yunxiao["consolation"]["person_visits"], yunxiao["insurance"]["premium"]) == (1, D("900.00"))

    # Every file again: no figure and no record changes, and no import writes anything.
    counts = [model.objects.count() for model in MODELS]
    last_event = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    for kind, rows, params in files:
        again = uploaded(client, kind, rows, **params)
        assert again["created"] and not any(again["created"].values()), (kind, again)
    assert [model.objects.count() for model in MODELS] == counts
    assert figures_of(people["manager"]) == (figures, by_region)
    assert not AuditEvent.objects.filter(pk__gt=last_event, event__startswith="services.").exists()
