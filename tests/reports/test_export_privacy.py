"""List exports under the privacy policy: each role's columns as ``privacy.export_access`` has them
(a coordinator's list has no ID column at all), unmasked lists only for administrators and region
managers with a reason and a fresh second factor, public posting lists always masked, and an audit
row naming the fields of every export."""
import io
import time

import openpyxl
import pytest
from django.urls import reverse

from casemgmt.core import privacy
from casemgmt.core.models import AuditEvent
from casemgmt.security.stepup import SESSION_KEY
from families.models import AssistanceEnrollment, ConsentRecord, FamilyMember
from families.resources import FamilyMemberResource, PublicPostingResource
from volunteers.models import Volunteer
from volunteers.resources import VolunteerResource

pytestmark = pytest.mark.django_db

REPORT_READERS = ("alice", "contact", "coordinator", "manager", "city_admin")
ID_HEADING, PHONE_HEADING = "身份证号码", "电话"


def read(response):
    assert response.status_code == 200, response.content[:300]
    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0].iter_rows(values_only=True))
    return list(rows[0]), [list(r) for r in rows[1:]]


def stepped_up(client):
    session = client.session
    session[SESSION_KEY] = time.time()
    session.save()


def signed_in_a_while_ago(client):
    """The signed-in session of someone whose last code is older than a step-up allows."""
    session = client.session
    session.pop(SESSION_KEY, None)
    session.save()


def plaintexts(families):
    members = FamilyMember.objects.filter(family__in=families.values())
    return [m.id_number for m in members] + [m.phone for m in members if m.phone]


@pytest.fixture
def contact(people, families):
    from families.models import ContactAssignment

    ContactAssignment.objects.create(family=families["own"], user=people["contact"], kind="village_contact")
    return people["contact"]


@pytest.fixture
def volunteer(regions):
    return Volunteer.objects.create(name="陈志愿", region=regions["zhangpu"], phone="13711112222",
                                    id_number="350623199001011234")


@pytest.mark.parametrize("role", REPORT_READERS)
def test_masked_lists_carry_the_columns_the_policy_gives_and_no_plaintext(client, login, people, families, contact,
                                                                         volunteer, role):
    user = people[role]
    login(role)
    for kind, resource, model, secrets in (
        ("families", FamilyMemberResource, FamilyMember, plaintexts(families)),
        ("volunteers", VolunteerResource, Volunteer, [volunteer.phone, volunteer.id_number]),
    ):
        headings, rows = read(client.get(reverse("api:reports-export", args=[kind])))
        for column, heading in (("id_number", ID_HEADING), ("phone", PHONE_HEADING)):
            label, name = resource.governed[column]
            how = privacy.export_access(user, label, name)
            assert (heading in headings) == (how != privacy.Access.HIDDEN), (role, kind, column, how)
            assert how != privacy.Access.SHOW  # a masked list never carries them in plaintext
        cells = {str(cell) for row in rows for cell in row}
        assert not cells & set(secrets), (role, kind)
        event = AuditEvent.objects.filter(actor=user, event="reports.export.masked").latest("pk")
        assert event.after["list"] == kind and event.after["rows"] == len(rows)
        assert event.region_path == user.reach_path
        carried = set(event.after["fields"]) | set(event.after["masked"])
        assert (f"{model._meta.label_lower}.id_number" in carried) == (ID_HEADING in headings)


def test_coordinator_family_list_has_no_id_or_phone_column(client, login, families):
    login("coordinator")
    headings, rows = read(client.get(reverse("api:reports-export", args=["families"])))
    assert headings == ["档案编号", "区划代码", "区域", "类别", "状态", "姓名", "关系", "已故"]
    assert {r[5] for r in rows} == {"王*英", "李*国"}
    after = AuditEvent.objects.get(event="reports.export.masked").after
    assert "families.familymember.id_number" not in after["fields"] + after["masked"]
    assert after["masked"] == ["families.familymember.name"]


def test_contact_person_gets_masked_id_numbers_and_phones(client, login, families, contact):
    login("contact")
    headings, rows = read(client.get(reverse("api:reports-export", args=["families"])))
    mother = families["own"].members.get(relation="mother")
    row = next(r for r in rows if r[6] == "母亲")
    assert row[headings.index(ID_HEADING)] == mother.masked_id_number
    assert row[headings.index(PHONE_HEADING)] == mother.masked_phone


