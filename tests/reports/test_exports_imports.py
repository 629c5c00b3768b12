"""List exports (masked by default, unmasked audited, 公示 always masked, insurer roster) and imports
(a full check listing every problem, then all or nothing, matching people by ID number)."""
import datetime
import io
import time

import openpyxl
import pytest
from django.urls import reverse

from casemgmt.core.idcard import make_id_number
from casemgmt.core.models import AuditEvent
from families.models import AssistanceEnrollment, ConsentRecord, Family, FamilyMember
from reports.imports import FAMILY_COLUMNS, families_import
from services.models import InsurancePolicy
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db


def read(response):
    assert response.status_code == 200, response.content[:300]
    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0].iter_rows(values_only=True))
    return list(rows[0]), [list(r) for r in rows[1:]]


def test_family_list_is_masked_by_default(client, login, families):
    login("manager")
    headings, rows = read(client.get(reverse("api:reports-export", args=["families"])))
    assert headings == ["档案编号", "区划代码", "区域", "类别", "状态", "姓名", "关系", "身份证号码", "电话", "已故"]
    assert len(rows) == 4  # two families of the county, two parents each; never yunxiao's
    mother = families["own"].members.get(relation="mother")
    row = next(r for r in rows if r[0] == "ZP-0001" and r[6] == "母亲")
    assert row[5] == "王*英" and row[7] == mother.id_number[:6] + "********" + mother.id_number[-4:]
    assert row[8] == "138****0001" and row[9] == "否" and row[1] == "350623100201"
    after = AuditEvent.objects.get(event="reports.export.masked").after
    assert after["list"] == "families" and after["rows"] == 4
    assert "families.familymember.id_number" in after["masked"] and "families.familymember.id_number" not in after["fields"]


def stepped_up(client):
    """The session just proved its second factor (what the step-up page leaves behind)."""
    from casemgmt.security.stepup import SESSION_KEY

    session = client.session
    session[SESSION_KEY] = time.time()
    session.save()
    return client


def test_unmasked_export_needs_role_and_reason_and_is_audited(client, login, regions, families, people):
    from tests.conftest import add_family

    add_family(regions["village"], "ZP-0009", mother_seq=40, father_seq=41)
    login("manager")
    stepped_up(client)
    url = reverse("api:reports-export", args=["families"]) + f"?region={regions['village'].code}"
    assert client.post(url, {}).status_code == 400  # no reason
    headings, rows = read(client.post(url, {"reason": "核对特扶名单"}))
    assert len(rows) == 4  # the village's two families, never the rest of the county
    mother = families["own"].members.get(relation="mother")
    assert ["王秀英", mother.id_number, "13800000001"] in [[r[5], r[7], r[8]] for r in rows]
    event = AuditEvent.objects.get(event="reports.export.unmasked")
    assert event.reason == "核对特扶名单" and event.actor == people["manager"]
    assert event.region_path == regions["village"].path
    assert len(event.object_ids) == 4 and set(families["own"].members.values_list("pk", flat=True)) <= set(event.object_ids)
    client.logout()
    login("coordinator")
    assert client.post(url, {"reason": "x"}).status_code == 403
    assert not AuditEvent.objects.filter(event="reports.export.unmasked", actor=people["coordinator"]).exists()


def consent(family, purpose, given=True):
    return ConsentRecord.objects.create(family=family, purpose=purpose, given=given)


def test_public_posting_is_always_masked_and_only_lists_consenting_families(client, login, families):
    for member in FamilyMember.objects.filter(relation="mother"):
        AssistanceEnrollment.objects.create(member=member, family=member.family, status="approved")
    consent(families["own"], "public_posting")
    consent(families["colleague"], "public_posting")
    login("manager")
    url = reverse("api:reports-export", args=["public_posting"])
    headings, rows = read(client.get(url))
    assert headings == ["区域", "姓名", "身份证号码", "类别", "状态"]
    assert len(rows) == 2 and all(r[1] == "王*英" and "*" * 8 in r[2] for r in rows)
    assert client.post(url, {"reason": "公示"}).status_code == 403
    # A withdrawal takes effect at once: the next list leaves the family out.
    consent(families["colleague"], "public_posting", given=False)
    headings, rows = read(client.get(url))
    assert len(rows) == 1


