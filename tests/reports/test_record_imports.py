"""The import templates for every record a figure counts (reports.import_kinds): each downloads with
Chinese headings, checks every row by row and column, writes all or nothing, matches its records
by a natural key (a second upload changes nothing) and finds references only in the importer's reach."""
import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from casemgmt.core.idcard import make_id_number
from casemgmt.core.models import AuditEvent
from families.models import CheckIn
from reports.import_kinds import TEMPLATES
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
from volunteers.models import Enrollment, TrainingCourse, TrainingSession, Volunteer

pytestmark = pytest.mark.django_db

YEAR = 2025


def book(kind, rows):
    """A workbook of ``kind``'s template with ``rows`` given as {column key: value}."""
    columns = TEMPLATES[kind].columns
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([str(c.heading) for c in columns])
    for row in rows:
        sheet.append([row.get(c.key, "") for c in columns])
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    buffer.name = "upload.xlsx"
    return buffer


def upload(client, kind, rows, commit=False):
    data = {"file": book(kind, rows)}
    if commit:
        data["commit"] = "1"
    return client.post(reverse("api:reports-import", args=[kind]), data)


def volunteer_id(seq):
    return make_id_number("350623", datetime.date(1990, 1, 1) + datetime.timedelta(days=seq), seq % 900 + 1)


@pytest.fixture
def world(regions, families, people):
    """Funds, a site, volunteers and a training session in 漳浦县 (the manager's reach) and the same
    in 云霄县 (outside it)."""
    made = {}
    for tag, county in (("ZP", regions["zhangpu"]), ("YX", regions["yunxiao"])):
        Fund.objects.create(name=f"慰问金{tag}", programme="consolation", year=YEAR, budget=100000, region=county)
        Fund.objects.create(name=f"志愿者经费{tag}", programme="volunteer_support", year=YEAR, budget=50000, region=county)
        Fund.objects.create(name=f"幸福工程{tag}", programme="happiness_project", year=YEAR, budget=80000, region=county)
        ServiceSite.objects.create(kind="family_health_centre", name=f"体检中心{tag}", region=county)
        seq = 1 if tag == "ZP" else 2
        made[f"volunteer_{tag}"] = Volunteer.objects.create(name=f"志愿者{tag}", region=county,
                                                            id_number=volunteer_id(seq))
        course = TrainingCourse.objects.create(title=f"陪伴技能{tag}", region=county)
        TrainingSession.objects.create(course=course, region=county, venue="会议室", capacity=30,
                                       starts_at=timezone.make_aware(datetime.datetime(YEAR, 4, 10, 9)),
                                       ends_at=timezone.make_aware(datetime.datetime(YEAR, 4, 10, 16)))
        policy = InsurancePolicy.objects.create(
            insurer="人保", policy_number=f"保单{tag}", product_kind="accident", region=county, status="active",
            starts_on=datetime.date(YEAR, 1, 1), ends_on=datetime.date(YEAR, 12, 31), premium=1000)
        made[f"policy_{tag}"] = policy
    Volunteer.objects.create(name="志愿者ZP2", region=regions["zhangpu"], id_number=volunteer_id(3))
    for tag, region in (("ZP", regions["village"]), ("YX", regions["yunxiao"])):
        Activity.objects.create(title=f"集体庆生{tag}", category="birthday", region=region, capacity=1,
                                starts_at=timezone.make_aware(datetime.datetime(YEAR, 3, 15, 9)),
                                ends_at=timezone.make_aware(datetime.datetime(YEAR, 3, 15, 11)))
    made["own"] = families["own"]
    made["mother"] = families["own"].members.get(relation="mother")
    made["outsider"] = families["outside"].members.get(relation="mother")
    InsuredPerson.objects.create(policy=made["policy_ZP"], member=made["mother"], premium=120)
    InsuredPerson.objects.create(policy=made["policy_ZP"], member=families["own"].members.get(relation="father"))
    InsurancePolicy.objects.create(insurer="人保", policy_number="退保ZP", product_kind="accident",
                                   region=regions["zhangpu"], status="cancelled", starts_on=datetime.date(YEAR, 1, 1),
                                   ends_on=datetime.date(YEAR, 12, 31), premium=1000)
    return made


