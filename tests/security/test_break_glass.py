"""Break-the-glass from the outside: a reason opens one family for a few hours, the region manager
is told, it is audited, it expires, and cross-region ids stay closed without it."""
import datetime
import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from casemgmt.core import reach
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import AuditEvent, Notification
from casemgmt.security.models import BreakGlassGrant
from casemgmt.security.services import breakglass_open, breakglass_revoke
from families.models import Family, FamilyMember

REASON = "老人深夜来电称想轻生，需查看紧急联系人"


def visible(user, family, model=Family, field="pk"):
    return reach.restrict(model.objects.filter(**{field: family.pk}), user).exists()


def test_an_outsider_opens_a_family_with_a_reason_and_loses_it_when_it_expires(people, families):
    carol, family = people["carol"], families["own"]
    assert not visible(carol, family)
    grant = breakglass_open(actor=carol, family=family, reason=REASON, ip="10.0.0.9")
    assert grant.expires_at - grant.granted_at == datetime.timedelta(hours=4)
    assert visible(carol, family) and visible(carol, family, FamilyMember, "family")
    assert not visible(carol, families["colleague"])  # one family, not the county
    event = AuditEvent.objects.get(event="security.break_glass.opened")
    assert event.actor == carol and event.family_id == family.pk and event.reason == REASON
    # The manager of the family's county is told; the manager of carol's county is not.
    note = Notification.objects.get(kind="security.break_glass")
    assert note.recipient == people["manager"] and note.family == family
    # A notice may leave as e-mail or SMS: the typed reason stays with the grant.
    assert REASON not in note.title + note.body
    # Four hours later (both times moved back, as the clock would have moved on).
    now = timezone.now()
    BreakGlassGrant.objects.filter(pk=grant.pk).update(granted_at=now - datetime.timedelta(hours=4, seconds=1),
                                                       expires_at=now - datetime.timedelta(seconds=1))
    assert not visible(carol, family)


def test_revoked_grants_close_at_once(people, families):
    grant = breakglass_open(actor=people["carol"], family=families["own"], reason=REASON)
    breakglass_revoke(actor=people["manager"], grant=grant)
    assert not visible(people["carol"], families["own"])
    assert AuditEvent.objects.filter(event="security.break_glass.revoked", actor=people["manager"]).exists()
    with pytest.raises(OutOfReachError):
        breakglass_revoke(actor=people["other_manager"], grant=grant)


@pytest.mark.parametrize("who", ["contact", "coordinator", "volunteer_user", "auditor"])
def test_only_entitled_roles_may_break_the_glass(people, families, who):
    with pytest.raises(PermissionDenied):
        breakglass_open(actor=people[who], family=families["outside"], reason=REASON)
    assert not BreakGlassGrant.objects.exists()


def test_a_reason_is_required_and_hours_are_capped(people, families):
    with pytest.raises(ValidationError):
        breakglass_open(actor=people["carol"], family=families["own"], reason="  急 ")
    with pytest.raises(ValidationError):
        breakglass_open(actor=people["carol"], family=families["own"], reason=REASON, hours=72)
    with pytest.raises(ValidationError):  # already in reach: nothing to break
        breakglass_open(actor=people["alice"], family=families["own"], reason=REASON)


