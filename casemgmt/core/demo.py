"""A believable, deterministic demo dataset for Zhangzhou (漳州市), written in bulk.

Why it is built this way:
- Speed (1,000,000 families with members and a year of check-ins in minutes): rows are generated as
  plain tuples and written with ``COPY`` on PostgreSQL (``executemany`` elsewhere), never through
  ``Model.save``. What ``save`` would derive (pinyin, blind indexes, birth date and sex, region
  path) is computed here, and encrypted columns are encrypted here with ``crypto.encrypt``.
- Families are generated in fixed-size chunks, each from its own ``random.Random(f"{seed}:{start}")``,
  so the data depends on ``seed``, ``today`` and the family count only — not on how many worker
  processes wrote it. Rows that other rows point at get ids computed from the family index (with
  gaps); the sequences are moved past them at the end.
- ID numbers must be unique among living people, across chunks and processes without coordination:
  the birth date and sequence number of each person are an injective function of the family index
  (see ``_people_dates``), so no two demo people can share an ID number.
"""
import bisect
import datetime
import functools
import io
import itertools
import multiprocessing
import random
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, connections, transaction
from django.db.models import Max
from pypinyin import Style, lazy_pinyin

from casemgmt.core.audit import audit_log
from casemgmt.core.crypto import blind_index, encrypt
from casemgmt.core.idcard import make_id_number
from casemgmt.core.models import Region, Role, User
from casemgmt.core.regions import regions_import_csv, regions_load_divisions
from families import models as fm
from services import models as sm
from volunteers import models as vm

CITY_CODE = "350600000000"
CHUNK = 2000  # families per chunk; fixed so that the data does not depend on the number of workers
PARENT_SLOTS = 250  # sequence numbers 000-499 for parents, 500-999 for children
CONTACT_ASSIGNMENT_KINDS = ("township_contact", "village_contact", "social_worker")

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余杜叶程魏苏吕丁沈任姚卢傅"
    "钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严赖覃洪武莫孔"
)
MALE_GIVEN = (
    "建国 建华 国强 志强 志明 文华 德明 永福 金福 国华 振华 明辉 水生 火旺 添丁 文彬 伟民 家明 荣华 庆丰 春生 海涛 "
    "国平 建平 天福 成功 进财 炳坤 炳南 清泉 木生 耀宗 长庚 福全 瑞祥 阿土 明德 启明 振东 和平"
).split()
FEMALE_GIVEN = (
    "秀英 桂英 秀兰 玉兰 凤英 美华 丽华 淑珍 秀珍 月娥 阿花 春梅 冬梅 金凤 玉珍 宝珠 素琴 碧霞 惠珍 丽珠 雪梅 "
    "翠华 美玉 素梅 彩霞 秋菊 爱华 玉梅 丽娟 淑贞 瑞珍 少华 宝玉 秀琴 雅琴 月英 巧云 美英 玉凤 丽琼"
).split()
CHILD_GIVEN = (
    "伟 磊 婷 静 超 杰 敏 燕 丹 强 晨 浩 鹏 颖 琳 俊杰 晓东 晓燕 思远 嘉欣 志伟 雅婷 佳怡 子豪 文杰 晓明 丽娜 海燕 "
    "建伟 小龙 晓峰 艺凡 雨萱 浩然 梓涵 一鸣 梦瑶 宇航 诗琪 欣怡"
).split()
PLACE_ROOTS = (
    "东山 石亭 霞美 官浔 杜浔 赤岭 马坪 深土 六鳌 古雷 沙西 前亭 佛昙 长桥 盘陀 湖西 赤湖 大南 石榴 南浦 绥安 岱山 "
    "埔尾 浯源 湖内 后江 下寮 西埔 竹屿 白石 溪南 五寨 旧镇 官陂 金星 梅林 船场 坂仔 芦溪 安厚 良村 龙山 丰山 汰内 "
    "仙都 新圩 高车 华丰 岩溪 枋洋 陈巷 武安 角美 紫泥 海澄 榜山 程溪 东园 浮宫 港尾 九湖 颜厝 白水 南坑 书洋"
).split()
VILLAGE_SUFFIXES = "头 尾 坑 厝 洋 埔 林 寮 美 山 溪 田 坂 墩 后 前 港 岭 内 下".split()
HEALTH = ["高血压", "糖尿病", "冠心病", "慢性胃炎", "关节炎", "失眠", "抑郁情绪", "白内障", "慢阻肺", "骨质疏松"]
DOCTORS = ["陈医生", "林医生", "黄医生", "郑医生", "吴医生", "张医生", "蔡医生", "杨医生"]
BANKS = ["中国农业银行", "中国工商银行", "中国建设银行", "中国银行", "漳州农商银行", "中国邮政储蓄银行"]
INSURERS = {"critical_illness": "中国人寿保险漳州分公司", "nursing_allowance": "中国人民财产保险漳州分公司"}
NEEDS = ["希望多来看看", "想参加集体活动", "需要陪同就医", "咨询特扶金发放", "希望办理养老优先", "", "", ""]
HELP = ["电话问候", "上门陪聊", "代购生活用品", "协助预约体检", "讲解政策", "陪同就医", "", ""]
DIFFICULTIES = ["行动不便", "慢性病用药负担重", "独居无人照应", "情绪低落", "", "", "", ""]
CHANNELS = ("phone", "phone", "phone", "wechat_video", "sms", "activity")
MOODS_AT_RISK = ("stable", "stable", "low", "anxious", "depressed", "low")
MOODS_CALM = ("stable",) * 5 + ("low",)
PHYSICAL = ("good", "fair", "fair", "poor")
MENTAL_NOTES = ["近期思念孩子，夜间失眠", "情绪低落，不愿出门", "提到孩子忌日将近，情绪波动", "偶有轻生念头，已转介心理咨询"]

# Believable proportions.
RISK_WEIGHTS = {"green": 55, "yellow": 28, "orange": 12, "red": 5}
STATUS_WEIGHTS = {"active": 86, "registered": 5, "closed": 4, "moved": 2, "deceased": 3}
CATEGORY_WEIGHTS = {"bereaved": 82, "disabled": 18}


def _weighted(rng, weights):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@functools.cache
def pinyin(name):
    return "".join(lazy_pinyin(name)).lower(), "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).lower()


@functools.cache
def _lunar_month_starts():
    """(ordinal of the first solar day, lunar month) of every lunar month 1935–1985, built once:
    converting each date with lunar_python costs ~0.5 ms, a bisect in this table ~1 µs."""
    from lunar_python import LunarYear, Solar

    starts = []
    for year in range(1935, 1986):
        for month in LunarYear.fromYear(year).getMonthsInYear():
            first = Solar.fromJulianDay(month.getFirstJulianDay())
            starts.append((datetime.date(first.getYear(), first.getMonth(), first.getDay()).toordinal(), abs(month.getMonth())))
    starts.sort()
    return [s[0] for s in starts], [s[1] for s in starts]


def lunar_month_day(date):
    ordinals, months = _lunar_month_starts()
    i = bisect.bisect_right(ordinals, date.toordinal()) - 1
    return months[i], date.toordinal() - ordinals[i] + 1


# ---------------------------------------------------------------------------------------------
# Writing rows
# ---------------------------------------------------------------------------------------------

class Table:
    """Rows for one model as tuples in the order of ``fields`` (attnames)."""

    def __init__(self, model, fields):
        self.model = model
        self.fields = list(fields)
        self.rows = []

    def add(self, *row):
        self.rows.append(row)