def cases(world):
    """For each template: rows a clerk would write, and rows each with one problem and the column it
    is reported in (row 2 is the first data row)."""
    mother, outsider = world["mother"].id_number, world["outsider"].id_number
    father = world["own"].members.get(relation="father").id_number
    zp, yx = volunteer_id(1), volunteer_id(2)
    return {
        "visits": (
            [{"file_number": "ZP-0001", "visited_on": "2025-01-20", "visitor": "manager", "cash": "1000",
              "occasion": "春节"},
             {"file_number": "ZP-0001", "id_number": mother, "visited_on": "2025-01-20", "visiting_party": "县计生协会",
              "goods": "米油", "goods_value": "200", "fund": "慰问金ZP"},
             {"file_number": "ZP-0002", "visited_on": "2025/9/15", "visiting_party": "县领导", "notes": "中秋走访"}],
            [({"file_number": "YX-0001", "visited_on": "2025-01-20", "visiting_party": "县计生协会"}, "档案编号"),
             ({"file_number": "ZP-0002", "visited_on": "2025-01-20"}, "慰问单位或个人"),
             ({"file_number": "ZP-0002", "visited_on": "2025-01-21", "visitor": "other_manager"}, "慰问工作人员"),
             ({"file_number": "ZP-0002", "id_number": mother, "visited_on": "2025-01-22", "visiting_party": "县领导"},
              "身份证号码"),
             ({"file_number": "ZP-0002", "visited_on": "2025-01-23", "visiting_party": "县领导", "goods_value": "50"},
              "慰问物品"),
             ({"file_number": "ZP-0002", "visited_on": "2025-01-24", "visiting_party": "县领导", "cash": "-1"},
              "现金（元）"),
             ({"file_number": "ZP-0002", "visited_on": "2025-01-25", "visiting_party": "县领导", "fund": "慰问金YX"},
              "资金")],
        ),
        "premiums": (
            [{"insurer": "人保", "policy_number": "保单ZP", "paid_on": "2025-01-10", "amount": "760"},
             {"insurer": "人保", "policy_number": "保单ZP", "id_number": mother, "paid_on": "2025-01-10"},
             {"insurer": "人保", "policy_number": "保单ZP", "id_number": father, "paid_on": "2025-01-10",
              "amount": "120", "reference": "T-1"}],
            [({"insurer": "人保", "policy_number": "保单YX", "paid_on": "2025-01-10", "amount": "1"}, "保单号"),
             ({"insurer": "国寿", "policy_number": "保单ZP", "paid_on": "2025-02-10", "amount": "1"}, "保单号"),
             ({"insurer": "人保", "policy_number": "退保ZP", "paid_on": "2025-01-10", "amount": "1"}, "保单号"),
             ({"insurer": "人保", "policy_number": "保单ZP", "id_number": father, "paid_on": "2025-03-10"}, "金额（元）"),
             ({"insurer": "人保", "policy_number": "保单ZP", "paid_on": "2025-04-10"}, "金额（元）"),
             ({"insurer": "人保", "policy_number": "保单ZP", "id_number": outsider, "paid_on": "2025-05-10",
               "amount": "1"}, "被保险人身份证号码"),
             ({"insurer": "人保", "policy_number": "保单ZP", "paid_on": "2025-06-10", "amount": "-1"}, "金额（元）")],
        ),
        "disbursements": (
            [{"fund": "慰问金ZP", "kind": "特扶金", "file_number": "ZP-0001", "amount": "1000", "paid_on": "2025-01-20"},
             {"fund": "慰问金ZP", "fund_year": "2025", "kind": "其他", "id_number": mother, "amount": "250.50",
              "goods": "米油", "paid_on": "2025/9/15"},
             {"fund": "志愿者经费ZP", "kind": "志愿者补贴", "volunteer_id_number": zp, "amount": "300",
              "paid_on": "2025年5月5日"}],
            [({"fund": "慰问金ZP", "kind": "特扶金", "file_number": "ZP-0001", "amount": "1", "paid_on": "2025-02-30"},
              "发放日期"),
             ({"fund": "慰问金ZP", "kind": "特扶金", "file_number": "ZP-9999", "amount": "1", "paid_on": "2025-02-01"},
              "档案编号"),
             ({"fund": "慰问金ZP", "kind": "特扶金", "file_number": "YX-0001", "amount": "1", "paid_on": "2025-02-01"},
              "档案编号"),
             ({"fund": "慰问金ZP", "kind": "特扶金", "file_number": "ZP-0002", "amount": "-5", "paid_on": "2025-02-01"},
              "金额或价值（元）"),
             ({"fund": "慰问金YX", "kind": "特扶金", "file_number": "ZP-0002", "amount": "5", "paid_on": "2025-02-01"},
              "资金"),
             ({"fund": "慰问金ZP", "kind": "特扶金", "id_number": outsider, "amount": "5", "paid_on": "2025-02-01"},
              "身份证号码")],
        ),
        "volunteer-support": (
            [{"fund": "志愿者经费ZP", "volunteer_id_number": zp, "amount": "300", "paid_on": "2025-05-05", "period": "Q2"},
             {"fund": "志愿者经费ZP", "volunteer_id_number": zp, "amount": "300", "paid_on": "2025-08-05", "period": "Q3"}],
            [({"fund": "志愿者经费ZP", "volunteer_id_number": yx, "amount": "300", "paid_on": "2025-05-05"},
              "志愿者身份证号码"),
             ({"fund": "志愿者经费ZP", "volunteer_id_number": zp, "amount": "-1", "paid_on": "2025-06-05"},
              "金额（元）"),
             ({"fund": "志愿者经费ZP", "volunteer_id_number": zp, "amount": "1", "paid_on": "昨天"}, "发放日期")],
        ),
        "grants": (
            [{"fund": "幸福工程ZP", "recipient_name": "陈美华", "amount": "5000", "paid_on": "2025-03-01",
              "outcome": "年增收", "outcome_amount": "8000"},
             {"fund": "幸福工程ZP", "file_number": "ZP-0001", "amount": "3000", "paid_on": "2025-03-01"}],
            [({"fund": "幸福工程ZP", "amount": "5000", "paid_on": "2025-03-01"}, "档案编号"),
             ({"fund": "幸福工程ZP", "recipient_name": "林", "amount": "5000", "paid_on": "2025-03-01",
               "outcome_amount": "-1"}, "成效金额（元）"),
             ({"fund": "幸福工程YX", "recipient_name": "林", "amount": "5000", "paid_on": "2025-03-01"}, "资金")],
        ),
        "funds": (
            [{"name": "2025年慰问金", "programme": "慰问", "year": "2025", "budget": "100000", "region_code": "350623"},
             {"name": "2025年体检", "programme": "体检", "year": "2025", "budget": "20000", "region_code": "350623100201",
              "source": "县财政"}],
            [({"name": "外县", "programme": "慰问", "year": "2025", "budget": "1", "region_code": "350622"}, "区划代码"),
             ({"name": "未知", "programme": "彩票", "year": "2025", "budget": "1", "region_code": "350623"}, "项目"),
             ({"name": "负数", "programme": "慰问", "year": "2025", "budget": "-1", "region_code": "350623"},
              "预算（元）")],
        ),
        "checkups": (
            [{"id_number": mother, "date": "2025-04-01", "provider": "漳浦县医院", "site": "体检中心ZP", "findings": "血压偏高"},
             {"id_number": world["own"].members.get(relation="father").id_number, "date": "2025-04-01",
              "provider": "漳浦县医院", "is_free": "否", "cost": "200"}],
            [({"id_number": outsider, "date": "2025-04-01", "provider": "县医院"}, "身份证号码"),
             ({"id_number": mother, "date": "2025-13-01", "provider": "县医院"}, "日期"),
             ({"id_number": mother, "date": "2025-05-01", "provider": "县医院", "site": "体检中心YX"}, "阵地"),
             ({"id_number": mother, "date": "2025-06-01", "provider": "县医院", "cost": "-3", "is_free": "否"},
              "费用（元）")],
        ),
        "sites": (
            [{"kind": "暖心家园", "name": "东门村暖心家园", "region_code": "350623100201", "capacity": "30",
              "opened_on": "2024-06-01"},
             {"kind": "心理慰藉中心", "name": "县心理慰藉中心", "region_code": "350623"}],
            [({"kind": "茶馆", "name": "甲", "region_code": "350623"}, "类型"),
             ({"kind": "暖心家园", "name": "乙", "region_code": "350623", "opened_on": "2025-01-01",
               "closed_on": "2024-01-01"}, "关闭日期"),
             ({"kind": "暖心家园", "name": "丙", "region_code": "350623", "capacity": "许多"}, "容纳人数")],
        ),
        "policies": (
            [{"insurer": "中国人寿", "policy_number": "P2025-1", "product_kind": "意外伤害保险", "region_code": "350623",
              "starts_on": "2025-01-01", "ends_on": "2025-12-31", "premium": "6800"},
             {"insurer": "人保", "policy_number": "R-9", "product_kind": "accident", "region_code": "350623",
              "starts_on": "2025-07-01", "ends_on": "2026-06-30", "premium": "7000", "fund": "慰问金ZP"}],
            [({"insurer": "人保", "policy_number": "X1", "product_kind": "accident", "region_code": "350623",
               "starts_on": "2025-07-01", "ends_on": "2025-06-30", "premium": "1"}, "结束日期"),
             ({"insurer": "人保", "policy_number": "X2", "product_kind": "accident", "region_code": "350623",
               "starts_on": "2025-01-01", "ends_on": "2025-12-31", "premium": "-1"}, "保费（元）"),
             ({"insurer": "人保", "policy_number": "X3", "product_kind": "accident", "region_code": "990000",
               "starts_on": "2025-01-01", "ends_on": "2025-12-31", "premium": "1"}, "区划代码")],
        ),
        "claims": (
            [{"insurer": "人保", "policy_number": "保单ZP", "id_number": mother, "incident_date": "2025-03-02",
              "amount_claimed": "500", "status": "已赔付", "amount_settled": "450", "settled_on": "2025-04-01",
              "diagnosis": "骨折"},
             {"insurer": "人保", "policy_number": "保单ZP", "id_number": father, "incident_date": "2025-05-02",
              "amount_claimed": "300", "status": "拒赔", "filed_on": "2025-05-10"}],
            [({"insurer": "人保", "policy_number": "保单YX", "id_number": mother, "incident_date": "2025-03-03",
               "amount_claimed": "1", "status": "已申请"}, "保单号"),
             ({"insurer": "人保", "policy_number": "退保ZP", "id_number": mother, "incident_date": "2025-03-04",
               "amount_claimed": "1", "status": "已申请"}, "保单号"),
             ({"insurer": "人保", "policy_number": "保单ZP", "id_number": outsider, "incident_date": "2025-03-05",
               "amount_claimed": "1", "status": "已申请"}, "被保险人身份证号码"),
             ({"insurer": "人保", "policy_number": "保单ZP", "id_number": mother, "incident_date": "2026-03-02",
               "amount_claimed": "1", "status": "已申请"}, "出险或入院日期"),
             ({"insurer": "人保", "policy_number": "保单ZP", "id_number": mother, "incident_date": "2025-06-01",
               "amount_claimed": "100", "status": "已赔付", "amount_settled": "200", "settled_on": "2025-07-01"},
              "赔付金额（元）"),
             ({"insurer": "人保", "policy_number": "保单ZP", "id_number": mother, "incident_date": "2025-06-02",
               "amount_claimed": "100", "status": "已赔付"}, "赔付金额（元）"),
             ({"insurer": "人保", "policy_number": "保单ZP", "id_number": mother, "incident_date": "2025-06-03",
               "amount_claimed": "100", "status": "拒赔", "settled_on": "2025-07-01"}, "理赔状态")],
        ),
        "checkins": (
            [{"file_number": "ZP-0001", "occurred_at": "2025-03-05 10:00", "channel": "入户走访", "mental_state": "低落",
              "difficulties": "腿脚不便", "help_given": "联系家庭医生"},
             {"file_number": "ZP-0001", "occurred_at": "2025/4/5", "channel": "电话"}],
            [({"file_number": "YX-0001", "occurred_at": "2025-03-05", "channel": "电话"}, "档案编号"),
             ({"file_number": "ZP-0001", "occurred_at": "2025-13-05", "channel": "电话"}, "联系日期和时间"),
             ({"file_number": "ZP-0001", "occurred_at": "2025-03-06", "channel": "飞鸽传书"}, "渠道"),
             ({"file_number": "ZP-0001", "occurred_at": "2099-01-01 08:00", "channel": "电话"}, "联系日期和时间")],
        ),
        "activities": (
            [{"title": "三月集体庆生", "category": "集体庆生", "region_code": "350623100201", "site": "体检中心ZP",
              "starts_at": "2025-03-15 09:00", "ends_at": "2025-03-15 11:30", "capacity": "30", "status": "已完成"},
             {"title": "清明追思", "category": "特色活动", "local_name": "清明追思会", "region_code": "350623",
              "starts_at": "2025年4月4日 14时00分", "ends_at": "2025-04-04 16:00"}],
            [({"title": "甲", "category": "讲座", "region_code": "350622", "starts_at": "2025-05-01 09:00",
               "ends_at": "2025-05-01 10:00"}, "区划代码"),
             ({"title": "乙", "category": "特色活动", "region_code": "350623", "starts_at": "2025-05-01 09:00",
               "ends_at": "2025-05-01 10:00"}, "特色活动名称"),
             ({"title": "丙", "category": "讲座", "region_code": "350623", "starts_at": "2025-05-01 09:00",
               "ends_at": "2025-05-01 08:00"}, "结束时间"),
             ({"title": "丁", "category": "讲座", "region_code": "350623", "starts_at": "五月一日",
               "ends_at": "2025-05-01 10:00"}, "开始时间")],
        ),
        "attendance": (
            [{"activity": "集体庆生ZP", "activity_date": "2025-03-15", "id_number": mother},
             {"activity": "集体庆生ZP", "activity_date": "2025-03-15", "activity_region": "350623100201",
              "volunteer_id_number": zp}],
            [({"activity": "集体庆生YX", "activity_date": "2025-03-15", "id_number": mother}, "活动"),
             ({"activity": "集体庆生ZP", "activity_date": "2025-03-16", "id_number": mother}, "活动"),
             ({"activity": "集体庆生ZP", "activity_date": "2025-03-15", "id_number": father,
               "volunteer_id_number": volunteer_id(3)}, "身份证号码"),
             ({"activity": "集体庆生ZP", "activity_date": "2025-03-15", "id_number": outsider}, "身份证号码"),
             # one seat, taken by the mother
             ({"activity": "集体庆生ZP", "activity_date": "2025-03-15", "id_number": father}, "活动")],
        ),
        "training-sessions": (
            [{"course": "陪伴技能ZP", "region_code": "350623", "starts_at": "2025-09-10 09:00",
              "ends_at": "2025-09-10 16:00", "venue": "会议室", "capacity": "30", "status": "已完成"}],
            [({"course": "陪伴技能YX", "region_code": "350623", "starts_at": "2025-09-11 09:00",
               "ends_at": "2025-09-11 16:00", "venue": "会议室", "capacity": "30"}, "课程"),
             ({"course": "陪伴技能ZP", "region_code": "350622", "starts_at": "2025-09-12 09:00",
               "ends_at": "2025-09-12 16:00", "venue": "会议室", "capacity": "30"}, "区划代码"),
             ({"course": "陪伴技能ZP", "region_code": "350623", "starts_at": "2025-09-13 09:00",
               "ends_at": "2025-09-13 08:00", "venue": "会议室", "capacity": "30"}, "结束时间"),
             ({"course": "陪伴技能ZP", "region_code": "350623", "starts_at": "2025-09-14 09:00",
               "ends_at": "2025-09-14 16:00", "capacity": "30"}, "地点")],
        ),
        "training": (
            [{"course": "陪伴技能ZP", "session_date": "2025-04-10", "volunteer_id_number": zp, "status": "出席"}],
            [({"course": "陪伴技能YX", "session_date": "2025-04-10", "volunteer_id_number": zp, "status": "出席"}, "课程"),
             ({"course": "陪伴技能ZP", "session_date": "2025-04-10", "volunteer_id_number": yx, "status": "出席"},
              "志愿者身份证号码"),
             ({"course": "陪伴技能ZP", "session_date": "2025-04-10", "volunteer_id_number": volunteer_id(3),
               "status": "请假了"},
              "出勤情况")],
        ),
    }


