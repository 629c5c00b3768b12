"""A county's year entered through the import templates only, as an association clerk keeps it,
gives back every figure of the bulletin and every row of its breakdown by region, counted by hand;
records of another year, of another county, of a cancelled policy, activity or session, a rejected
claim and a policy's next-year premium count nowhere; the four quarters add up to the year; and the
same files uploaded again change nothing. Only what a clerk cannot import is made otherwise: regions,
users and the course catalogue."""
import datetime
from decimal import Decimal

import pytest

from casemgmt.core.models import AuditEvent
from families.models import CheckIn, Family, FamilyMember
from reports.import_kinds import TEMPLATES
from reports.statistics import REGIONAL_FIGURES, ReportScope, regional_totals, statistics_compute, trends_compute
from services.models import (
    Activity,
    ActivityAttendance,
    ConsolationVisit,
    Disbursement,
    Fund,
    HealthCheckup,
    InsuranceClaim,
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
          InsurancePolicy, InsuredPerson, PremiumPayment, InsuranceClaim, CheckIn, Activity, ActivityAttendance,
          TrainingSession, Enrollment)


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


def courses(regions):
    """The training catalogue (courses are not imported): 漳浦县's two programmes and 云霄县's course."""
    TrainingCourse.objects.create(title="陪伴技能zp", region=regions["zhangpu"])
    TrainingCourse.objects.create(title="青春健康主持人", programme="youth_health", region=regions["zhangzhou"])
    TrainingCourse.objects.create(title="陪伴技能yx", region=regions["yunxiao"])


def load(client, files):
    """Upload every file; a roster names its policy by number, as the clerk's page picks it."""
    for kind, rows, params in files:
        if kind == "roster":
            params = {"policy": InsurancePolicy.objects.get(policy_number=params["policy"]).pk}
        uploaded(client, kind, rows, **params)


