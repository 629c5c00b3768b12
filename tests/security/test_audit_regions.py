"""Auditors see everything in their reach: each event kind below carries the region of its object
(else of its actor), so the auditor of that county reads it through the audit trail's API and the
auditor of the other county does not; and the trail never serves a sensitive value, even from rows
written before it redacted them."""
import pytest
from django.urls import reverse

from casemgmt.core.audit import saved_and_logged
from casemgmt.core.models import AuditEvent, Role
from casemgmt.security.services import breakglass_decide, breakglass_open, breakglass_revoke
from families.models import CheckIn
from tests.conftest import make_user
from tests.reports.test_exports_imports import workbook

REASON = "老人深夜来电称想轻生，需查看紧急联系人"


@pytest.fixture
def auditors(regions):
    return {"zhangpu": make_user("zp_auditor", Role.AUDITOR, regions["zhangpu"]),
            "yunxiao": make_user("yx_auditor", Role.AUDITOR, regions["yunxiao"])}


def seen_by(client, auditor, event):
    """The ids of the rows of ``event`` that ``auditor`` reads through the API."""
    client.force_login(auditor)
    response = client.get("/api/v1/audit-events/", {"event": event, "page_size": 200})
    assert response.status_code == 200, response.content[:300]
    return {row["id"] for row in response.json()["results"] if row["event"] == event}


def assert_only_county_sees(client, auditors, event, county):
    rows = set(AuditEvent.objects.filter(event=event).values_list("id", flat=True))
    assert rows, event
    other = "yunxiao" if county == "zhangpu" else "zhangpu"
    assert seen_by(client, auditors[county], event) == rows
    assert not seen_by(client, auditors[other], event)


def test_break_glass_events_carry_the_familys_region(client, people, families, auditors, settings):
    settings.BREAK_GLASS_DAILY_CAP = 1
    carol, manager = people["carol"], people["manager"]
    opened = breakglass_open(actor=carol, family=families["own"], reason=REASON)
    breakglass_revoke(actor=carol, grant=opened)
    asked = breakglass_open(actor=carol, family=families["colleague"], reason=REASON)
    breakglass_decide(actor=manager, grant=asked, approve=True)
    asked_again = breakglass_open(actor=people["other_manager"], family=families["colleague"], reason=REASON)
    assert asked_again.status == "approved"  # another user's cap
    settings.BREAK_GLASS_DAILY_CAP = 0
    denied = breakglass_open(actor=people["other_manager"], family=families["own"], reason=REASON)
    breakglass_decide(actor=manager, grant=denied, approve=False)
    for event in ("opened", "revoked", "requested", "approved", "denied"):
        # carol works in 云霄县; the families and so the rows are 漳浦县's.
        assert_only_county_sees(client, auditors, f"security.break_glass.{event}", "zhangpu")


def test_a_denied_read_carries_the_region_of_the_record_it_aimed_at(client, people, families, auditors):
    checkin = CheckIn.objects.create(family=families["own"], recorded_by=people["alice"], channel="phone")
    client.force_login(people["carol"])
    assert client.get(f"/api/v1/families/{families['own'].pk}/").status_code == 404
    assert client.get(f"/api/v1/checkins/{checkin.pk}/").status_code == 404
    assert_only_county_sees(client, auditors, "security.access.denied", "zhangpu")
    rows = AuditEvent.objects.filter(event="security.access.denied").order_by("id")
    assert [(row.object_type, row.family_id) for row in rows] == [
        ("families.family", families["own"].pk), ("families.checkin", families["own"].pk)]


def test_a_denied_read_of_nothing_carries_the_actors_region(client, people, auditors):
    client.force_login(people["carol"])
    assert client.get("/api/v1/families/987654321/").status_code == 404
    assert_only_county_sees(client, auditors, "security.access.denied", "yunxiao")


def test_a_denied_admin_page_carries_the_region_of_its_record(client, people, families, auditors):
    checkin = CheckIn.objects.create(family=families["outside"], recorded_by=people["carol"], channel="phone")
    # The city's volunteer coordinator may not open check-ins in the admin at all.
    client.force_login(make_user("city_coordinator", Role.VOLUNTEER_COORDINATOR, people["city_admin"].region))
    response = client.get(reverse("admin:families_checkin_change", args=[checkin.pk]))
    assert response.status_code == 403
    event = AuditEvent.objects.get(event="security.access.denied")
    assert (event.object_type, event.family_id) == ("families.checkin", families["outside"].pk)
    assert_only_county_sees(client, auditors, "security.access.denied", "yunxiao")


def test_import_collisions_carry_the_importers_region(client, people, families, auditors):
    outside = families["outside"].members.get(relation="mother")
    client.force_login(people["manager"])
    client.post(reverse("api:reports-import", args=["families"]),
                {"file": workbook([["NEW-1", "失独", "350623100201", "", "张三", "母亲", outside.id_number, "", ""]])})
    assert_only_county_sees(client, auditors, "families.import.collision", "zhangpu")


def test_reveals_carry_the_familys_region(client, people, families, auditors):
    member = families["outside"].members.get(relation="mother")
    client.force_login(people["other_manager"])
    response = client.post(f"/api/v1/family-members/{member.pk}/reveal/", {"names": ["phone"], "reason": "回访电话"},
                           content_type="application/json")
    assert response.status_code == 200
    assert_only_county_sees(client, auditors, "families.familymember.revealed", "yunxiao")


def test_a_write_and_its_row_in_one_statement_default_to_the_objects_region(people, families, auditors, client):
    # The city administrator's reach is the whole city; the row belongs to the family's county.
    checkin = CheckIn(family=families["outside"], recorded_by=people["city_admin"], channel="phone")
    saved_and_logged(checkin, actor=people["city_admin"], event="families.checkin.recorded")
    assert AuditEvent.objects.get(event="families.checkin.recorded").region_path == families["outside"].region_path
    assert_only_county_sees(client, auditors, "families.checkin.recorded", "yunxiao")


def test_the_trail_never_serves_a_sensitive_value_even_from_old_rows(client, families, auditors):
    member = families["own"].members.get(relation="mother")
    # Written as rows were before the trail redacted on writing (a raw insert, past audit_log).
    AuditEvent.objects.create(event="admin.families.familymember.changed", object_type="families.familymember",
                              object_ids=[member.pk], family_id=member.family_id,
                              region_path=families["own"].region_path,
                              before={"health_conditions": "重度抑郁", "phone": "13800000001", "relation": "mother"},
                              after={"health_conditions": "PHQ-9 得分 27", "phone": "13900000009",
                                     "relation": "mother"})
    client.force_login(auditors["zhangpu"])
    row = client.get("/api/v1/audit-events/", {"event": "admin.families"}).json()["results"][0]
    assert row["before"] == {"health_conditions": "[redacted]", "phone": "[redacted]", "relation": "mother"}
    assert row["after"] == {"health_conditions": "[redacted]", "phone": "[redacted]", "relation": "mother"}
    single = client.get(f"/api/v1/audit-events/{row['id']}/").json()
    assert "抑郁" not in str(single) and "PHQ" not in str(single) and "1390000" not in str(single)