MODELS = {"visits": ConsolationVisit, "premiums": PremiumPayment,
          "disbursements": Disbursement, "volunteer-support": Disbursement, "grants": Disbursement, "funds": Fund,
          "checkups": HealthCheckup, "sites": ServiceSite, "policies": InsurancePolicy, "training": Enrollment,
          "claims": InsuranceClaim, "checkins": CheckIn, "activities": Activity, "attendance": ActivityAttendance,
          "training-sessions": TrainingSession}
HEADINGS = {
    "disbursements": ["资金", "资金年度", "类型", "档案编号", "身份证号码", "志愿者身份证号码", "其他领取人", "金额或价值（元）",
                      "物品", "发放日期", "发放批次", "说明"],
    "funds": ["名称", "项目", "年度", "预算（元）", "区划代码", "资金来源"],
    "training": ["课程", "培训日期", "志愿者身份证号码", "出勤情况"],
    "visits": ["档案编号", "身份证号码", "慰问日期", "慰问工作人员", "慰问单位或个人", "现金（元）", "慰问物品",
               "物品价值（元）", "慰问时节", "资金", "资金年度", "备注"],
    "premiums": ["保险公司", "保单号", "被保险人身份证号码", "缴费日期", "金额（元）", "收据或转账单号"],
}


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_template_downloads_with_chinese_headings_and_an_example(client, login, kind):
    login("manager")
    response = client.get(reverse("api:reports-import-template", args=[kind]))
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    headings = list(rows[0])
    assert headings == [str(c.heading) for c in TEMPLATES[kind].columns]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in headings), headings
    assert HEADINGS.get(kind, headings) == headings
    assert any(rows[1])  # the example row
    page = client.get(reverse("reports:import-template", args=[kind]))
    assert page.status_code == 200 and page.content[:2] == b"PK"


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_check_lists_problems_by_row_and_column_and_a_bad_row_writes_nothing(client, login, world, kind):
    good, bad = cases(world)[kind]
    model = MODELS[kind]
    before = model.objects.count()
    login("manager")
    checked = upload(client, kind, good + [row for row, _column in bad])
    assert checked.status_code == 400, checked.content
    body = checked.json()
    expected = {(len(good) + 2 + i, column) for i, (_row, column) in enumerate(bad)}
    assert {(p["row"], p["column"]) for p in body["problems"]} == expected, body["problems"]
    assert not body["committed"] and model.objects.count() == before
    # One bad row: nothing of the file is written.
    refused = upload(client, kind, good + [bad[0][0]], commit=True)
    assert refused.status_code == 400 and model.objects.count() == before
    # The clean rows alone: a check writes nothing, then an import writes them all.
    preview = upload(client, kind, good)
    assert preview.status_code == 200 and preview.json()["ok"] and model.objects.count() == before
    done = upload(client, kind, good, commit=True)
    assert done.status_code == 201, done.content
    assert done.json()["created"] == {"created": len(good), "updated": 0}
    assert model.objects.count() == before + len(good)
    event = AuditEvent.objects.get(event=f"reports.import.{kind}")
    assert len(event.object_ids) == len(good) and event.after["created"] == len(good)
    # The same file again changes nothing.
    snapshot = list(model.objects.order_by("pk").values())
    again = upload(client, kind, good, commit=True)
    assert again.status_code == 201
    assert again.json()["created"] == {"created": 0, "updated": 0} and again.json()["matched"] == len(good)
    assert list(model.objects.order_by("pk").values()) == snapshot
    assert AuditEvent.objects.filter(event=f"reports.import.{kind}").count() == 1


