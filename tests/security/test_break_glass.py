"""Break-the-glass from the outside: a reason opens one family for a few hours, the region manager
is told, it is audited, it expires, and cross-region ids stay closed without it."""
import datetime

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