def write_rows(table, using="default"):
    if not table.rows:
        return
    conn = connections[using]
    db_table = table.model._meta.db_table
    qn = conn.ops.quote_name
    columns = [table.model._meta.get_field(name).column if not name.endswith("_id") else name for name in table.fields]
    column_sql = ", ".join(qn(c) for c in columns)
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            with cursor.copy(f"COPY {qn(db_table)} ({column_sql}) FROM STDIN") as copy:
                for row in table.rows:
                    copy.write_row(row)
        else:
            adapters = [_adapter(table.model, name, conn) for name in table.fields]
            placeholders = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {qn(db_table)} ({column_sql}) VALUES ({placeholders})"
            for start in range(0, len(table.rows), 1000):
                batch = table.rows[start:start + 1000]
                cursor.executemany(sql, [
                    [a(v) if a and v is not None else v for a, v in zip(adapters, row, strict=True)] for row in batch
                ])
    table.rows.clear()


def _adapter(model, name, conn):
    internal = model._meta.get_field(name[:-3] if name.endswith("_id") and name != "id" else name).get_internal_type()
    return {
        "DateTimeField": conn.ops.adapt_datetimefield_value,
        "DateField": conn.ops.adapt_datefield_value,
        "DecimalField": lambda v: conn.ops.adapt_decimalfield_value(v),
        "JSONField": None,
    }.get(internal)


def reset_sequences(models):
    if connection.vendor != "postgresql":
        return  # SQLite picks max(id) + 1 by itself
    with connection.cursor() as cursor:
        for model in models:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
            )


# ---------------------------------------------------------------------------------------------
# Context shared by all chunks (built once, read-only, inherited by forked workers)
# ---------------------------------------------------------------------------------------------

@dataclass
class Context:
    seed: int
    today: datetime.date
    tz: ZoneInfo
    start_index: int
    counties: list  # [(county id, code6, path, name)]
    villages: dict  # county code6 -> [(village id, path, urban_rural_code, township path, name, full name)]
    staff: dict  # township path -> {kind: [user ids]}
    volunteers: dict  # county code6 -> [volunteer ids]
    activities: dict  # county code6 -> [(activity id, start datetime)]
    policies: dict  # county code6 -> {(year, product): policy id}
    funds: dict  # (county code6 or "city", programme, year) -> fund id
    rates: dict  # (category, residence) -> monthly Decimal
    cadence: tuple  # ((region path or "", risk level, contact days, visit days), ...) from CadenceRule
    scales: dict  # code -> (id, max score, bands)
    sites: dict  # county code6 -> [site ids]
    id_base: dict = field(default_factory=dict)  # model label -> id offset
    now: datetime.datetime | None = None


@functools.cache
def _cadence_cached(rules, path, risk):
    # The rule on the deepest region containing the family wins, as in families.services.cadence_rules_for.
    best = max((r for r in rules if r[1] == risk and path.startswith(r[0])), key=lambda r: len(r[0]), default=None)
    return (best[2], best[3]) if best else (30, 90)


def _cadence(ctx, path, risk):
    return _cadence_cached(ctx.cadence, path, risk)


def _dt(ctx, date, rng, hours=(8, 18)):
    return datetime.datetime.combine(date, datetime.time(rng.randint(*hours), rng.choice((0, 10, 20, 30, 40, 50))), ctx.tz)


def _people_dates(index):
    """Birth dates and sequence numbers of father, mother and child of family ``index``.

    Injective: for a fixed slot ``s = index % PARENT_SLOTS`` the day offset ``t`` differs for every
    group ``g = index // PARENT_SLOTS`` (``P`` is coprime to ``N``), and the age gaps depend on ``s``
    only, so (birth date, sequence) never repeats between families — whatever county they live in.
    """
    n_days = 8766  # 1948-01-01 .. 1971-12-31
    g, s = divmod(index, PARENT_SLOTS)
    if g >= n_days:
        raise ValueError("too many demo families for unique ID numbers")
    t = (g * 7919 + s * 104729) % n_days
    father = datetime.date(1948, 1, 1) + datetime.timedelta(days=t)
    gap_rng = random.Random(s)
    mother = father + datetime.timedelta(days=gap_rng.randint(-4 * 365, 3 * 365))
    child = mother + datetime.timedelta(days=gap_rng.randint(21 * 365, 30 * 365))
    return (father, 2 * s + 1), (mother, 2 * s), (child, 500 + 2 * s)


# ---------------------------------------------------------------------------------------------
# One chunk of families
# ---------------------------------------------------------------------------------------------

def _tables():
    F, M = fm.Family, fm.FamilyMember
    stamps = ["created_at", "updated_at", "version"]
    return {
        "family": Table(F, ["id", *stamps, "file_number", "category", "region_id", "region_path", "address", "residence",
                            "status", "status_reason", "status_changed_at", "risk_level", "risk_reason", "risk_assessed_at",
                            "registered_on", "last_checkin_at", "next_checkin_due", "last_home_visit_at",
                            "next_home_visit_due", "notes"]),
        "status": Table(fm.FamilyStatusChange, ["family_id", "from_status", "to_status", "reason", "changed_by_id",
                                                "changed_at"]),
        "member": Table(M, ["id", *stamps, "family_id", "name", "name_pinyin", "name_initials", "relation", "id_number",
                            "id_number_index", "birth_date", "sex", "birthday_calendar", "lunar_birth_month",
                            "lunar_birth_day", "phone", "phone_index", "is_deceased", "death_date", "disability_grade",
                            "disability_certificate_number", "health_conditions", "family_doctor",
                            "family_doctor_institution", "family_doctor_signed_on", "family_doctor_expires_on"]),
        "assignment": Table(fm.ContactAssignment, ["family_id", "user_id", "kind", "started_on", "ended_on", "end_reason",
                                                   "assigned_by_id"]),
        "assessment": Table(fm.Assessment, ["id", *stamps, "family_id", "member_id", "scale_id", "score", "resulting_risk",
                                            "notes", "assessed_by_id", "assessed_at"]),
        "risk": Table(fm.RiskLevelChange, ["family_id", "from_level", "to_level", "reason", "assessment_id", "changed_by_id",
                                           "changed_at"]),
        "checkin": Table(fm.CheckIn, [*stamps, "family_id", "occurred_at", "recorded_by_id", "channel", "physical_state",
                                      "mental_state", "mental_notes", "difficulties", "needs", "help_given", "follow_up",
                                      "follow_up_due"]),
        "plan": Table(fm.CarePlan, ["id", *stamps, "family_id", "title", "summary", "status", "owner_id", "starts_on",
                                    "review_on"]),
        "goal": Table(fm.CarePlanGoal, ["id", "plan_id", "description", "target_date", "status"]),
        "task": Table(fm.CareTask, ["family_id", "plan_id", "goal_id", "kind", "description", "assignee_id", "due_on", "status",
                                    "done_at", "dedup_key", "created_at"]),
        "enrollment": Table(fm.AssistanceEnrollment, ["id", *stamps, "member_id", "family_id", "status", "applied_on",
                                                      "approved_on", "ended_on", "end_reason", "bank_name", "bank_account"]),
        "review": Table(fm.AnnualReview, [*stamps, "enrollment_id", "year", "status", "applied_on", "village_reviewed_on",
                                          "confirmed_on", "reviewer_id", "note"]),
        "consent": Table(fm.ConsentRecord, ["family_id", "member_id", "purpose", "scope", "given", "recorded_by_id",
                                            "recorded_at", "withdrawn_at", "evidence"]),
        "pairing": Table(vm.Pairing, ["volunteer_id", "family_id", "started_on", "ended_on", "end_reason"]),
        "hours": Table(vm.ServiceHours, ["volunteer_id", "family_id", "activity_id", "date", "hours", "description", "status",
                                         "reviewed_by_id", "reviewed_at"]),
        "attendance": Table(sm.ActivityAttendance, ["activity_id", "member_id", "volunteer_id", "checked_in_at", "method"]),
        "insured": Table(sm.InsuredPerson, ["policy_id", "member_id", "premium", "added_on"]),
        "claim": Table(sm.InsuranceClaim, [*stamps, "policy_id", "member_id", "incident_date", "hospital_days", "amount_claimed",
                                           "amount_settled", "status", "filed_on", "settled_on", "diagnosis"]),
        "disbursement": Table(sm.Disbursement, ["fund_id", "kind", "amount", "goods", "family_id", "member_id", "volunteer_id",
                                                "recipient_name", "paid_on", "period", "description", "recorded_by_id",
                                                "outcome", "outcome_amount"]),
        "checkup": Table(sm.HealthCheckup, ["member_id", "date", "provider", "site_id", "is_free", "cost", "findings"]),
    }