def test_a_row_twice_in_one_file_and_a_corrected_value(client, login, world):
    row = {"fund": "慰问金ZP", "kind": "特扶金", "file_number": "ZP-0001", "amount": "1000", "paid_on": "2025-01-20"}
    login("manager")
    body = upload(client, "disbursements", [row, row]).json()
    assert [(p["row"], p["column"], p["code"]) for p in body["problems"]] == [(3, "资金", "duplicate")]
    assert upload(client, "disbursements", [row], commit=True).status_code == 201
    corrected = upload(client, "disbursements", [{**row, "amount": "1200"}], commit=True).json()
    assert corrected["created"] == {"created": 0, "updated": 1}
    assert Disbursement.objects.get(family=world["own"]).amount == Decimal("1200.00")


def test_out_of_reach_and_unknown_references_read_the_same(client, login, world):
    login("manager")
    rows = [{"fund": "慰问金ZP", "kind": "特扶金", "id_number": world["outsider"].id_number, "amount": "1",
             "paid_on": "2025-02-01"},
            {"fund": "慰问金ZP", "kind": "特扶金", "id_number": make_id_number("350623", datetime.date(1950, 1, 1), 77),
             "amount": "1", "paid_on": "2025-02-01"}]
    problems = upload(client, "disbursements", rows).json()["problems"]
    assert len(problems) == 2 and problems[0]["message"] == problems[1]["message"]
    assert problems[0]["code"] == problems[1]["code"] == "not_found"
    assert world["outsider"].id_number not in str(problems)