def test_insurer_roster_lists_living_consenting_insured_people(client, login, report_data, people):
    policy = report_data["zhangpu"]["policies"][1]
    families_on_roster = {person.member.family for person in policy.roster.select_related("member__family")}
    for family in families_on_roster:
        consent(family, "insurance")
    login("manager")
    stepped_up(client)
    url = reverse("api:reports-export", args=["insurer_roster"]) + f"?policy={policy.pk}"
    headings, rows = read(client.post(url, {"reason": "续保"}))
    assert headings[:3] == ["保单号", "姓名", "性别"]
    assert sorted(r[1] for r in rows) == ["李建国", "王秀英"] and {r[0] for r in rows} == {"PZP2"}
    assert all(r[7] == 100 for r in rows)
    client.logout()
    login("carol")
    assert client.get(url).status_code == 404


def workbook(rows, columns=FAMILY_COLUMNS):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([str(c.heading) for c in columns])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    buffer.name = "upload.xlsx"
    return buffer


def person(seq, year=1960):
    return make_id_number("350623", datetime.date(year, 1, 1) + datetime.timedelta(days=seq), seq % 900 + 1)


def test_template_has_chinese_headings(client, login):
    login("manager")
    headings, rows = read(client.get(reverse("api:reports-import-template", args=["families"])))
    assert headings == ["档案编号", "类别", "区划代码", "住址", "姓名", "关系", "身份证号码", "电话", "已故"]
    # One example row; the rest are empty cells pre-formatted as text (ID numbers keep their digits).
    assert [r[0] for r in rows if any(r)] == ["ZP-2026-0001"]


def test_preview_lists_every_problem_and_imports_nothing(client, login, families):
    existing = families["outside"].members.get(relation="mother").id_number
    bad = person(1)[:17] + ("0" if person(1)[17] != "0" else "1")
    rows = [
        ["NEW-1", "失独", "350623100201", "", "张三", "父亲", person(1), "", "否"],
        ["NEW-1", "失独", "350623100201", "", "李四", "母亲", bad, "", "否"],  # wrong check digit
        ["NEW-2", "伤残", "999999999999", "", "王五", "父亲", person(2), "", ""],  # unknown code
        ["NEW-2", "伤残", "999999999999", "", "王五", "父亲", person(2), "", ""],  # duplicate in file (and code)
        ["NEW-3", "失独", "350623100201", "", "", "母亲", existing, "", ""],  # no name, alive in another family
        ["NEW-4", "失独", "350622100201", "", "赵六", "父亲", person(4), "", ""],  # outside the manager's reach
    ]
    login("manager")
    response = client.post(reverse("api:reports-import", args=["families"]), {"file": workbook(rows), "commit": "true"})
    assert response.status_code == 400
    body = response.json()
    got = {(p["row"], p["column"]) for p in body["problems"]}
    assert got == {(3, "身份证号码"), (4, "区划代码"), (5, "区划代码"), (5, "身份证号码"), (6, "姓名"), (6, "身份证号码"),
                   (7, "区划代码")}
    assert "校验" in next(p["message"] for p in body["problems"] if p["row"] == 3) or body["problems"][0]["message"]
    assert not body["committed"] and not Family.objects.filter(file_number__startswith="NEW").exists()


