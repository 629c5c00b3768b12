"""Imports that tell nothing of records outside the importer's reach, and imports that cannot take
a web worker hostage: capped in rows, unpacked size and time, answering a summary of problems."""
import datetime
import io
import json
import zipfile

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from casemgmt.core.idcard import make_id_number
from casemgmt.core.models import AuditEvent, Notification
from reports import imports
from reports.imports import FAMILY_COLUMNS, VOLUNTEER_COLUMNS
from tests.conftest import add_family
from tests.reports.test_exports_imports import person, workbook
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db

REVIEW = "此行需经管理员审核后方可导入。"
URL = reverse("api:reports-import", args=["families"])


def post(client, rows, columns=FAMILY_COLUMNS, kind="families", commit=False):
    data = {"file": workbook(rows, columns)}
    if commit:
        data["commit"] = "1"
    return client.post(reverse("api:reports-import", args=[kind]), data)


def row(file_number, id_number, name="张三", relation="父亲", code="350623100201"):
    return [file_number, "失独", code, "", name, relation, id_number, "", "否"]


@pytest.fixture
def outsiders(regions):
    """Six people registered in 云霄县, outside the county manager's reach (two of them deceased)."""
    people = []
    for i in range(3):
        family = add_family(regions["yx_village"], f"YX-9{i}", mother_seq=300 + 2 * i, father_seq=301 + 2 * i)
        people += list(family.members.order_by("id"))
    for member in people[:2]:
        member.is_deceased = True
        member.save()
    return people


# ---- no oracle ------------------------------------------------------------------------------------

def test_a_person_registered_outside_reach_needs_review_and_the_row_says_no_more(client, login, people, outsiders):
    alive, dead = outsiders[2], outsiders[0]
    login("manager")
    response = post(client, [row("NEW-1", alive.id_number), row("NEW-2", dead.id_number)])
    assert response.status_code == 400
    problems = response.json()["problems"]
    # Alive or deceased, the same words, naming no region, no family, no living status.
    assert [(p["row"], p["column"], p["message"]) for p in problems] == [(2, "身份证号码", REVIEW), (3, "身份证号码", REVIEW)]
    body = response.content.decode()
    assert "在世" not in body and "云霄" not in body and "YX-" not in body
    # Audited in the importer's region, by the records hit, without the ID numbers.
    event = AuditEvent.objects.get(event="families.import.collision")
    assert event.actor == people["manager"] and event.region_path == people["manager"].reach_path
    assert event.object_type == "families.familymember" and sorted(event.object_ids) == sorted([alive.pk, dead.pk])
    assert event.after == {"collisions": 2, "rows": [2, 3]}
    stored = json.dumps([event.before, event.after, event.reason], ensure_ascii=False)
    assert alive.id_number not in stored and alive.id_number[-6:] not in stored


def test_a_file_number_outside_reach_needs_review_too(client, login, families):
    login("manager")
    response = post(client, [row("YX-0001", person(40))])
    assert [(p["column"], p["message"]) for p in response.json()["problems"]] == [("档案编号", REVIEW)]
    event = AuditEvent.objects.get(event="families.import.collision")
    assert (event.object_type, event.object_ids) == ("families.family", [families["outside"].pk])


def test_within_reach_the_helpful_message_stays(client, login, families):
    colleague_mother = families["colleague"].members.get(relation="mother")
    login("manager")
    response = post(client, [row("NEW-3", colleague_mother.id_number, relation="母亲")])
    assert [p["message"] for p in response.json()["problems"]] == ["此人已登记在另一个家庭中（在世）。"]
    assert not AuditEvent.objects.filter(event="families.import.collision").exists()


def test_more_than_a_handful_a_day_stops_the_importer_and_tells_their_manager(client, login, people, outsiders,
                                                                              monkeypatch, settings):
    settings.IMPORT_COLLISIONS_PER_DAY = 5
    login("manager")
    first = [row(f"NEW-{i}", member.id_number) for i, member in enumerate(outsiders[:3])]
    assert post(client, first).status_code == 400
    # The same people checked again count once.
    assert [p["message"] for p in post(client, first).json()["problems"]] == [REVIEW] * 3
    assert not Notification.objects.filter(kind="reports.import.collisions").exists()
    # Three more: six people today, more than five. The answer says which rows? No: it stops.
    second = [row(f"NEW-{i}", member.id_number) for i, member in enumerate(outsiders[3:], start=3)]
    response = post(client, second)
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "imports_paused" and "problems" not in response.json()
    assert "暂停" in response.json()["detail"]
    # The manager over the importer (here the city administrator above the county manager) is told.
    note = Notification.objects.get(kind="reports.import.collisions")
    assert note.recipient == people["city_admin"] and "manager" in note.title
    # Further imports are refused, even a clean file, on the web page too.
    assert post(client, [row("CLEAN-1", person(41))]).status_code == 403
    page = client.post(reverse("reports:import", args=["families"]), {"file": workbook([row("CLEAN-1", person(41))])})
    assert page.status_code == 403 and "暂停" in page.content.decode()
    # Tomorrow the count starts again.
    monkeypatch.setattr(imports, "_today_start", lambda: timezone.now())
    assert post(client, [row("CLEAN-1", person(41))]).status_code == 200


def test_volunteers_registered_outside_reach_need_review(client, login, regions, people):
    number = make_id_number("350622", datetime.date(1990, 5, 5), 11)
    volunteer = Volunteer.objects.create(name="林小梅", id_number=number, region=regions["yunxiao"])
    login("manager")
    response = post(client, [["林小梅", number, "", "350623", ""]], VOLUNTEER_COLUMNS, kind="volunteers", commit=True)
    assert [p["message"] for p in response.json()["problems"]] == [REVIEW]
    assert response.json()["matched"] == 0 and Volunteer.objects.count() == 1
    event = AuditEvent.objects.get(event="volunteers.import.collision")
    assert event.object_ids == [volunteer.pk] and event.region_path == people["manager"].reach_path