def test_a_caseworker_imports_checkups_only_of_her_caseload(client, login, world, families):
    login("alice")  # social worker: her own family, not her colleague's
    colleague = families["colleague"].members.get(relation="mother")
    rows = [{"id_number": world["mother"].id_number, "date": "2025-04-01", "provider": "县医院"},
            {"id_number": colleague.id_number, "date": "2025-04-01", "provider": "县医院"}]
    body = upload(client, "checkups", rows, commit=True).json()
    assert [(p["row"], p["column"]) for p in body["problems"]] == [(3, "身份证号码")]
    assert upload(client, "checkups", rows[:1], commit=True).status_code == 201
    # A role that may not record disbursements gets a 403, whatever the file.
    assert upload(client, "disbursements", []).status_code == 403


def test_every_template_has_a_page(client, login):
    login("manager")
    for kind in TEMPLATES:
        assert client.get(reverse("reports:import", args=[kind])).status_code == 200
    index = client.get(reverse("reports:index")).content.decode()
    for kind in TEMPLATES:
        assert reverse("reports:import", args=[kind]) in index


def test_the_page_checks_and_imports_a_record_template(client, login):
    login("manager")
    url = reverse("reports:import", args=["sites"])
    rows = [{"kind": "暖心家园", "name": "东门村暖心家园", "region_code": "350623100201"}]
    bad = client.post(url, {"file": book("sites", rows + [{"kind": "茶馆", "name": "甲", "region_code": "350623"}]),
                            "import": "1"})
    assert bad.status_code == 400 and "类型" in bad.content.decode() and not ServiceSite.objects.exists()
    done = client.post(url, {"file": book("sites", rows), "import": "1"})
    assert done.status_code == 200 and "新增 1 条记录" in done.content.decode()
    assert ServiceSite.objects.get().region.code == "350623100201"