def test_public_posting_list_is_masked_for_everybody_and_has_no_id_column_for_a_coordinator(client, login, families):
    for member in FamilyMember.objects.filter(relation="mother"):
        AssistanceEnrollment.objects.create(member=member, family=member.family, status="approved")
        ConsentRecord.objects.create(family=member.family, purpose="public_posting", given=True)
    assert privacy.export_access(None, *PublicPostingResource.governed["id_number"]) == privacy.Access.HIDDEN
    login("city_admin")
    stepped_up(client)
    url = reverse("api:reports-export", args=["public_posting"])
    headings, rows = read(client.get(url))
    assert ID_HEADING in headings and all("*" * 8 in r[2] and r[1] == "王*英" for r in rows)
    assert client.post(url, {"reason": "张榜公示"}).status_code == 403  # never unmasked, even stepped up
    client.logout()
    login("coordinator")
    headings, rows = read(client.get(url))
    assert headings == ["区域", "姓名", "类别", "状态"]


@pytest.mark.parametrize("role", ["alice", "contact", "coordinator"])
def test_unmasked_export_refused_to_other_roles_even_with_a_fresh_second_factor(client, login, people, families,
                                                                                contact, role):
    login(role)
    stepped_up(client)
    response = client.post(reverse("api:reports-export", args=["families"]), {"reason": "核对名单"})
    assert response.status_code == 403 and response.json()["errors"][0]["code"] != "step_up_required"
    assert client.post(reverse("reports:export", args=["families"]), {"reason": "核对名单"}).status_code == 403
    assert not AuditEvent.objects.filter(event="reports.export.unmasked").exists()


def test_unmasked_export_needs_a_fresh_second_factor_on_the_api(client, login, people, families, settings):
    login("manager")
    signed_in_a_while_ago(client)
    url = reverse("api:reports-export", args=["families"])
    response = client.post(url, {"reason": "核对特扶名单"})
    assert response.status_code == 403 and response.json()["errors"][0]["code"] == "step_up_required"
    session = client.session
    session[SESSION_KEY] = time.time() - settings.STEP_UP_SECONDS - 5  # proved, but too long ago
    session.save()
    assert client.post(url, {"reason": "核对特扶名单"}).json()["errors"][0]["code"] == "step_up_required"
    assert not AuditEvent.objects.filter(event="reports.export.unmasked").exists()
    stepped_up(client)
    assert client.post(url, {"reason": ""}).status_code == 400  # a reason still
    headings, rows = read(client.post(url, {"reason": "核对特扶名单"}))
    mother = families["own"].members.get(relation="mother")
    assert mother.id_number in [r[headings.index(ID_HEADING)] for r in rows]
    event = AuditEvent.objects.get(event="reports.export.unmasked")
    assert event.reason == "核对特扶名单" and event.actor == people["manager"]
    assert "families.familymember.id_number" in event.after["fields"] and event.after["masked"] == []
    assert event.region_path == people["manager"].reach_path and mother.id_number not in str(event.after)


def test_unmasked_export_page_sends_to_the_step_up_page_and_back(client, login, families):
    login("manager")
    signed_in_a_while_ago(client)
    response = client.post("/reports/export/families/?year=2025", {"reason": "核对特扶名单"})
    assert response.status_code == 302
    assert response["Location"] == "/step-up/?next=%2Freports%2F%3Fyear%3D2025"
    assert not AuditEvent.objects.filter(event="reports.export.unmasked").exists()
    stepped_up(client)
    response = client.post("/reports/export/families/?year=2025", {"reason": "核对特扶名单"})
    assert response.status_code == 200 and AuditEvent.objects.filter(event="reports.export.unmasked").count() == 1


def test_unmasked_volunteer_list_for_a_manager_only(client, login, volunteer):
    login("alice")
    headings, _rows = read(client.get(reverse("api:reports-export", args=["volunteers"])))
    assert ID_HEADING not in headings and PHONE_HEADING not in headings  # not a social worker's working data
    client.logout()
    login("manager")
    stepped_up(client)
    headings, rows = read(client.post(reverse("api:reports-export", args=["volunteers"]), {"reason": "办理保险"}))
    assert [volunteer.phone, volunteer.id_number] == [rows[0][headings.index(PHONE_HEADING)],
                                                      rows[0][headings.index(ID_HEADING)]]