def zhangpu_files():
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
        ("checkins", [
            # A is contacted twice in the year; B only the year before (active, not contacted in 2025).
            {"file_number": "ZP-A", "occurred_at": "2025-02-03 10:00", "channel": "入户走访", "mental_state": "低落",
             "difficulties": "独居"},
            {"file_number": "ZP-A", "occurred_at": "2025-08-03", "channel": "电话"},
            {"file_number": "ZP-B", "occurred_at": "2024-11-03 15:30", "channel": "电话"}], {}),
        ("training-sessions", [
            {"course": "陪伴技能zp", "region_code": "350623100", "starts_at": "2025-04-10 09:00",
             "ends_at": "2025-04-10 16:00", "venue": "镇会议室", "capacity": "30", "status": "已完成"},
            {"course": "青春健康主持人", "region_code": "350623", "starts_at": "2025-07-01 09:00",
             "ends_at": "2025-07-01 16:00", "venue": "县会议室", "capacity": "20", "status": "已完成"},
            # the year before, and one called off
            {"course": "陪伴技能zp", "region_code": "350623100", "starts_at": "2024-04-10 09:00",
             "ends_at": "2024-04-10 16:00", "venue": "镇会议室", "capacity": "30", "status": "已完成"},
            {"course": "陪伴技能zp", "region_code": "350623", "starts_at": "2025-06-10 09:00",
             "ends_at": "2025-06-10 16:00", "venue": "县会议室", "capacity": "30", "status": "已取消"}], {}),
        ("training", [{"course": "陪伴技能zp", "session_date": "2025-04-10", "volunteer_id_number": v, "status": "出席"}
                      for v in (v1, v2)]
         + [{"course": "青春健康主持人", "session_date": "2025-07-01", "volunteer_id_number": v2, "status": "出席"},
            {"course": "陪伴技能zp", "session_date": "2024-04-10", "volunteer_id_number": v1, "status": "出席"}], {}),
        ("activities", [
            {"title": "东门村集体庆生", "category": "集体庆生", "region_code": "350623100201",
             "starts_at": "2025-03-15 09:00", "ends_at": "2025-03-15 11:00", "status": "已完成"},
            {"title": "清明追思", "category": "特色活动", "local_name": "清明追思会", "region_code": "350623101201",
             "starts_at": "2025-04-04 09:00", "ends_at": "2025-04-04 11:00"},
            {"title": "心理健康讲座", "category": "知识讲座", "region_code": "350623", "starts_at": "2025-05-20 14:00",
             "ends_at": "2025-05-20 16:00", "capacity": "50"},
            # called off, and the year before
            {"title": "端午联谊", "category": "交流联谊", "region_code": "350623", "starts_at": "2025-05-31 09:00",
             "ends_at": "2025-05-31 11:00", "status": "已取消"},
            {"title": "东门村集体庆生", "category": "集体庆生", "region_code": "350623100201",
             "starts_at": "2024-03-15 09:00", "ends_at": "2024-03-15 11:00", "status": "已完成"}], {}),
        ("attendance", [
            {"activity": "东门村集体庆生", "activity_date": "2025-03-15", "id_number": a_mother},
            {"activity": "东门村集体庆生", "activity_date": "2025-03-15", "id_number": a_father},
            {"activity": "清明追思", "activity_date": "2025-04-04", "id_number": b_father},
            {"activity": "心理健康讲座", "activity_date": "2025-05-20", "id_number": b_mother},
            {"activity": "心理健康讲座", "activity_date": "2025-05-20", "volunteer_id_number": v1},
            {"activity": "东门村集体庆生", "activity_date": "2024-03-15", "id_number": a_mother}], {}),
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
        ("claims", [
            {"insurer": "中国人寿", "policy_number": "P-2025", "id_number": a_mother, "incident_date": "2025-03-02",
             "amount_claimed": "500", "status": "已赔付", "amount_settled": "450", "settled_on": "2025-04-01"},
            # rejected; still under review; settled in the next year
            {"insurer": "中国人寿", "policy_number": "P-2025", "id_number": b_mother, "incident_date": "2025-06-01",
             "amount_claimed": "300", "status": "拒赔"},
            {"insurer": "中国人寿", "policy_number": "P-2025", "id_number": b_mother, "incident_date": "2025-08-01",
             "amount_claimed": "100", "status": "审核中"},
            {"insurer": "中国人寿", "policy_number": "P-2025", "id_number": a_mother, "incident_date": "2025-12-20",
             "amount_claimed": "200", "status": "已赔付", "amount_settled": "200", "settled_on": "2026-01-15"}], {}),
        # refunded later in the year: neither the policy nor its premium was spent
        ("policies", [{"insurer": "人保", "policy_number": "X-CAN", "product_kind": "accident", "region_code": "350623",
                       "starts_on": "2025-01-01", "ends_on": "2025-12-31", "premium": "2000", "status": "cancelled"}],
         {}),
    ]
    return files


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
        ("checkins", [{"file_number": "YX-A", "occurred_at": "2025-02-03", "channel": "电话"}], {}),
        ("training-sessions", [{"course": "陪伴技能yx", "region_code": "350622100", "starts_at": "2025-04-10 09:00",
                                "ends_at": "2025-04-10 16:00", "venue": "会议室", "capacity": "30"}], {}),
        ("training", [{"course": "陪伴技能yx", "session_date": "2025-04-10", "volunteer_id_number": v, "status": "出席"}],
         {}),
        ("activities", [{"title": "云霄庆生", "category": "集体庆生", "region_code": "350622100201",
                         "starts_at": "2025-03-15 09:00", "ends_at": "2025-03-15 11:00"}], {}),
        ("attendance", [{"activity": "云霄庆生", "activity_date": "2025-03-15", "id_number": mother}], {}),
        ("policies", [{"insurer": "人保", "policy_number": "YX-1", "product_kind": "accident", "region_code": "350622",
                       "starts_on": "2025-01-01", "ends_on": "2025-12-31", "premium": "900"}], {}),
        ("roster", [{"name": "王秀英", "id_number": mother}], {"policy": "YX-1"}),
        ("premiums", [{"insurer": "人保", "policy_number": "YX-1", "paid_on": "2025-02-01", "amount": "900"}], {}),
        ("claims", [{"insurer": "人保", "policy_number": "YX-1", "id_number": mother, "incident_date": "2025-03-02",
                     "amount_claimed": "90", "status": "已赔付", "amount_settled": "90", "settled_on": "2025-04-01"}], {}),
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
    # A's mother's claim settled in April (the rejected, the pending and the next year's count nowhere).
    "insurance.claims_paid": 1, "insurance.claims_amount": D("450.00"),
    "volunteer_support.count": 5, "volunteer_support.amount": D("1450.00"),
    "assistance_payments.count": 3, "assistance_payments.amount": D("1770.00"),
    "assistance_payments.by_category.bereaved.count": 2, "assistance_payments.by_category.bereaved.amount": D("1180.00"),
    "assistance_payments.by_category.disabled.count": 1, "assistance_payments.by_category.disabled.amount": D("590.00"),
    "grants.count": 2, "grants.amount": D("8000.00"), "grants.beneficiaries": 2, "grants.outcome_amount": D("8000.00"),
    # The birthday party (A's parents), 清明追思 (B's father), the lecture (B's mother and a volunteer).
    "activities.total": 3, "activities.participants": 5,
    "activities.by_category.birthday.activities": 1, "activities.by_category.birthday.participants": 2,
    "activities.by_category.lecture.activities": 1, "activities.by_category.lecture.participants": 2,
    "activities.by_category.local.activities": 1, "activities.by_category.local.participants": 1,
    "trainings.sessions": 2, "trainings.participants": 3,
    "trainings.by_programme.volunteer.sessions": 1, "trainings.by_programme.volunteer.participants": 2,
    "trainings.by_programme.youth_health.sessions": 1, "trainings.by_programme.youth_health.participants": 1,
    "volunteers_trained.count": 2,
    # Both families became active at their first contact; only A was contacted this year.
    "checkin_coverage.contacted": 1, "checkin_coverage.active": 2, "checkin_coverage.rate": 0.5,
    "families.total": 2, "families.by_category.bereaved.count": 1, "families.by_category.disabled.count": 1,
    "families.by_risk.green.count": 2, "families.by_status.active.count": 2,
}
# Every row of the breakdown (绥安镇: family A, the village site and activity, the town's session; 旧镇:
# family B, volunteer 2, 清明追思; 县本级: what the county holds itself), zero where not named. A
# volunteer trained twice counts toward the first of their sessions' regions (volunteer 2: the county's).
EXPECTED_BY_REGION = {
    "绥安镇": {"families": 1, "families_active": 1, "families_contacted": 1, "sites": 1, "consolation_visits": 2,
            "consolation_cash": D("1000.00"), "consolation_goods": D("200.00"), "free_checkups": 1,
            "claims_paid": 1, "claims_amount": D("450.00"), "assistance_payments": 2, "assistance_amount": D("1180.00"),
            "volunteer_support": 4, "volunteer_support_amount": D("1200.00"), "activities": 1, "participants": 2,
            "trainings": 1, "training_participants": 2, "volunteers_trained": 1},
    "旧镇": {"families": 1, "families_active": 1, "consolation_visits": 1, "free_checkups": 1,
           "assistance_payments": 1, "assistance_amount": D("590.00"), "volunteer_support": 1,
           "volunteer_support_amount": D("250.00"), "grants": 1, "grants_amount": D("5000.00"),
           "grant_beneficiaries": 1, "activities": 1, "participants": 1},
    "县本级": {"sites": 1, "psych_aid_centres": 1, "insurance_policies": 2, "insurance_premium": D("5250.00"),
            "people_covered": 2, "grants": 1, "grants_amount": D("3000.00"), "grant_beneficiaries": 1,
            "activities": 1, "participants": 2, "trainings": 1, "training_participants": 1, "volunteers_trained": 1},
}
# The flows of a period: what the four quarters add up to.
FLOWS = ("consolation_visits", "consolation_cash", "consolation_goods", "free_checkups", "insurance_premium",
         "claims_paid", "claims_amount", "assistance_payments", "assistance_amount", "volunteer_support",
         "volunteer_support_amount", "grants", "grants_amount", "activities", "participants", "trainings",
         "training_participants")