TABLE_ORDER = ["family", "status", "member", "assignment", "assessment", "risk", "checkin", "plan", "goal", "task",
               "enrollment", "review", "consent", "pairing", "hours", "attendance", "insured", "claim", "disbursement",
               "checkup"]


def family_ids(ctx, index):
    """Ids of the rows other rows point at, computed from the family index."""
    base = ctx.id_base
    return {
        "family": base["family"] + index + 1,
        "members": [base["member"] + 3 * index + k for k in (1, 2, 3)],  # father, mother, child
        "assessments": [base["assessment"] + 2 * index + k for k in (1, 2)],
        "plan": base["plan"] + index + 1,
        "goals": [base["goal"] + 2 * index + k for k in (1, 2)],
        "enrollments": [base["enrollment"] + 2 * index + k for k in (1, 2)],
    }


def _phone(rng):
    return rng.choice(("138", "139", "135", "137", "150", "152", "158", "159", "187", "188", "189", "133", "177")) + \
        f"{rng.randrange(10**8):08d}"


def generate_chunk(ctx, start, count):
    """All rows of families ``start`` .. ``start + count - 1`` (indices after ``ctx.start_index``)."""
    rng = random.Random(f"{ctx.seed}:{start}")
    tables = _tables()
    for index in range(start, start + count):
        _family(ctx, rng, index, tables)
    return tables