def test_a_role_that_never_sees_volunteers_id_numbers_cannot_find_them_by_one(client, login, world):
    login("coordinator")  # volunteers' ID numbers are not a coordinator's to see (core.privacy)
    rows = [{"course": "陪伴技能ZP", "session_date": "2025-04-10", "volunteer_id_number": volunteer_id(1),
             "status": "出席"}]
    body = upload(client, "training", rows, commit=True).json()
    assert [(p["row"], p["column"], p["code"]) for p in body["problems"]] == [(2, "志愿者身份证号码", "not_allowed")]
    assert not Enrollment.objects.exists()


def test_a_record_saved_meanwhile_by_another_door_refuses_the_file_whole(client, login, regions, monkeypatch):
    from reports import imports

    rows = [{"insurer": "人保", "policy_number": f"R-{i}", "product_kind": "accident", "region_code": "350623",
             "starts_on": "2025-01-01", "ends_on": "2025-12-31", "premium": "100"} for i in range(3)]
    InsurancePolicy.objects.create(insurer="人保", policy_number="R-2", product_kind="accident", region=regions["zhangpu"],
                                   starts_on=datetime.date(2025, 1, 1), ends_on=datetime.date(2025, 12, 31), premium=1)
    # As if R-2 were saved through the API after the import had looked for it.
    monkeypatch.setattr(imports.NaturalKeyLoader, "_load", lambda self, model, keys: {})
    login("manager")
    response = upload(client, "policies", rows, commit=True)
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "conflict"
    assert InsurancePolicy.objects.count() == 1