# The templates each figure's records enter by. A figure added to the statistics without its
# template here (and its records in the files above) fails the first test.
FIGURE_TEMPLATES = {
    "families": ("families",), "families_active": ("families", "checkins"),
    "families_contacted": ("families", "checkins"), "sites": ("sites",), "psych_aid_centres": ("sites",),
    "consolation_visits": ("visits",), "consolation_cash": ("visits",), "consolation_goods": ("visits",),
    "free_checkups": ("checkups",), "insurance_policies": ("policies",), "insurance_premium": ("premiums",),
    "people_covered": ("policies", "roster"), "claims_paid": ("claims",), "claims_amount": ("claims",),
    "assistance_payments": ("disbursements",), "assistance_amount": ("disbursements",),
    "volunteer_support": ("volunteer-support",), "volunteer_support_amount": ("volunteer-support",),
    "grants": ("grants",), "grants_amount": ("grants",), "grant_beneficiaries": ("grants",),
    "activities": ("activities",), "participants": ("attendance",), "trainings": ("training-sessions",),
    "training_participants": ("training",), "volunteers_trained": ("training",),
}


def figures_of(user, **params):
    scope = ReportScope.from_params(user, {"year": "2025", "region": "350623", **params})
    return statistics_compute(scope), trends_compute(scope)["by_region"]


