"""``reach.restrict`` on Family for every role, and on catalogues: the one policy the admin, the API and selectors share."""
import datetime

import pytest
from django.contrib.auth.models import AnonymousUser

from casemgmt.core.reach import region_within_reach, restrict, writable
from families.models import Family
from services.models import Fund, InsurancePolicy
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


# ---- break-the-glass grants in the condition ------------------------------------------------------

REASON = "老人深夜来电称想轻生，需查看紧急联系人"


def test_the_grant_subquery_is_there_only_for_a_user_holding_a_live_grant(people, families):
    from casemgmt.security.services import breakglass_open, breakglass_revoke
    from families.models import FamilyMember

    carol = people["carol"]
    # Without a grant the condition is the plain region / caseload one an index answers.
    for model in (Family, FamilyMember):
        assert "security_breakglassgrant" not in str(restrict(model.objects.all(), carol).query)
    assert _visible(carol) == {"YX-0001"}
    grant = breakglass_open(actor=carol, family=families["own"], reason=REASON)
    assert "security_breakglassgrant" in str(restrict(Family.objects.all(), carol).query)
    assert _visible(carol) == {"YX-0001", "ZP-0001"}
    members = restrict(FamilyMember.objects.all(), carol).values_list("family__file_number", flat=True)
    assert set(members) == {"YX-0001", "ZP-0001"}
    breakglass_revoke(actor=people["manager"], grant=grant)
    assert _visible(carol) == {"YX-0001"}
    assert "security_breakglassgrant" not in str(restrict(Family.objects.all(), carol).query)


def test_within_a_request_the_grant_is_looked_up_once_and_a_revocation_still_closes_at_once(
        people, families, django_assert_num_queries):
    from casemgmt.core.reach import grants_remembered, holds_live_grant
    from casemgmt.security.services import breakglass_open, breakglass_revoke

    carol = people["carol"]
    grant = breakglass_open(actor=carol, family=families["own"], reason=REASON)
    with grants_remembered():
        with django_assert_num_queries(1):
            assert holds_live_grant(carol) and holds_live_grant(carol)
        assert _visible(carol) == {"YX-0001", "ZP-0001"}
        breakglass_revoke(actor=people["manager"], grant=grant)
        # Remembered as holding one, but the grant subquery reads which grants are live.
        assert _visible(carol) == {"YX-0001"}
    with django_assert_num_queries(2):  # outside a request every call looks again
        assert not holds_live_grant(carol) and not holds_live_grant(carol)


def test_a_caseload_still_needs_the_region(people, families):
    """The region condition of a caseload role is kept (only hidden from the planner's estimate):
    a family of alice's caseload that lies outside her county is not hers to see."""
    from families.models import ContactAssignment

    ContactAssignment.objects.create(family=families["outside"], user=people["alice"], kind="village_contact")
    assert _visible(people["alice"]) == {"ZP-0001"}


def test_every_app_declares_its_models_and_a_second_declaration_must_agree(monkeypatch):
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    from casemgmt.core import reach

    # The apps above the core declared every model the policy covered when the core named them.
    for app in ("families", "volunteers", "services", "security"):
        declared = {label for label in reach.SCOPES if label.startswith(f"{app}.")}
        assert declared, app
        assert declared <= {m._meta.label_lower for m in apps.get_app_config(app).get_models()}
    assert set(reach._FAMILY_IDS) == {"caseload", "paired", "granted"}
    monkeypatch.setattr(reach, "SCOPES", dict(reach.SCOPES))
    reach.scopes_declare({"families.family": reach.SCOPES["families.family"]})  # the same again: harmless
    with pytest.raises(ImproperlyConfigured, match="families.family"):
        reach.scopes_declare({"families.family": reach.Scope(roles=reach.ALL, region="region_path")})
    with pytest.raises(ImproperlyConfigured, match="unknown|Unknown"):
        reach.family_ids_declare(everyone=lambda user, now=None: None)


def test_a_catalogue_is_usable_below_its_region_and_changed_only_within_reach(people, regions):
    def fund(name, region):
        return Fund.objects.create(name=name, programme="consolation", year=2026, budget=1000, region=region)

    province, city, county, township, _other_county = (fund("省", regions["fujian"]), fund("市", regions["zhangzhou"]),
                                               fund("县", regions["zhangpu"]), fund("镇", regions["suian"]),
                                               fund("云霄", regions["yunxiao"]))
    coordinator = people["coordinator"]
    assert set(restrict(Fund.objects.all(), coordinator)) == {province, city, county, township}
    assert [writable(coordinator, f) for f in (province, city, county, township)] == [False, False, True, True]
    assert writable(people["root"], province)
    policy = InsurancePolicy.objects.create(insurer="人保", product_kind="accident", region=regions["zhangzhou"],
                                            starts_on=datetime.date(2026, 1, 1), ends_on=datetime.date(2026, 12, 31),
                                            premium=100)
    assert list(restrict(InsurancePolicy.objects.all(), people["contact"])) == [policy]
    assert list(restrict(InsurancePolicy.objects.all(), people["carol"])) == [policy]
    # Records that are not catalogues keep to the subtree: a volunteer of the city is not the county's.
    Volunteer.objects.create(name="市志愿者", region=regions["zhangzhou"])
    assert not restrict(Volunteer.objects.filter(region=regions["zhangzhou"]), coordinator).exists()
    assert restrict(Volunteer.objects.filter(region=regions["zhangzhou"]), people["city_admin"]).exists()