def test_visits_and_premiums_are_written_and_corrected_through_their_services(client, login, world):
    login("manager")
    visit = {"file_number": "ZP-0001", "visited_on": "2025-01-20", "visiting_party": "县计生协会", "cash": "800"}
    payment = {"insurer": "人保", "policy_number": "保单ZP", "id_number": world["mother"].id_number,
               "paid_on": "2025-01-10"}
    assert upload(client, "visits", [visit], commit=True).status_code == 201
    assert upload(client, "premiums", [payment], commit=True).status_code == 201
    assert PremiumPayment.objects.get().amount == Decimal("120.00")  # the roster's premium
    recorded = AuditEvent.objects.filter(event__in=["services.consolation.recorded", "services.premium.paid"])
    assert recorded.count() == 2
    corrected = upload(client, "visits", [{**visit, "cash": "900", "goods": "米油", "goods_value": "100"}], commit=True)
    assert corrected.json()["created"] == {"created": 0, "updated": 1}
    assert ConsolationVisit.objects.values_list("cash", "goods_value").get() == (Decimal("900.00"), Decimal("100.00"))
    change = AuditEvent.objects.get(event="services.consolation.changed")
    assert Decimal(str(change.before["cash"])) == Decimal("800.00")
    upload(client, "premiums", [{**payment, "amount": "150", "reference": "T-9"}], commit=True)
    assert PremiumPayment.objects.values_list("amount", "reference").get() == (Decimal("150.00"), "T-9")
    assert AuditEvent.objects.filter(event="services.premium.changed").count() == 1


def test_a_payment_to_a_member_is_one_to_her_family(client, login, world):
    row = {"fund": "慰问金ZP", "kind": "特扶金", "id_number": world["mother"].id_number, "amount": "590",
           "paid_on": "2025-06-30"}
    login("manager")
    assert upload(client, "disbursements", [row], commit=True).status_code == 201
    assert Disbursement.objects.get().family == world["own"]
    again = upload(client, "disbursements", [row], commit=True).json()
    assert again["created"] == {"created": 0, "updated": 0} and Disbursement.objects.count() == 1