def test_every_figure_has_a_template_and_the_files_fill_it():
    assert set(FIGURE_TEMPLATES) == {key for key, _heading, _total in REGIONAL_FIGURES}
    used = {kind for kind, _rows, _params in zhangpu_files()}
    for figure, kinds in FIGURE_TEMPLATES.items():
        assert set(kinds) <= set(TEMPLATES) and set(kinds) <= used, figure


def test_a_county_year_through_the_templates_only_gives_every_figure(client, regions, people):
    make_region("350623101201", "新村", 5, make_region("350623101", "旧镇", 4, regions["zhangpu"]), "220")
    courses(regions)
    client.force_login(people["other_manager"])
    load(client, yunxiao_files())
    client.force_login(people["manager"])
    files = zhangpu_files()
    load(client, files)

    figures, by_region = figures_of(people["manager"])
    assert {key: value for key, value in flat(figures).items() if value} == EXPECTED
    rows = {row["name"]: {k: v for k, v in row.items() if v and k not in ("path", "name", "own_level")}
            for row in by_region}
    assert rows == EXPECTED_BY_REGION
    # Every figure is counted from the files (none is zero), and every breakdown adds up to it.
    year = regional_totals(figures)
    assert not [key for key, value in year.items() if not value]
    for key, total in year.items():
        assert sum(row[key] for row in by_region) == total, key
    # The four quarters add up to the year, flow by flow.
    quarters = [regional_totals(figures_of(people["manager"], quarter=str(q))[0]) for q in (1, 2, 3, 4)]
    for key in FLOWS:
        assert sum(q[key] for q in quarters) == year[key], key
    assert [q["insurance_premium"] for q in quarters] == [D("120.00"), D("130.00"), D("4500.00"), D("500.00")]
    assert [q["activities"] for q in quarters] == [1, 2, 0, 0]
    # The next year counts R-2526's second payment and the claim settled in January only, and
    # 云霄县's records stay in 云霄县.
    next_year, _rows = figures_of(people["manager"], year="2026")
    assert next_year["insurance"]["premium"] == D("3500.00") and next_year["insurance"]["policies"] == 1
    assert (next_year["insurance"]["claims_paid"], next_year["insurance"]["claims_amount"]) == (1, D("200.00"))
    assert (next_year["activities"]["total"], next_year["trainings"]["sessions"]) == (0, 0)
    yunxiao, _rows = figures_of(people["other_manager"], region="350622")
    assert (yunxiao["consolation"]["person_visits"], yunxiao["insurance"]["premium"]) == (1, D("900.00"))
    assert (yunxiao["insurance"]["claims_paid"], yunxiao["activities"]["participants"],
            yunxiao["checkin_coverage"]["contacted"], yunxiao["trainings"]["participants"]) == (1, 1, 1, 1)

    # Every file again: no figure and no record changes, and no import writes anything.
    counts = [model.objects.count() for model in MODELS]
    last_event = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    for kind, rows, params in files:
        if kind == "roster":
            params = {"policy": InsurancePolicy.objects.get(policy_number=params["policy"]).pk}
        again = uploaded(client, kind, rows, **params)
        assert again["created"] and not any(again["created"].values()), (kind, again)
    assert [model.objects.count() for model in MODELS] == counts
    assert figures_of(people["manager"]) == (figures, by_region)
    assert not AuditEvent.objects.filter(pk__gt=last_event, event__regex=r"^(services|families|volunteers)\.").exists()