def _family(ctx, rng, index, t):
    today, now = ctx.today, ctx.now
    ids = family_ids(ctx, index)
    fid = ids["family"]
    county_id, county6, county_path, county_name = rng.choice(ctx.counties)
    village_id, village_path, urban_rural, town_path, village_name, village_full = rng.choice(ctx.villages[county6])
    staff = ctx.staff[town_path]
    residence = "urban" if urban_rural.startswith("1") else "rural"
    category = _weighted(rng, CATEGORY_WEIGHTS)
    status = _weighted(rng, STATUS_WEIGHTS)
    risk = _weighted(rng, RISK_WEIGHTS)
    if status == "registered":
        registered_on = today - datetime.timedelta(days=rng.randint(1, 40))
    else:
        registered_on = today - datetime.timedelta(days=rng.randint(200, 365 * 12))
    users = {kind: rng.choice(staff[kind]) for kind in CONTACT_ASSIGNMENT_KINDS}
    social_worker = users["social_worker"]

    # Members
    (f_birth, f_seq), (m_birth, m_seq), (c_birth, c_seq) = _people_dates(ctx.start_index + index)
    surname = rng.choice(SURNAMES)
    mother_surname = rng.choice(SURNAMES)
    child_sex = rng.choice("MF")
    if child_sex == "F":
        c_seq -= 1  # even sequence: female (c_seq is odd-aligned at 500 + 2s)
    else:
        c_seq += 1
    names = [surname + rng.choice(MALE_GIVEN), mother_surname + rng.choice(FEMALE_GIVEN), surname + rng.choice(CHILD_GIVEN)]
    births = [f_birth, m_birth, c_birth]
    seqs = [f_seq, m_seq, c_seq]
    relations = ["father", "mother", "child"]
    deceased_which = {0, 1} if status == "deceased" else ({rng.randrange(2)} if rng.random() < 0.1 else set())
    child_death = None
    if category == "bereaved":
        earliest = c_birth + datetime.timedelta(days=365 * rng.randint(1, 40))
        latest = registered_on - datetime.timedelta(days=30)
        child_death = min(earliest, latest) if earliest < latest else latest - datetime.timedelta(days=rng.randint(0, 365))
        child_death = max(child_death, c_birth + datetime.timedelta(days=1))
    family_status_reason = ""
    stamps = (now, now, 1)
    members = []
    for k in range(3):
        mid = ids["members"][k]
        name = names[k]
        py, initials = pinyin(name)
        id_number = make_id_number(county6, births[k], seqs[k])
        sex = "M" if seqs[k] % 2 else "F"
        is_child = k == 2
        dead = (is_child and child_death is not None) or (k in deceased_which)
        death_date = child_death if is_child else (
            today - datetime.timedelta(days=rng.randint(10, 1500)) if dead else None)
        lunar = not is_child and rng.random() < 0.35
        lunar_md = lunar_month_day(births[k]) if lunar else (None, None)
        phone = _phone(rng) if not dead and (not is_child or category == "disabled") and rng.random() < 0.9 else ""
        grade = rng.choice((1, 2, 2, 3, 3, 3)) if is_child and category == "disabled" else None
        cert = f"{id_number}{rng.randint(1, 7)}{grade}" if grade else ""
        health = ""
        if not dead and rng.random() < 0.45:
            health = "、".join(rng.sample(HEALTH, rng.randint(1, 3)))
        doctor = not dead and not is_child and rng.random() < 0.6
        signed = today - datetime.timedelta(days=rng.randint(0, 330)) if doctor else None
        t["member"].add(
            mid, *stamps, fid, name, py, initials, relations[k], encrypt(id_number), blind_index(id_number, "id_number"),
            births[k], sex, "lunar" if lunar else "solar", lunar_md[0], lunar_md[1],
            encrypt(phone) if phone else "", blind_index(phone, "phone"), dead, death_date, grade,
            encrypt(cert) if cert else "", encrypt(health) if health else "",
            rng.choice(DOCTORS) if doctor else "",
            (f"{village_full[len('福建省漳州市'):len('福建省漳州市') + 3]}卫生院" if doctor else ""),
            signed, signed + datetime.timedelta(days=365) if doctor else None,
        )
        members.append((mid, name, dead, births[k], death_date))
    living_parents = [m for m in members[:2] if not m[2]]

    # Status, check-ins and due dates
    status_changed_at = None
    end_day = today
    if status in ("closed", "moved", "deceased"):
        end_day = today - datetime.timedelta(days=rng.randint(10, 200))
        status_changed_at = _dt(ctx, end_day, rng)
        family_status_reason = {"closed": "家庭申请结案", "moved": "迁往外地居住", "deceased": "夫妻双方均已去世"}[status]
    t["status"].add(fid, "", "registered", "登记建档", social_worker, _dt(ctx, registered_on, rng))
    contact_days, visit_days = _cadence(ctx, village_path, risk)
    last_checkin = last_visit = None
    first_checkin = None
    if status != "registered":
        first_day = max(registered_on + datetime.timedelta(days=rng.randint(1, 10)), today - datetime.timedelta(days=365))
        # Some families are overdue: contacts stopped one or two cadences ago.
        stop = end_day - datetime.timedelta(days=contact_days * rng.randint(1, 2) if rng.random() < 0.08 else 0)
        # The hot loop (~17 rows a family): one getrandbits call a row, its bit fields pick the details.
        day = first_day
        since_visit = visit_days
        add = t["checkin"].rows.append
        moods = MOODS_AT_RISK if risk != "green" else MOODS_CALM
        kinds = (users["township_contact"], users["village_contact"], users["social_worker"])
        midnight = datetime.datetime.combine(first_day, datetime.time(8, 0), ctx.tz)
        step = min(6, contact_days - 1)
        while day <= stop and day < today:
            bits = rng.getrandbits(48)
            occurred = midnight + datetime.timedelta(days=(day - first_day).days, minutes=bits % 600)
            if occurred > now:
                break
            home_visit = since_visit >= visit_days - 10 or (bits >> 10) % 10 == 0
            channel = "home_visit" if home_visit else CHANNELS[(bits >> 14) % 6]
            mental = moods[(bits >> 17) % 6]
            notes = encrypt(MENTAL_NOTES[(bits >> 20) % 4]) if mental == "depressed" and (bits >> 22) & 1 else ""
            follow = (bits >> 23) % 10 == 0
            add((occurred, occurred, 1, fid, occurred, kinds[0] if home_visit else kinds[(bits >> 27) % 3], channel,
                 PHYSICAL[(bits >> 29) % 4], mental, notes, DIFFICULTIES[(bits >> 31) % 8], NEEDS[(bits >> 34) % 8],
                 HELP[(bits >> 37) % 8], "下周电话回访" if follow else "", day + datetime.timedelta(days=7) if follow else None))
            first_checkin = first_checkin or occurred
            last_checkin = occurred
            if home_visit:
                last_visit = occurred
                since_visit = 0
            gap = contact_days - (bits >> 40) % (step + 1) if step > 0 else contact_days
            since_visit += gap
            day += datetime.timedelta(days=gap)
        t["status"].add(fid, "registered", "active", "首次联系", users["township_contact"],
                        first_checkin or _dt(ctx, first_day, rng))
        if status != "active":
            t["status"].add(fid, "active", status, family_status_reason, social_worker, status_changed_at)
    # As families.services._due_dates computes them.
    base_contact = last_checkin.astimezone(ctx.tz).date() if last_checkin else registered_on
    base_visit = last_visit.astimezone(ctx.tz).date() if last_visit else registered_on
    next_due = base_contact + datetime.timedelta(days=contact_days)
    next_visit = base_visit + datetime.timedelta(days=visit_days)

    # Risk history and assessments
    risk_reason = "初次评估"
    risk_at = _dt(ctx, registered_on, rng)
    history = ["green"] if risk == "green" else rng.choice((["green", risk], ["yellow", risk], [risk]))
    if history[0] == risk and len(history) > 1:
        history = [risk]
    assess_rows = []
    if risk != "green" or rng.random() < 0.2:
        n = 2 if len(history) > 1 else 1
        for k in range(n):
            level = history[k] if k < len(history) else risk
            code = rng.choice(("phq9", "ucla"))
            scale_id, max_score, bands = ctx.scales[code]
            lows = [b[0] for b in bands] + [max_score + 1]
            band = next(i for i, b in enumerate(bands) if b[1] == level)
            score = rng.randint(max(lows[band], 20 if code == "ucla" else 0), lows[band + 1] - 1)
            when = _dt(ctx, max(registered_on, today - datetime.timedelta(days=300 - 150 * k)), rng)
            if when > now:
                when = now - datetime.timedelta(hours=1)
            aid = ids["assessments"][k]
            assess_rows.append((aid, level, when, code, score))
            t["assessment"].add(aid, *stamps, fid, (living_parents or members)[0][0], scale_id, score, level,
                                encrypt("评估时情绪低落，反复提及孩子") if level in ("orange", "red") else "",
                                social_worker, when)
    previous = ""
    for level in history:
        matching = next((a for a in assess_rows if a[1] == level), None)
        reason = f"{'PHQ-9' if matching and matching[3] == 'phq9' else 'UCLA'} 得分 {matching[4]}" if matching else "初次评估"
        when = matching[2] if matching else _dt(ctx, registered_on, rng)
        t["risk"].add(fid, previous, level, reason, matching[0] if matching else None, social_worker, when)
        previous, risk_reason, risk_at = level, reason, when

    t["family"].add(
        fid, *stamps, f"ZZ{ctx.start_index + index + 1:07d}", category, village_id, village_path,
        f"{village_full}{rng.randint(1, 200)}号", residence, status, family_status_reason, status_changed_at,
        risk, risk_reason, risk_at, registered_on, last_checkin, next_due, last_visit, next_visit, "",
    )

    # Contact assignments, with some history
    for kind in CONTACT_ASSIGNMENT_KINDS:
        started = registered_on
        if kind == "village_contact" and rng.random() < 0.15 and len(staff[kind]) > 1:
            former = next(u for u in staff[kind] if u != users[kind])
            switch = registered_on + datetime.timedelta(days=rng.randint(1, max(1, (today - registered_on).days)))
            t["assignment"].add(fid, former, kind, registered_on, switch, "工作调动", None)
            started = switch
        t["assignment"].add(fid, users[kind], kind, started, None, "", None)

    # Care plan for families at risk
    if risk in ("orange", "red") or (risk == "yellow" and rng.random() < 0.3):
        pid = ids["plan"]
        starts = max(registered_on, today - datetime.timedelta(days=rng.randint(20, 200)))
        t["plan"].add(pid, *stamps, fid, "心理慰藉帮扶计划", "每周联系，每月上门，必要时转介心理咨询中心", "active",
                      social_worker, starts, starts + datetime.timedelta(days=90))
        goals = [("情绪稳定，PHQ-9 分数下降到 10 分以下", 60), ("每月参加一次集体活动", 90)]
        for k, (text, days) in enumerate(goals):
            t["goal"].add(ids["goals"][k], pid, text, starts + datetime.timedelta(days=days), rng.choice(("open", "open", "met")))
        for text, days, goal in ([("转介心理咨询中心", 14, 0), ("陪同参加暖心家园活动", 30, 1),
                                                 ("上门开展哀伤辅导", 45, 0)]):
            due = starts + datetime.timedelta(days=days)
            done = due < today and rng.random() < 0.7
            t["task"].add(fid, pid, ids["goals"][goal], "plan", text, social_worker, due, "done" if done else "open",
                          _dt(ctx, due, rng) if done else None, None, now)
    if child_death and status in ("active", "registered"):
        anniversary = _next_anniversary(child_death, today)
        t["task"].add(fid, None, None, "anniversary", "孩子忌日前上门慰问", users["township_contact"],
                      anniversary - datetime.timedelta(days=3), "open", None, None, now)

    # Special assistance: the mother is 49 or older
    mother_age = (today - m_birth).days // 365
    if mother_age >= 49 and status != "registered":
        for k, (mid, _name, dead, _b, died) in enumerate(members[:2]):
            eid = ids["enrollments"][k]
            applied = max(registered_on, m_birth + datetime.timedelta(days=49 * 365 + 30))
            approved = applied + datetime.timedelta(days=rng.randint(30, 75))
            if applied > today or (dead and died <= approved):
                continue
            if approved > today:
                row = ("applied", applied, None, None, "", "", "")
            elif dead:
                row = ("ended", applied, approved, died, "death", "", "")
            elif status in ("closed", "moved", "deceased"):
                row = ("ended", applied, approved, end_day, "moved" if status == "moved" else "other", "", "")
            else:
                bank = rng.choice(BANKS)
                account = "6228" + "".join(str(rng.randrange(10)) for _ in range(15))
                row = ("approved", applied, approved, None, "", bank, encrypt(account))
            t["enrollment"].add(eid, *stamps, mid, fid, *row)
            if row[0] == "approved":
                for year in (today.year - 1, today.year):
                    confirmed = datetime.date(year, 3, rng.randint(1, 15))
                    if confirmed.year < approved.year or (year == today.year and today < datetime.date(year, 1, 15)):
                        continue
                    state = "confirmed" if confirmed <= today else "applied"
                    t["review"].add(*stamps, eid, year, state, datetime.date(year, 1, rng.randint(2, 14)),
                                    datetime.date(year, 2, rng.randint(1, 14)) if state == "confirmed" else None,
                                    confirmed if state == "confirmed" else None, social_worker, "")
        enrolled = [m for m in living_parents] if status in ("active",) else []
        rate = ctx.rates.get((category, residence), Decimal("0"))
        for year, half in _recent_halves(today):
            if enrolled and rate:
                paid = datetime.date(year, 1 if half == 1 else 7, 20)
                if paid <= today and paid >= registered_on:
                    t["disbursement"].add(ctx.funds[(county6, "special_assistance", year)], "assistance_payment",
                                          rate * 6 * len(enrolled), "", fid, None, None, "", paid, f"{year}H{half}",
                                          "特别扶助金半年发放", None, "", None)

    # Consent
    consent_member = (living_parents or members)[0][0]
    recorded = _dt(ctx, registered_on, rng)
    for purpose in ("case_management", "health_data", "contact_phone"):
        t["consent"].add(fid, consent_member, purpose, "本会开展帮扶服务所需", True, social_worker, recorded, None,
                         f"知情同意书 {fid:08d}")
    if rng.random() < 0.3:
        withdrawn = recorded + datetime.timedelta(days=rng.randint(30, 300))
        t["consent"].add(fid, consent_member, "photos", "活动照片宣传使用", True, social_worker, recorded,
                         withdrawn if withdrawn < now and rng.random() < 0.3 else None, "")

    open_family = status in ("active", "registered")
    # Pairing and service hours
    if open_family and rng.random() < 0.18 and ctx.volunteers.get(county6):
        volunteer = rng.choice(ctx.volunteers[county6])
        started = max(registered_on, today - datetime.timedelta(days=rng.randint(30, 700)))
        t["pairing"].add(volunteer, fid, started, None, "")
        for _ in range(rng.randint(1, 4)):
            day = started + datetime.timedelta(days=rng.randint(0, max(0, (today - started).days)))
            approved = rng.random() < 0.8
            t["hours"].add(volunteer, fid, None, day, Decimal(rng.choice(("1.0", "1.5", "2.0", "3.0"))), "结对陪伴走访",
                           "approved" if approved else "pending", None, _dt(ctx, day, rng) if approved else None)

    # Activities attended
    past = [a for a in ctx.activities.get(county6, ()) if a[1] < now]
    if living_parents and past and rng.random() < 0.25:
        for activity_id, starts_at in rng.sample(past, min(len(past), rng.randint(1, 3))):
            t["attendance"].add(activity_id, rng.choice(living_parents)[0], None, starts_at, rng.choice(("list", "qr")))

    # Insurance roster, claims, check-ups, consolation
    policies = ctx.policies[county6]
    for mid, _name, _dead, _b, _d in living_parents:
        for key in ((today.year, "critical_illness"), (today.year, "nursing_allowance"), (today.year - 1, "critical_illness")):
            if key in policies:
                t["insured"].add(policies[key], mid, Decimal("85.00") if key[1] == "critical_illness" else Decimal("60.00"),
                                 datetime.date(key[0], 1, 1))
        if rng.random() < 0.03 and (today.year - 1, "nursing_allowance") in policies:
            days = rng.randint(3, 40)
            incident = datetime.date(today.year - 1, rng.randint(1, 12), rng.randint(1, 28))
            settled = incident + datetime.timedelta(days=days + rng.randint(10, 40))
            policy = policies[(today.year - 1, "nursing_allowance")]
            t["insured"].add(policy, mid, Decimal("60.00"), datetime.date(today.year - 1, 1, 1))
            t["claim"].add(*stamps, policy, mid, incident, days, Decimal(100 * min(days, 90)),
                           Decimal(100 * min(days, 90)) if settled <= today else None,
                           "settled" if settled <= today else "under_review", incident + datetime.timedelta(days=days + 3),
                           settled if settled <= today else None, encrypt(rng.choice(("肺炎", "脑梗塞", "股骨骨折", "冠心病"))))
        if rng.random() < 0.3:
            day = today - datetime.timedelta(days=rng.randint(1, 330))
            sites = ctx.sites.get(county6) or [None]
            t["checkup"].add(mid, day, f"{county_name}医院体检中心", rng.choice(sites), True, Decimal("300.00"),
                             encrypt(rng.choice(("血压偏高", "血糖偏高", "未见明显异常", "建议复查心电图"))))
    if open_family and living_parents and rng.random() < 0.2:
        festival = rng.choice(((1, 20, "春节慰问"), (9, 10, "中秋慰问"), (4, 2, "清明慰问")))
        paid = datetime.date(today.year if datetime.date(today.year, festival[0], festival[1]) <= today else today.year - 1,
                             festival[0], festival[1])
        cash = rng.random() < 0.7
        t["disbursement"].add(ctx.funds[(county6, "consolation", paid.year)],
                              "consolation_cash" if cash else "consolation_goods",
                              Decimal(rng.choice((500, 800, 1000, 1200))) if cash else Decimal("300.00"),
                              "" if cash else "大米、食用油、牛奶", fid, None, None, "", paid, "", festival[2], None, "", None)
    return t