def test_through_the_api(client, people, families):
    family = families["own"]
    client.force_login(people["carol"])
    assert client.get(f"/api/v1/families/{family.pk}/").status_code == 404
    response = client.post("/api/v1/break-glass/", {"family": family.pk, "reason": REASON},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    assert client.get(f"/api/v1/families/{family.pk}/").status_code == 200
    assert client.get("/api/v1/break-glass/").json()[0]["is_live"] is True
    grant_id = response.json()["id"]
    assert client.post(f"/api/v1/break-glass/{grant_id}/revoke/").status_code == 200
    assert client.get(f"/api/v1/families/{family.pk}/").status_code == 404
    client.force_login(people["contact"])
    response = client.post("/api/v1/break-glass/", {"family": family.pk, "reason": REASON},
                           content_type="application/json")
    assert response.status_code == 403


def test_the_grant_adds_no_query_to_scoped_lists(client, people, families, django_assert_max_num_queries):
    breakglass_open(actor=people["carol"], family=families["own"], reason=REASON)
    client.force_login(people["carol"])
    client.get("/api/v1/families/")
    with django_assert_max_num_queries(12):
        response = client.get("/api/v1/families/")
    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {families["own"].pk, families["outside"].pk}


# ---- no oracle: one answer for a family that does not exist and one that cannot be opened ---------

def _ask(client, family_id, reason=REASON):
    return client.post("/api/v1/break-glass/", {"family": family_id, "reason": reason}, content_type="application/json")


def test_a_role_that_may_not_break_the_glass_learns_nothing_of_the_family(client, people, families):
    client.force_login(people["contact"])
    existing, missing = _ask(client, families["outside"].pk), _ask(client, 987654321)
    assert existing.status_code == missing.status_code == 403
    assert existing.json() == missing.json()
    assert not BreakGlassGrant.objects.exists()


def test_a_family_that_does_not_exist_is_answered_like_one_out_of_reach_of_the_door(client, people, families):
    client.force_login(people["carol"])
    missing, huge = _ask(client, 987654321), _ask(client, 2**62)
    assert missing.status_code == huge.status_code == 404
    assert missing.json() == huge.json() == client.get("/api/v1/families/987654321/").json()
    # The request is checked before the family is looked up: a bad reason is the same 400 for both.
    assert _ask(client, families["own"].pk, "急").json() == _ask(client, 987654321, "急").json()
    assert not BreakGlassGrant.objects.exists()


def test_the_admin_form_answers_alike_for_unknown_file_numbers(client, people, families):
    client.force_login(people["carol"])
    response = client.post("/admin/security/breakglassgrant/add/", {"file_number": "NO-SUCH", "reason": REASON,
                                                                    "hours": 2})
    assert response.status_code == 200
    assert "没有可以打开的家庭使用此档案编号" in response.content.decode()
    response = client.post("/admin/security/breakglassgrant/add/", {"file_number": "ZP-0001", "reason": REASON,
                                                                    "hours": 2})
    assert response.status_code == 302
    assert BreakGlassGrant.objects.get().family == families["own"]


# ---- a fresh second factor ------------------------------------------------------------------------

def test_breaking_the_glass_needs_a_fresh_second_factor(client, people, families):
    from casemgmt.security import stepup

    client.force_login(people["carol"])
    session = client.session
    session[stepup.SESSION_KEY] = time.time() - 3600
    session.save()
    response = _ask(client, families["own"].pk)
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "step_up_required"
    assert not BreakGlassGrant.objects.exists()
    # The admin form asks for it too.
    response = client.post("/admin/security/breakglassgrant/add/", {"file_number": "ZP-0001", "reason": REASON,
                                                                    "hours": 2})
    assert response.status_code == 200 and not BreakGlassGrant.objects.exists()


# ---- the daily cap and a manager's approval ----------------------------------------------------------

@pytest.fixture
def many_families(regions, families):
    from tests.conftest import add_family

    more = [add_family(regions["village2"], f"ZP-1{i:03d}", mother_seq=200 + 2 * i, father_seq=201 + 2 * i)
            for i in range(4)]
    return [families["own"], families["colleague"], *more]


def test_beyond_the_daily_cap_a_request_waits_for_a_manager(client, people, families, many_families, settings):
    settings.BREAK_GLASS_DAILY_CAP = 3
    carol, manager = people["carol"], people["manager"]
    client.force_login(carol)
    for family in many_families[:3]:
        assert _ask(client, family.pk).status_code == 201
    waiting = _ask(client, many_families[3].pk)
    assert waiting.status_code == 202 and waiting.json()["status"] == "pending" and not waiting.json()["is_live"]
    assert not visible(carol, many_families[3])
    # Asking again for the same family asks the manager once.
    again = _ask(client, many_families[3].pk)
    assert again.status_code == 202 and again.json()["id"] == waiting.json()["id"]
    assert BreakGlassGrant.objects.filter(status="pending").count() == 1
    # The manager over the family is told at once of every break: three opened and one request.
    notes = Notification.objects.filter(recipient=manager, kind="security.break_glass")
    assert notes.count() == 4
    assert any("请求" in note.title for note in notes)
    requested = AuditEvent.objects.get(event="security.break_glass.requested")
    assert requested.region_path == many_families[3].region_path and requested.actor == carol

    # A manager of another county cannot decide it; the manager over the family approves it.
    client.force_login(people["other_manager"])
    grant_id = waiting.json()["id"]
    assert client.post(f"/api/v1/break-glass/{grant_id}/approve/").status_code == 404
    client.force_login(manager)
    pending = client.get("/api/v1/break-glass/grants/?status=pending").json()["results"]
    assert [row["id"] for row in pending] == [grant_id] and pending[0]["user_username"] == "carol"
    approved = client.post(f"/api/v1/break-glass/{grant_id}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved" and approved.json()["is_live"]
    assert visible(carol, many_families[3])
    assert client.post(f"/api/v1/break-glass/{grant_id}/deny/").status_code == 400  # decided already
    assert Notification.objects.filter(recipient=carol, kind="security.break_glass").count() == 1
    event = AuditEvent.objects.get(event="security.break_glass.approved")
    assert event.actor == manager and event.region_path == many_families[3].region_path

    # The next one beyond the cap, denied: no access.
    client.force_login(carol)
    denied_id = _ask(client, many_families[4].pk).json()["id"]
    grant = BreakGlassGrant.objects.select_related("family").get(pk=denied_id)
    from casemgmt.security.services import breakglass_decide
    breakglass_decide(actor=manager, grant=grant, approve=False)
    assert not visible(carol, many_families[4])
    assert AuditEvent.objects.filter(event="security.break_glass.denied", region_path=grant.family.region_path).exists()


def test_the_cap_counts_one_day(people, many_families, settings):
    settings.BREAK_GLASS_DAILY_CAP = 1
    yesterday = timezone.now() - datetime.timedelta(days=1, hours=1)
    first = breakglass_open(actor=people["carol"], family=many_families[0], reason=REASON, now=yesterday)
    assert first.status == "approved"
    assert breakglass_open(actor=people["carol"], family=many_families[1], reason=REASON).status == "approved"
    assert breakglass_open(actor=people["carol"], family=many_families[2], reason=REASON).status == "pending"


def test_a_manager_decides_requests_in_the_admin(client, people, many_families, settings):
    settings.BREAK_GLASS_DAILY_CAP = 0
    grant = breakglass_open(actor=people["carol"], family=many_families[0], reason=REASON)
    assert grant.status == "pending"
    client.force_login(people["manager"])
    changelist = "/admin/security/breakglassgrant/"
    assert "carol" in client.get(changelist + "?status__exact=pending").content.decode()
    response = client.post(changelist, {"action": "approve", "_selected_action": [grant.pk]})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.status == "approved" and grant.decided_by == people["manager"] and grant.is_live


def test_auditors_see_the_grants_on_families_of_their_reach(client, people, regions, many_families):
    from tests.conftest import make_user

    grant = breakglass_open(actor=people["carol"], family=many_families[0], reason=REASON)
    zhangpu_auditor = make_user("zp_auditor", "auditor", regions["zhangpu"])
    yunxiao_auditor = make_user("yx_auditor", "auditor", regions["yunxiao"])
    client.force_login(zhangpu_auditor)
    rows = client.get("/api/v1/break-glass/grants/").json()["results"]
    assert [row["id"] for row in rows] == [grant.pk] and rows[0]["reason"] == REASON
    assert client.get("/admin/security/breakglassgrant/").status_code == 200
    client.force_login(yunxiao_auditor)
    assert client.get("/api/v1/break-glass/grants/").json()["results"] == []
    client.force_login(people["alice"])  # a social worker oversees nobody's grants
    assert client.get("/api/v1/break-glass/grants/").json()["results"] == []