# ---- caps -----------------------------------------------------------------------------------------

FULL_ROW = ["BOMB-1", "失独", "350623100201", "", "张三", "父亲", "123", "", "否"]


def _bomb(rows, *, dimension=False, values=FULL_ROW):
    """A workbook whose one sheet has ``rows`` identical data rows: a few hundred kilobytes that
    unpack to many megabytes (inline strings, as a hand-made file may have)."""
    headings = [str(c.heading) for c in FAMILY_COLUMNS]

    def cells(texts):  # no cell references: each row repeats the last byte for byte
        return "".join(f'<c t="inlineStr"><is><t>{text}</t></is></c>' for text in texts)

    body = [f"<row>{cells(headings)}</row>"] + [f"<row>{cells(values)}</row>"] * rows
    extent = f'<dimension ref="A1:I{rows + 1}"/>' if dimension else ""
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'{extent}<sheetData>{"".join(body)}</sheetData></worksheet>')
    source = io.BytesIO()
    openpyxl.Workbook().save(source)
    out = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for part in original.infolist():
            data = sheet.encode() if part.filename == "xl/worksheets/sheet1.xml" else original.read(part)
            bomb.writestr(part.filename, data)
    out.seek(0)
    out.name = "bomb.xlsx"
    return out


@pytest.mark.parametrize(("values", "unpacked", "refusal"), [
    (FULL_ROW, 40_000_000, "too_large"),  # refused before parsing
    (["BOMB-1"], 8_000_000, "too_many_rows"),  # small enough to parse: refused after the cap's rows
])
def test_a_small_file_of_200000_rows_is_refused_at_once_with_a_short_answer(client, login, settings, monkeypatch,
                                                                           values, unpacked, refusal):
    # "At once" is counted in cells read, not seconds: a loaded machine must not decide the outcome.
    read, text = [], imports._text
    monkeypatch.setattr(imports, "_text", lambda value: read.append(1) or text(value))
    upload = _bomb(200_000, values=values)
    assert len(upload.getvalue()) < 400_000  # the attack: a small upload…
    with zipfile.ZipFile(upload) as archive:  # …that unpacks to megabytes of rows
        assert sum(part.file_size for part in archive.infolist()) > unpacked
    upload.seek(0)
    login("manager")
    response = client.post(URL, {"file": upload})
    assert len(read) <= (settings.IMPORT_MAX_ROWS + 2) * len(FULL_ROW)  # never past the cap's rows
    if refusal == "too_large":
        assert read == []  # refused before a cell is read
    assert response.status_code == 400 and len(response.content) < 2_000
    assert response.json()["errors"][0]["code"] == refusal


def test_rows_beyond_the_cap_are_refused(client, login, settings):
    settings.IMPORT_MAX_ROWS = 50
    login("manager")
    response = client.post(URL, {"file": _bomb(51)})
    error = response.json()["errors"][0]
    assert response.status_code == 400 and error["code"] == "too_many_rows" and "50" in error["message"]
    assert client.post(URL, {"file": _bomb(50)}).json()["problem_count"] == 50  # 50 rows are read (bad ID numbers)


def test_a_declared_extent_beyond_the_cap_is_refused_before_a_row_is_read(client, login, settings, monkeypatch):
    settings.IMPORT_MAX_ROWS = 50

    def no_reading(value):
        raise AssertionError("a row was read")

    monkeypatch.setattr(imports, "_text", no_reading)
    login("manager")
    response = client.post(URL, {"file": _bomb(200, dimension=True)})
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "too_many_rows"


def test_the_unpacked_size_is_checked_before_any_xml_is_parsed(client, login, settings, monkeypatch):
    settings.IMPORT_MAX_UNPACKED_BYTES = 1024 * 1024

    def no_parsing(*args, **kwargs):
        raise AssertionError("the workbook was parsed")

    monkeypatch.setattr(imports, "load_workbook", no_parsing)
    login("manager")
    response = client.post(URL, {"file": _bomb(20_000)})
    error = response.json()["errors"][0]
    assert response.status_code == 400 and error["code"] == "too_large" and "1 MB" in error["message"]
    # Not a zip at all: the same clear refusal as before, not a 500.
    junk = io.BytesIO(b"PK\x03\x04 not really")
    junk.name = "junk.xlsx"
    assert client.post(URL, {"file": junk}).json()["errors"][0]["code"] == "not_a_workbook"


def test_a_file_that_takes_too_long_is_refused(client, login, settings):
    settings.IMPORT_MAX_SECONDS = 0
    login("manager")
    response = client.post(URL, {"file": workbook([row("SLOW-1", person(42))])})
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "too_slow"


def test_many_problems_are_summarised(client, login, settings):
    settings.IMPORT_PROBLEMS_SHOWN = 10
    rows = [[f"SUM-{i}", "失独", "350623100201", "", "", "父亲", "123", "", "否"] for i in range(300)]
    login("manager")
    body = client.post(URL, {"file": workbook(rows)}).json()
    assert body["problem_count"] == 600 and len(body["problems"]) == 10
    assert [p["row"] for p in body["problems"]] == [2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    counts = {(k["column"], k["code"]): k["count"] for k in body["problem_counts"]}
    assert counts[("姓名", "required")] == 300 and sum(counts.values()) == 600
    page = client.post(reverse("reports:import", args=["families"]), {"file": workbook(rows)})
    html = page.content.decode()
    assert page.status_code == 400 and "共 600 个问题" in html and html.count("<tr>") < 30