def _next_anniversary(date, today):
    for year in (today.year, today.year + 1):
        try:
            candidate = date.replace(year=year)
        except ValueError:
            candidate = datetime.date(year, 3, 1)
        if candidate >= today:
            return candidate
    return today


def _recent_halves(today):
    return [(today.year - 1, 1), (today.year - 1, 2), (today.year, 1), (today.year, 2)]


def write_chunk(ctx, start, count, using="default"):
    tables = generate_chunk(ctx, start, count)
    with transaction.atomic(using=using):
        for name in TABLE_ORDER:
            write_rows(tables[name], using)
    return count


def _worker(args):
    ctx, start, count = args
    try:
        return write_chunk(ctx, start, count)
    finally:
        connections.close_all()


# ---------------------------------------------------------------------------------------------
# The shared parts, written once in the main process
# ---------------------------------------------------------------------------------------------

SCALES = [
    ("phq9", "PHQ-9 抑郁症筛查量表", "Patient Health Questionnaire, 9 items, 0–27.", 27,
     [[0, "green"], [10, "yellow"], [15, "orange"], [20, "red"]]),
    ("ucla", "UCLA 孤独感量表（第三版）", "UCLA Loneliness Scale v3, 20 items, 20–80.", 80,
     [[0, "green"], [35, "yellow"], [50, "orange"], [65, "red"]]),
]
SKILLS = [
    ("psychology", "心理咨询", True), ("medicine", "医疗护理", True), ("law", "法律援助", True),
    ("companionship", "陪伴关怀", False), ("housekeeping", "家政服务", False), ("haircut", "义务理发", False),
    ("photography", "摄影记录", False), ("culture", "文体指导", False), ("rehab", "康复指导", True),
]
COURSES = [
    ("心理慰藉基础培训", "psychology", "心理慰藉志愿者证书", 24), ("陪伴关怀技巧", "companionship", "", None),
    ("急救与护理常识", "medicine", "红十字救护员证", 36), ("法律援助实务", "law", "", None),
    ("青春健康主持人培训", None, "青春健康主持人资格", 24),
]
ACTIVITY_TITLES = {
    "birthday": "集体庆生会", "lecture": "健康知识讲座", "recreation": "文体健身活动", "gathering": "交流联谊会",
    "home_care": "入户关怀行动",
}
LOCAL_ACTIVITIES = ["连心茶话会", "暖心包饺子", "书画疗愈工作坊", "花博园踏青"]
RATES = {("bereaved", "urban"): "1000", ("bereaved", "rural"): "790", ("disabled", "urban"): "800", ("disabled", "rural"): "640"}
NATIONAL_2014 = {("bereaved", "urban"): "340", ("bereaved", "rural"): "170", ("disabled", "urban"): "270",
                 ("disabled", "rural"): "150"}


@dataclass
class SeedResult:
    families: int = 0
    counts: dict = field(default_factory=dict)