def test_a_nursing_allowance_pays_the_policy_years_days_once_across_claims(client, login, world, regions):
    """Days in hospital count against the policy year's maximum across the member's claims: those on
    record and those earlier in the same file (as ``claim_file`` counts them); a rejected claim
    used none, and uploading the same file again is the same claims."""
    policy = InsurancePolicy.objects.create(
        insurer="人寿", policy_number="护理ZP", product_kind="nursing_allowance", region=regions["zhangpu"],
        status="active", starts_on=datetime.date(YEAR, 1, 1), ends_on=datetime.date(YEAR, 12, 31), premium=1000,
        daily_allowance=Decimal("100.00"), max_days=30)
    InsuredPerson.objects.create(policy=policy, member=world["mother"])
    InsuranceClaim.objects.create(policy=policy, member=world["mother"], incident_date=datetime.date(YEAR, 2, 1),
                                  hospital_days=12, amount_claimed=Decimal("1200.00"))
    InsuranceClaim.objects.create(policy=policy, member=world["mother"], incident_date=datetime.date(YEAR, 2, 20),
                                  hospital_days=20, amount_claimed=Decimal("0.00"), status="rejected")
    claim = {"insurer": "人寿", "policy_number": "护理ZP", "id_number": world["mother"].id_number,
             "status": "已申请"}
    rows = [{**claim, "incident_date": "2025-04-01", "hospital_days": "10", "amount_claimed": "1000"},
            # 12 + 10 days used: 8 are left, so at most 800.
            {**claim, "incident_date": "2025-06-01", "hospital_days": "10", "amount_claimed": "900"}]
    login("manager")
    refused = upload(client, "claims", rows)
    assert refused.status_code == 400
    assert [(p["row"], p["column"]) for p in refused.json()["problems"]] == [(3, "申请理赔金额（元）")]
    assert "800" in refused.json()["problems"][0]["message"]
    rows[1]["amount_claimed"] = "800"
    assert upload(client, "claims", rows, commit=True).status_code == 201
    again = upload(client, "claims", rows, commit=True)
    assert again.status_code == 201 and again.json()["created"] == {"created": 0, "updated": 0}
    # Every day is used now: another stay is refused on its days, unless the insurer rejected it.
    late = {**claim, "incident_date": "2025-09-01", "hospital_days": "3", "amount_claimed": "300"}
    assert upload(client, "claims", [late]).json()["problems"][0]["column"] == "住院天数"
    assert upload(client, "claims", [{**late, "status": "拒赔"}]).status_code == 200


def day_rows(kind, n, world):
    """``n`` rows of ``kind``, one a day (each its own record)."""
    days = [(datetime.date(YEAR, 1, 1) + datetime.timedelta(days=i)).isoformat() for i in range(n)]
    if kind == "visits":
        return [{"file_number": "ZP-0001", "visited_on": day, "visiting_party": "县计生协会", "cash": "100",
                 "fund": "慰问金ZP"} for day in days]
    return [{"id_number": world["mother"].id_number, "date": day, "provider": "县医院", "site": "体检中心ZP"}
            for day in days]


def queries(client, kind, rows, commit):
    with CaptureQueriesContext(connection) as captured:
        response = upload(client, kind, rows, commit=commit)
    assert response.status_code == (201 if commit else 200), response.content
    return len(captured)


@pytest.mark.parametrize("kind", ["visits", "checkups"])
def test_a_files_queries_do_not_grow_with_its_rows(client, login, world, kind):
    login("manager")
    # The check reads every reference and every record a key may match once per file.
    assert queries(client, kind, day_rows(kind, 3, world), False) == queries(client, kind, day_rows(kind, 9, world), False)
    model = MODELS[kind]
    written = []
    for n in (3, 6, 9):
        model.objects.all().delete()
        written.append(queries(client, kind, day_rows(kind, n, world), True))
    if kind == "checkups":  # written in bulk
        assert written[0] == written[1] == written[2]
    else:
        # Each row through the service, the same statements a row whatever the file's length: the
        # model's full_clean (its references, its two check constraints, its unique key), the insert
        # and its audit row, each in a savepoint. No lookup of a fund or family per row.
        assert written[2] - written[1] == written[1] - written[0] == 3 * 14, written


def test_a_coordinator_registers_no_volunteer_by_an_id_number_her_role_never_sees(client, login, regions, people):
    login("coordinator")  # the people's templates keep the same privacy rule as the record ones
    rows = [{"name": "林小梅", "id_number": volunteer_id(50), "region_code": "350623"}]
    body = upload(client, "volunteers", rows, commit=True).json()
    assert [(p["row"], p["column"], p["code"]) for p in body["problems"]] == [(2, "身份证号码", "not_allowed")]
    assert not Volunteer.objects.exists()
    login("manager")
    assert upload(client, "volunteers", rows, commit=True).json()["created"] == {"volunteers": 1}
    volunteer = Volunteer.objects.get()
    assert volunteer.id_number_index and volunteer.name_initials == "lxm" and volunteer.region.code == "350623000000"