def test_clean_file_imports_all_matching_existing_people(client, login, families, django_assert_max_num_queries):
    own_mother = families["own"].members.get(relation="mother")
    rows = [["ZP-0001", "", "", "", "王秀英", "母亲", own_mother.id_number, "", ""]]  # already in this family
    for i in range(150):
        code = "350623100201" if i % 2 else "350623100202"
        rows.append([f"IMP-{i:04d}", "失独" if i % 3 else "伤残", code, f"{i}号", f"陈{i}", "父亲", person(10 + 2 * i),
                     "13900000000", ""])
        rows.append([f"IMP-{i:04d}", "", "", "", f"林{i}", "母亲", person(11 + 2 * i, 1962), "", ""])
    login("manager")
    url = reverse("api:reports-import", args=["families"])
    preview = client.post(url, {"file": workbook(rows)})
    assert preview.status_code == 200 and preview.json()["ok"] and not preview.json()["committed"]
    assert not Family.objects.filter(file_number__startswith="IMP").exists()
    start = time.monotonic()
    with django_assert_max_num_queries(60):
        done = client.post(url, {"file": workbook(rows), "commit": "1"})
    assert time.monotonic() - start < 10
    assert done.status_code == 201
    assert done.json()["created"] == {"families": 150, "members": 300} and done.json()["matched"] == 1
    assert families["own"].members.count() == 2
    member = FamilyMember.objects.get(name="陈7")
    assert (member.family.file_number, member.family.region_path, member.relation) == ("IMP-0007", "350623100201", "father")
    assert member.name_pinyin == "chen7" and member.phone == "13900000000" and member.birth_date == datetime.date(1960, 1, 25)
    assert FamilyMember.objects.filter(id_number_index=member.id_number_index).count() == 1
    assert Family.objects.get(file_number="IMP-0000").category == "disabled"
    assert Family.objects.get(file_number="IMP-0000").status_changes.count() == 1
    event = AuditEvent.objects.get(event="reports.import.families")
    assert len(event.object_ids) == 150
    # Importing the same file again duplicates nobody: every person matches.
    again = client.post(url, {"file": workbook(rows), "commit": "1"}).json()
    assert again["created"] == {"families": 0, "members": 0} and again["matched"] == 301


def test_failure_midway_writes_nothing(families, people, monkeypatch):
    from reports.imports import FamilyMemberResource

    rows = [[f"TX-{i}", "失独", "350623100201", "", f"甲{i}", "父亲", person(500 + i), "", ""] for i in range(5)]
    original = FamilyMemberResource.write_families

    def explode(*args, **kwargs):
        original(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(FamilyMemberResource, "write_families", explode)
    with pytest.raises(RuntimeError):
        families_import(actor=people["manager"], upload=workbook(rows), commit=True)
    assert not Family.objects.filter(file_number__startswith="TX-").exists()


def test_volunteer_and_roster_imports(client, login, report_data, families, people):
    from reports.imports import ROSTER_COLUMNS, VOLUNTEER_COLUMNS

    login("manager")
    vol_rows = [["林小梅", person(900, 1990), "13900000002", "350623", "心理咨询师"],
                ["林小梅", person(900, 1990), "", "350623", ""]]
    body = client.post(reverse("api:reports-import", args=["volunteers"]),
                       {"file": workbook(vol_rows, VOLUNTEER_COLUMNS), "commit": "1"}).json()
    assert [(p["row"], p["column"]) for p in body["problems"]] == [(3, "身份证号码")]
    body = client.post(reverse("api:reports-import", args=["volunteers"]),
                       {"file": workbook(vol_rows[:1], VOLUNTEER_COLUMNS), "commit": "1"}).json()
    assert body["created"] == {"volunteers": 1}
    assert Volunteer.objects.get(name="林小梅").region.code == "350623000000"
    policy = InsurancePolicy.objects.create(insurer="人保", product_kind="accident", region=families["own"].region,
                                            starts_on=datetime.date(2026, 1, 1), ends_on=datetime.date(2026, 12, 31),
                                            premium=100, status="active")
    colleague = families["colleague"].members.get(relation="father")
    outside = families["outside"].members.get(relation="father")
    roster = [[colleague.name, colleague.id_number, "50"], [outside.name, outside.id_number, "50"]]
    url = reverse("api:reports-import", args=["roster"]) + f"?policy={policy.pk}"
    body = client.post(url, {"file": workbook(roster, ROSTER_COLUMNS), "commit": "1"}).json()
    assert [(p["row"], p["column"]) for p in body["problems"]] == [(3, "身份证号码")] and policy.roster.count() == 0
    body = client.post(url, {"file": workbook(roster[:1], ROSTER_COLUMNS), "commit": "1"}).json()
    assert body["created"] == {"insured": 1} and policy.roster.get().premium == 50


def test_import_page_shows_problems(client, login):
    login("manager")
    rows = [["P-1", "失独", "350623100201", "", "张三", "父亲", "123", "", ""]]
    response = client.post(reverse("reports:import", args=["families"]), {"file": workbook(rows), "import": "1"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "未导入任何数据" in html and "身份证号码" in html and not Family.objects.filter(file_number="P-1").exists()
    login("alice")
    assert client.get(reverse("reports:import", args=["families"])).status_code == 200