def _name(rng, male=None):
    male = rng.random() < 0.5 if male is None else male
    return rng.choice(SURNAMES) + rng.choice(MALE_GIVEN if male else FEMALE_GIVEN)


def ensure_zhangzhou(rng):
    """Fujian, Zhangzhou and its real counties; generated townships and villages where none exist."""
    if not Region.objects.filter(code=CITY_CODE).exists():
        regions_load_divisions()
    counties = list(Region.objects.filter(parent__code=CITY_CODE, level=Region.Level.COUNTY, is_active=True).order_by("code"))
    with_townships = set(
        Region.objects.filter(level=Region.Level.TOWNSHIP, parent__in=counties).values_list("parent_id", flat=True))
    lines = ["code,name,urban_rural_code"]
    roots = PLACE_ROOTS[:]
    rng.shuffle(roots)
    pool = itertools.cycle(roots)
    for county in counties:
        if county.pk in with_townships:
            continue
        code6 = county.code[:6]
        is_district = county.name.endswith("区")
        for n in range(rng.randint(6, 10)):
            root = next(pool)
            if is_district and n < 3:
                town_code, town_name = f"{code6}{n + 1:03d}", f"{root}街道"
            else:
                town_code, town_name = f"{code6}{100 + n:03d}", f"{root}{rng.choice(('镇', '镇', '乡'))}"
            lines.append(f"{town_code}000,{town_name},")
            used = set()
            for v in range(rng.randint(6, 12)):
                urban = v < 2 or town_name.endswith("街道")
                while True:
                    village_name = rng.choice(PLACE_ROOTS)[0] + rng.choice(VILLAGE_SUFFIXES) + ("社区" if urban else "村")
                    if village_name not in used:
                        used.add(village_name)
                        break
                village_code = f"{town_code}{v + 1:03d}" if urban else f"{town_code}{200 + v:03d}"
                urban_rural = rng.choice(("111", "112")) if urban else rng.choice(("210", "220"))
                lines.append(f"{village_code},{village_name},{urban_rural}")
    if len(lines) > 1:
        regions_import_csv(file=io.StringIO("\n".join(lines)))
    return counties


def _staff(rng, counties, townships, now):
    """A pool of demo staff per township (contacts and a social worker) and a coordinator per county.

    Their passwords are unusable: the logins to try are the ones ``manage.py demo_users`` prints."""
    wanted = []
    for town in townships:
        for kind, role, n in (("township_contact", Role.CONTACT_PERSON, 1), ("village_contact", Role.CONTACT_PERSON, 2),
                              ("social_worker", Role.SOCIAL_WORKER, 1)):
            for k in range(n):
                wanted.append((f"demo-{town.path}-{kind.split('_')[0]}{k + 1}", role, town, kind))
    for county in counties:
        wanted.append((f"demo-{county.path}-coordinator", Role.VOLUNTEER_COORDINATOR, county, "coordinator"))
    existing = {u.username: u for u in User.objects.filter(username__in=[w[0] for w in wanted])}
    unusable = make_password(None)
    new = [
        User(username=username, role=role, region=region, is_staff=True, password=unusable, date_joined=now,
             display_name=_name(rng), organisation=f"{region.name}计生协")
        for username, role, region, _kind in wanted if username not in existing
    ]
    User.objects.bulk_create(new, batch_size=1000)
    users = {u.username: u for u in User.objects.filter(username__in=[w[0] for w in wanted])}
    from casemgmt.core.roles import group_for

    groups = {role: group_for(role) for role in Role.values}
    Through = User.groups.through
    Through.objects.bulk_create([Through(user_id=users[u.username].pk, group_id=groups[u.role].pk) for u in new],
                                ignore_conflicts=True)
    staff, coordinators = {}, {}
    for username, _role, region, kind in wanted:
        if kind == "coordinator":
            coordinators[region.path] = users[username]
        else:
            staff.setdefault(region.path, {}).setdefault(kind, []).append(users[username].pk)
    return staff, coordinators


def _volunteer_id_number(county6, index):
    g, s = divmod(index, 500)
    birth = datetime.date(1960, 1, 1) + datetime.timedelta(days=(g * 7919 + s * 104729) % 14000)
    return make_id_number(county6, birth, s * 2 + (index % 2))


def seed_demo(*, seed=1, families=200, today=None, workers=1, stdout=None):
    """Build the demo dataset; returns a ``SeedResult``. See the module docstring for the design."""
    from django.utils import timezone

    rng = random.Random(seed)
    today = today or timezone.localdate()
    tz = ZoneInfo(settings.TIME_ZONE)
    now = datetime.datetime.combine(today, datetime.time(20, 0), tz)
    log = (lambda msg: stdout.write(msg)) if stdout else (lambda msg: None)

    with transaction.atomic():
        counties = ensure_zhangzhou(rng)
        city = Region.objects.get(code=CITY_CODE)
        province = city.parent
        townships = list(Region.objects.filter(parent__in=counties, level=Region.Level.TOWNSHIP).order_by("code"))
        villages = {}
        for v in Region.objects.filter(level=Region.Level.VILLAGE, path__startswith=city.path, is_active=True).select_related(
                "parent").order_by("code"):
            villages.setdefault(v.code[:6], []).append(
                (v.pk, v.path, v.urban_rural_code or "220", v.parent.path, v.name, v.full_name))
        counties = [c for c in counties if c.code[:6] in villages]
        staff, coordinators = _staff(rng, counties, townships, now)
        reference = _reference(province, today)
        shared = _shared(rng, city, counties, coordinators, today, now, families)
    log(f"Regions, staff and shared records ready ({len(villages)} counties, "
        f"{sum(len(v) for v in villages.values())} villages).")

    start_index = fm.Family.objects.count()
    models_with_ids = {"family": fm.Family, "member": fm.FamilyMember, "assessment": fm.Assessment, "plan": fm.CarePlan,
                       "goal": fm.CarePlanGoal, "enrollment": fm.AssistanceEnrollment}
    id_base = {key: model.objects.aggregate(m=Max("id"))["m"] or 0 for key, model in models_with_ids.items()}
    cadence = tuple(
        (rule.region.path if rule.region else "", rule.risk_level, rule.contact_interval_days, rule.home_visit_interval_days)
        for rule in fm.CadenceRule.objects.select_related("region")
    )
    ctx = Context(
        seed=seed, today=today, tz=tz, start_index=start_index,
        counties=[(c.pk, c.code[:6], c.path, c.name) for c in counties], villages=villages, staff=staff,
        volunteers=shared["volunteers"], activities=shared["activities"], policies=shared["policies"],
        funds=shared["funds"], rates=reference["rates"], cadence=cadence, scales=reference["scales"],
        sites=shared["sites"], id_base=id_base, now=now,
    )
    chunks = [(ctx, start, min(CHUNK, families - start)) for start in range(0, families, CHUNK)]
    done = 0
    if workers > 1 and connection.vendor == "postgresql" and len(chunks) > 1:
        connections.close_all()  # children must open their own connections
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for count in pool.imap_unordered(_worker, chunks):
                done += count
                log(f"  {done}/{families} families")
    else:
        with transaction.atomic():
            for chunk in chunks:
                done += write_chunk(*chunk)
                if len(chunks) > 1:
                    log(f"  {done}/{families} families")
    with transaction.atomic():
        _after_families(rng, ctx, shared, families, today, now)
        reset_sequences(list(models_with_ids.values()))
    return SeedResult(families=families)


