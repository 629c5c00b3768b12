"""``reach.restrict`` on Family for every role: the one policy the admin, the API and selectors share."""
import pytest
from django.contrib.auth.models import AnonymousUser

from casemgmt.core.reach import region_within_reach, restrict
from families.models import Family
from volunteers.models import Pairing, Volunteer


def _visible(user):
    return set(restrict(Family.objects.all(), user).values_list("file_number", flat=True))


@pytest.mark.parametrize(("who", "expected"), [
    ("alice", {"ZP-0001"}),
    ("bob", {"ZP-0002"}),
    ("carol", {"YX-0001"}),
    ("manager", {"ZP-0001", "ZP-0002"}),
    ("other_manager", {"YX-0001"}),
    ("city_admin", {"ZP-0001", "ZP-0002", "YX-0001"}),
    ("coordinator", {"ZP-0001", "ZP-0002"}),
    ("auditor", set()),
    ("root", {"ZP-0001", "ZP-0002", "YX-0001"}),
])
def test_family_reach_by_role(people, families, who, expected):
    assert _visible(people[who]) == expected


def test_contact_person_sees_only_assigned_families(people, families):
    assert _visible(people["contact"]) == set()
    from families.models import ContactAssignment

    ContactAssignment.objects.create(family=families["own"], user=people["contact"], kind="village_contact")
    assert _visible(people["contact"]) == {"ZP-0001"}


def test_volunteer_sees_only_paired_families(people, regions, families):
    assert _visible(people["volunteer_user"]) == set()
    volunteer = Volunteer.objects.create(name="志愿者", region=regions["zhangpu"], user=people["volunteer_user"])
    Pairing.objects.create(volunteer=volunteer, family=families["colleague"])
    assert _visible(people["volunteer_user"]) == {"ZP-0002"}


def test_anonymous_and_inactive_users_see_nothing(people, families):
    assert _visible(AnonymousUser()) == set()
    assert _visible(None) == set()
    manager = people["manager"]
    manager.is_active = False
    assert _visible(manager) == set()


def test_ended_assignment_removes_the_family_from_the_caseload(people, families):
    from families.models import ContactAssignment

    ContactAssignment.objects.filter(user=people["alice"]).update(ended_on="2099-01-01")
    assert _visible(people["alice"]) == set()


def test_region_within_reach_for_writes(people, regions):
    assert region_within_reach(people["manager"], regions["village"].path)
    assert not region_within_reach(people["manager"], regions["yx_village"].path)
    assert not region_within_reach(people["manager"], "")
    assert region_within_reach(people["root"], "")