def _reference(province, today):
    scales = {}
    for code, name, description, max_score, bands in SCALES:
        scale, _ = fm.AssessmentScale.objects.get_or_create(
            code=code, defaults={"name": name, "description": description, "max_score": max_score, "bands": bands})
        scales[code] = (scale.pk, scale.max_score, scale.bands)
    for (category, residence), amount in NATIONAL_2014.items():
        fm.AssistanceRate.objects.get_or_create(region=None, category=category, residence=residence,
                                                effective_from=datetime.date(2014, 1, 1),
                                                defaults={"monthly_amount": Decimal(amount)})
    rates = {}
    for (category, residence), amount in RATES.items():
        rate, _ = fm.AssistanceRate.objects.get_or_create(region=province, category=category, residence=residence,
                                                          effective_from=datetime.date(2024, 1, 1),
                                                          defaults={"monthly_amount": Decimal(amount)})
        rates[(category, residence)] = rate.monthly_amount
    for code, name, professional in SKILLS:
        vm.Skill.objects.get_or_create(code=code, defaults={"name": name, "is_professional": professional})
    return {"scales": scales, "rates": rates}


def _shared(rng, city, counties, coordinators, today, now, n_families):
    """Teams, volunteers, training, sites, activities, funds and policies: created once per run."""
    tz = now.tzinfo
    years = (today.year - 1, today.year)
    skills = {s.code: s for s in vm.Skill.objects.all()}
    funds = {}
    city_programmes = [("volunteer_support", "志愿服务支持资金", 406000), ("happiness_project", "幸福工程救助资金", 500000),
                       ("insurance", "计生家庭保险资金", 680000)]
    county_programmes = [("special_assistance", "特别扶助资金", 2000000), ("consolation", "节日慰问资金", 120000),
                         ("health", "免费体检资金", 80000)]
    for year in years:
        for programme, name, budget in city_programmes:
            fund, _ = sm.Fund.objects.get_or_create(region=city, programme=programme, year=year, name=f"漳州市{name}",
                                                    defaults={"budget": Decimal(budget), "source": "市级财政"})
            funds[("city", programme, year)] = fund.pk
        fund, _ = sm.Fund.objects.get_or_create(region=city.parent, programme="provincial_special", year=year,
                                                name="福建省计生特殊家庭专项资金",
                                                defaults={"budget": Decimal(23000000), "source": "省级财政"})
        funds[("province", "provincial_special", year)] = fund.pk
        for county in counties:
            for programme, name, budget in county_programmes:
                fund, _ = sm.Fund.objects.get_or_create(region=county, programme=programme, year=year,
                                                        name=f"{county.name}{name}",
                                                        defaults={"budget": Decimal(budget), "source": "县级财政"})
                funds[(county.code[:6], programme, year)] = fund.pk

    # Sites: 10 psychological aid centres as in the bulletin, and every other kind.
    sites, all_sites = {}, []
    existing_sites = sm.ServiceSite.objects.filter(region__path__startswith=city.path).exists()
    if not existing_sites:
        new_sites = []
        for n, county in enumerate(counties):
            kinds = [("warm_heart_home", f"{county.name}暖心家园"), ("happiness_station", f"{county.name}幸福驿站"),
                     ("parent_child_hut", f"{county.name}向日葵亲子小屋")]
            if n < 10:
                kinds.append(("psych_aid_centre", f"{county.name}心理慰藉援助中心"))
            if n < 4:
                kinds.append(("counselling_centre", f"{county.name}心理疏导服务中心"))
            if n < 3:
                kinds.append(("family_health_centre", f"{county.name}家庭健康服务中心"))
            for kind, name in kinds:
                new_sites.append(sm.ServiceSite(
                    kind=kind, name=name, region=county, address=f"{county.full_name}人民路{rng.randint(1, 300)}号",
                    capacity=rng.choice((30, 50, 80)), opened_on=datetime.date(rng.randint(2016, 2023), rng.randint(1, 12), 1),
                    partner=f"{county.name}医院" if kind in ("psych_aid_centre", "counselling_centre") else "",
                    coordinator=coordinators.get(county.path), phone=f"0596-{rng.randint(2000000, 6999999)}"))
        sm.ServiceSite.objects.bulk_create(new_sites)
    for site in sm.ServiceSite.objects.filter(region__path__startswith=city.path).select_related("region").order_by("id"):
        sites.setdefault(site.region.code[:6], []).append(site.pk)
        all_sites.append(site)

    # Teams and volunteers
    volunteers = {}
    n_volunteers = max(30, min(50000, n_families // 20))
    base = vm.Volunteer.objects.count()
    teams = {}
    for county in counties:
        team, _ = vm.Team.objects.get_or_create(region=county, name=f"{county.name}心连心志愿服务队",
                                                defaults={"description": "陪伴关怀、心理慰藉、义诊义剪"})
        teams[county.pk] = team
    skill_list = list(skills.values())
    new_volunteers, titles = [], {"psychology": "国家二级心理咨询师", "medicine": "执业医师", "law": "执业律师",
                                  "rehab": "康复治疗师"}
    for k in range(n_volunteers):
        county = counties[k % len(counties)]
        index = base + k
        name = _name(rng)
        id_number = _volunteer_id_number(county.code[:6], index)
        phone = _phone(rng)
        chosen = rng.sample(skill_list, rng.randint(1, 3))
        title = next((titles[s.code] for s in chosen if s.code in titles and rng.random() < 0.6), "")
        new_volunteers.append((vm.Volunteer(
            name=name, name_initials=pinyin(name)[1], id_number=id_number, id_number_index=blind_index(id_number, "id_number"),
            phone=phone, phone_index=blind_index(phone, "phone"), region=county, team=teams[county.pk],
            professional_title=title, availability=rng.choice(("周末", "工作日晚上", "随时", "节假日")),
            status=rng.choice(("active",) * 9 + ("inactive",)), joined_on=today - datetime.timedelta(days=rng.randint(30, 2000)),
        ), chosen))
    # bulk_create encrypts through EncryptedTextField.get_prep_value (tested).
    vm.Volunteer.objects.bulk_create([v for v, _ in new_volunteers], batch_size=2000)
    Through = vm.Volunteer.skills.through
    Through.objects.bulk_create([Through(volunteer_id=v.pk, skill_id=s.pk) for v, chosen in new_volunteers for s in chosen],
                                batch_size=5000)
    for v_id, region_code in vm.Volunteer.objects.filter(status="active").values_list("id", "region__code").order_by("id"):
        volunteers.setdefault(region_code[:6], []).append(v_id)

    # Training: courses, sessions, enrolments and qualifications
    courses = []
    for title, skill, qualification, months in COURSES:
        course, _ = vm.TrainingCourse.objects.get_or_create(
            title=title, region=city, defaults={"skill": skills.get(skill), "qualification_name": qualification,
                                                "validity_months": months, "description": f"{title}（每季度一期）"})
        courses.append(course)
    new_sessions = []
    for course in courses:
        for county in counties[:4]:
            for offset in (-200, -60, 30):
                start = datetime.datetime.combine(today + datetime.timedelta(days=offset + rng.randint(0, 20)),
                                                  datetime.time(9, 0), tz)
                new_sessions.append(vm.TrainingSession(
                    course=course, region=county, starts_at=start, ends_at=start + datetime.timedelta(hours=3),
                    venue=f"{county.name}暖心家园培训室", trainer=_name(rng), capacity=30,
                    status="completed" if start < now else "scheduled", created_at=now, updated_at=now))
    vm.TrainingSession.objects.bulk_create(new_sessions)
    enrollments, qualifications = [], []
    for session in new_sessions:
        pool = volunteers.get(session.region.code[:6], [])
        for v_id in rng.sample(pool, min(len(pool), rng.randint(5, 15))):
            if session.status == "completed":
                status = rng.choice(("attended", "attended", "attended", "no_show"))
            else:
                status = rng.choice(("enrolled", "enrolled", "waitlisted", "cancelled"))
            attended = session.starts_at if status == "attended" else None
            enrollments.append(vm.Enrollment(session=session, volunteer_id=v_id, status=status,
                                             enrolled_at=session.starts_at - datetime.timedelta(days=7), attended_at=attended))
            course = session.course
            if attended and course.qualification_name:
                granted = attended.astimezone(tz).date()
                qualifications.append(vm.Qualification(
                    volunteer_id=v_id, name=course.qualification_name, course=course, session=session,
                    certificate_number=f"ZZ{granted:%Y}{len(qualifications) + 1:05d}", granted_on=granted,
                    expires_on=granted + datetime.timedelta(days=30 * course.validity_months)))
    vm.Enrollment.objects.bulk_create(enrollments, batch_size=2000)
    vm.Qualification.objects.bulk_create(qualifications, batch_size=2000)

    # "5+N" activities per county over the year, with volunteers attending
    new_activities = []
    for county in counties:
        county_sites = [s for s in all_sites if s.region_id == county.pk]
        home = next((s for s in county_sites if s.kind == "warm_heart_home"), None)
        for month_offset in range(-12, 2, 3):
            day = today + datetime.timedelta(days=30 * month_offset + rng.randint(0, 20))
            for category, title in ACTIVITY_TITLES.items():
                start = datetime.datetime.combine(day + datetime.timedelta(days=rng.randint(0, 10)), datetime.time(9, 30), tz)
                new_activities.append(sm.Activity(
                    title=f"{county.name}{title}", category=category, site=home, region=county, starts_at=start,
                    ends_at=start + datetime.timedelta(hours=2, minutes=30), capacity=rng.choice((30, 50, 80)),
                    organiser=coordinators.get(county.path), status=_activity_status(start, now),
                    description="计生特殊家庭“5+N”关爱活动", created_at=now, updated_at=now))
            local = rng.choice(LOCAL_ACTIVITIES)
            start = datetime.datetime.combine(day + datetime.timedelta(days=12), datetime.time(14, 30), tz)
            new_activities.append(sm.Activity(
                title=f"{county.name}{local}", category="local", local_name=local, site=home, region=county, starts_at=start,
                ends_at=start + datetime.timedelta(hours=2), capacity=40, organiser=coordinators.get(county.path),
                status=_activity_status(start, now), created_at=now, updated_at=now))
    sm.Activity.objects.bulk_create(new_activities, batch_size=1000)
    activities, attendance, hours = {}, [], []
    for activity in new_activities:
        code6 = activity.region.code[:6]
        activities.setdefault(code6, []).append((activity.pk, activity.starts_at))
        if activity.starts_at < now and activity.status == "completed":
            for v_id in rng.sample(volunteers.get(code6, []), min(len(volunteers.get(code6, [])), rng.randint(2, 6))):
                attendance.append(sm.ActivityAttendance(activity=activity, volunteer_id=v_id, checked_in_at=activity.starts_at,
                                                        method="qr"))
                hours.append(vm.ServiceHours(volunteer_id=v_id, activity=activity, date=activity.starts_at.astimezone(tz).date(),
                                             hours=Decimal("3.0"), description=f"协助{activity.title}", status="approved",
                                             reviewed_by=activity.organiser, reviewed_at=activity.ends_at))
    sm.ActivityAttendance.objects.bulk_create(attendance, batch_size=2000)
    vm.ServiceHours.objects.bulk_create(hours, batch_size=2000)

    # Insurance policies per county and year; this year's renew last year's.
    policies = {}
    for county in counties:
        previous = {}
        for year in years:
            for product in ("critical_illness", "nursing_allowance"):
                number = f"{'ZJ' if product == 'critical_illness' else 'HL'}{year}{county.code[:6]}"
                policy = sm.InsurancePolicy.objects.filter(insurer=INSURERS[product], policy_number=number).first()
                if policy is None:
                    policy = sm.InsurancePolicy.objects.create(
                        insurer=INSURERS[product], product_kind=product, policy_number=number, region=county,
                        starts_on=datetime.date(year, 1, 1), ends_on=datetime.date(year, 12, 31),
                        premium=Decimal(62000 if product == "critical_illness" else 30000),
                        daily_allowance=Decimal(100) if product == "nursing_allowance" else None,
                        max_days=90 if product == "nursing_allowance" else None, fund_id=funds[("city", "insurance", year)],
                        status="active" if datetime.date(year, 12, 31) >= today else "expired",
                        renews=previous.get(product), responsible=coordinators.get(county.path))
                previous[product] = policy
                policies.setdefault(county.code[:6], {})[(year, product)] = policy.pk
    return {"volunteers": volunteers, "activities": activities, "policies": policies, "funds": funds, "sites": sites}


def _activity_status(start, now):
    return "completed" if start < now else ("open" if start < now + datetime.timedelta(days=30) else "planned")


def _after_families(rng, ctx, shared, n_families, today, now):
    """Records that point at families by index: Happiness Project grants, volunteer support."""
    year = today.year - 1
    grants = []
    for index in range(0, n_families, 97)[: max(3, n_families // 500)]:
        ids = family_ids(ctx, index)
        amount = Decimal(50000)
        gained = Decimal(rng.choice((8000, 12000, 15000, 20000, 26000)))
        grants.append(sm.Disbursement(
            fund_id=ctx.funds[("city", "happiness_project", year)], kind="grant", amount=amount, family_id=ids["family"],
            member_id=ids["members"][1], paid_on=datetime.date(year, 5, 20), description="幸福工程创业帮扶（种养殖项目）",
            outcome=rng.choice(("养殖蛋鸭，年增收", "种植蜜柚，年增收", "开办小吃店，年增收")), outcome_amount=gained))
    grants.append(sm.Disbursement(
        fund_id=ctx.funds[("city", "happiness_project", year)], kind="grant", amount=Decimal(50000),
        recipient_name="幸福工程受助母亲（非计生特殊家庭）", paid_on=datetime.date(year, 6, 1), description="幸福工程创业帮扶",
        outcome="经营茶叶店，年增收", outcome_amount=Decimal(18000)))
    for volunteer_ids in shared["volunteers"].values():
        for v_id in volunteer_ids[:3]:
            grants.append(sm.Disbursement(
                fund_id=ctx.funds[("city", "volunteer_support", year)], kind="volunteer_support", amount=Decimal(1200),
                volunteer_id=v_id, paid_on=datetime.date(year, 12, 10), description="志愿服务交通餐费补贴"))
    for county6 in shared["sites"]:
        grants.append(sm.Disbursement(
            fund_id=ctx.funds[("province", "provincial_special", year)], kind="other", amount=Decimal(100000),
            recipient_name=f"{county6} 向日葵亲子小屋建设", paid_on=datetime.date(year, 8, 1), description="省专项资金建设补助"))
    sm.Disbursement.objects.bulk_create(grants, batch_size=2000)

    # A few transfers between counties, one decided and one waiting for the receiving county.
    if n_families >= 2 and len(ctx.counties) > 1:
        requester = next(iter(ctx.staff.values()))["social_worker"][0]
        transfers = []
        for k, status in enumerate(("accepted", "requested")):
            family = fm.Family.objects.filter(pk=family_ids(ctx, k)["family"]).select_related("region").first()
            target = next(c for c in ctx.counties if not family.region_path.startswith(c[2]))
            transfers.append(fm.FamilyTransfer(
                family=family, from_region=family.region, to_region_id=target[0], status=status, reason="随子女亲属迁居",
                requested_by_id=requester, requested_at=now - datetime.timedelta(days=20 - 10 * k),
                decided_at=now - datetime.timedelta(days=5) if status == "accepted" else None,
                decision_note="同意接收" if status == "accepted" else ""))
        fm.FamilyTransfer.objects.bulk_create(transfers)
    audit_log(actor=None, event="core.demo.seeded", after={"families": n_families, "seed": ctx.seed, "today": today},
              reason="seed_demo")
