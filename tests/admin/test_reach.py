"""A county user can neither list, open nor pick another county's records, and cannot write into it."""
import json

import pytest
from django.urls import reverse
from django.utils import translation

from casemgmt.core.models import AuditEvent
from families import services
from families.models import Family, FamilyMember, FamilyStatusChange
from services.models import InsurancePolicy
from volunteers.models import Team

from .helpers import post_data

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def manager_client(client, people):
    client.force_login(people["manager"])
    return client


def test_county_manager_lists_only_own_county(manager_client, families):
    response = manager_client.get(reverse("admin:families_family_changelist"))
    shown = set(response.context["cl"].result_list)
    assert shown == {families["own"], families["colleague"]}
    assert "YX-0001" not in response.content.decode()

    members = manager_client.get(reverse("admin:families_familymember_changelist")).context["cl"].result_list
    assert {m.family_id for m in members} == {families["own"].pk, families["colleague"].pk}


def test_county_manager_cannot_open_another_countys_family(manager_client, families):
    outside = families["outside"]
    response = manager_client.get(reverse("admin:families_family_change", args=[outside.pk]), **EN)
    assert response.status_code == 302
    assert response.url == reverse("admin:index")
    followed = manager_client.get(response.url, **EN)
    assert "doesn’t exist" in followed.content.decode()

    member = outside.members.first()
    response = manager_client.get(reverse("admin:families_familymember_change", args=[member.pk]))
    assert response.status_code == 302
    # Nor can the record be deleted or changed by posting to its URL.
    manager_client.post(reverse("admin:families_family_delete", args=[outside.pk]), {"post": "yes"})
    assert Family.objects.filter(pk=outside.pk).exists()


@pytest.mark.parametrize("model_name", ["checkin", "familymember", "consentrecord", "careplan"])
def test_county_manager_cannot_pick_another_countys_family(manager_client, families, model_name):
    response = manager_client.get(reverse(f"admin:families_{model_name}_add"))
    choices = set(response.context["adminform"].form.fields["family"].queryset)
    assert choices == {families["own"], families["colleague"]}


def test_posting_an_outside_family_is_refused(manager_client, families):
    before = FamilyMember.objects.count()
    response = manager_client.post(reverse("admin:families_familymember_add"), {
        "family": families["outside"].pk, "name": "张三", "relation": "other", "birthday_calendar": "solar",
        "loaded_version": "",
    })
    assert response.status_code == 200
    assert "family" in response.context["adminform"].form.errors
    assert FamilyMember.objects.count() == before


def test_autocomplete_results_stay_in_reach(manager_client, families):
    url = reverse("admin:autocomplete")
    params = {"app_label": "families", "model_name": "checkin", "field_name": "family", "term": ""}
    ids = {int(r["id"]) for r in manager_client.get(url, params).json()["results"]}
    assert ids == {families["own"].pk, families["colleague"].pk}
    params = {"app_label": "services", "model_name": "insuredperson", "field_name": "member", "term": "王"}
    ids = {int(r["id"]) for r in manager_client.get(url, params).json()["results"]}
    assert ids == {families["own"].members.get(relation="mother").pk, families["colleague"].members.get(relation="mother").pk}
    # Regions too: the other county's villages are not offered.
    params = {"app_label": "families", "model_name": "family", "field_name": "region", "term": "城关"}
    assert manager_client.get(url, params).json()["results"] == []


def test_transfer_destination_may_lie_outside_reach(manager_client, regions):
    url = reverse("admin:autocomplete")
    params = {"app_label": "families", "model_name": "familytransfer", "field_name": "to_region", "term": "城关"}
    ids = {int(r["id"]) for r in manager_client.get(url, params).json()["results"]}
    assert ids == {regions["yx_village"].pk}


def test_region_outside_reach_cannot_be_saved(client, people, regions):
    # A city administrator may not create a national-level user (no region), nor a team outside the city.
    client.force_login(people["manager"])
    response = client.post(reverse("admin:volunteers_team_add"), {"name": "外县队", "region": regions["yx_village"].pk})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["region"]
    assert not Team.objects.filter(name="外县队").exists()


def test_region_check_holds_even_when_choices_are_not_restricted(people, regions):
    from casemgmt.core.admin_reach import ReachModelForm

    class TeamForm(ReachModelForm):
        class Meta:
            model = Team
            fields = ("name", "region")

    bound = type("Bound", (TeamForm,), {"request_user": people["manager"]})
    with translation.override("en"):
        form = bound(data={"name": "外县队", "region": regions["yx_village"].pk})
        assert not form.is_valid()
        assert form.errors["region"] == ["This region lies outside your area of responsibility."]
        assert bound(data={"name": "本县队", "region": regions["village"].pk}).is_valid()


def test_exact_id_number_search_finds_the_member(manager_client, families):
    mother = families["own"].members.get(relation="mother")
    url = reverse("admin:families_familymember_changelist")
    response = manager_client.get(url, {"q": mother.id_number.lower()})
    assert list(response.context["cl"].result_list) == [mother]
    # The same number finds the family, and phone numbers are searched through their blind index.
    response = manager_client.get(reverse("admin:families_family_changelist"), {"q": mother.id_number})
    assert list(response.context["cl"].result_list) == [families["own"]]
    response = manager_client.get(url, {"q": "13800000001"})
    assert {m.family_id for m in response.context["cl"].result_list} == {families["own"].pk, families["colleague"].pk}
    # Another county's member is not found by its number.
    outsider = families["outside"].members.get(relation="mother")
    assert list(manager_client.get(url, {"q": outsider.id_number}).context["cl"].result_list) == []


def test_stale_version_is_refused_and_changes_nothing(manager_client, people, families):
    family = families["own"]
    url = reverse("admin:families_family_change", args=[family.pk])
    page = manager_client.get(url)
    data = post_data(page)
    assert data["loaded_version"] == str(family.version)
    # Someone else saves in between.
    services.family_update(actor=people["alice"], family=family, expected_version=family.version, notes="alice")
    audit_rows = AuditEvent.objects.count()
    data["address"] = "新地址"
    response = manager_client.post(url, data, **EN)
    assert response.status_code == 200
    assert "Conflict" in response.content.decode()
    family.refresh_from_db()
    assert family.address == "测试路1号" and family.notes == "alice"
    assert AuditEvent.objects.count() == audit_rows

    # Reloaded, the same change goes through and bumps the version.
    data = post_data(manager_client.get(url))
    version = int(data["loaded_version"])
    data["address"] = "新地址"
    response = manager_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    family.refresh_from_db()
    assert family.address == "新地址" and family.version == version + 1


def test_member_change_is_versioned_and_audited_without_plaintext(manager_client, families):
    member = families["own"].members.get(relation="mother")
    url = reverse("admin:families_familymember_change", args=[member.pk])
    data = post_data(manager_client.get(url))
    data["phone"] = "13912345678"
    data["name"] = "王秀兰"
    response = manager_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    member.refresh_from_db()
    assert member.phone == "13912345678" and member.version == 2
    event = AuditEvent.objects.get(event="admin.families.familymember.changed")
    assert event.before["name"] == "王秀英" and event.after["name"] == "王秀兰"
    assert event.after["encrypted_fields_changed"] == ["phone"]
    assert "13912345678" not in json.dumps(event.after, ensure_ascii=False)
    assert "13800000001" not in json.dumps(event.before, ensure_ascii=False)
    assert event.family_id == families["own"].pk and event.region_path == families["own"].region_path


def test_admin_add_and_delete_are_audited(manager_client, people, regions):
    response = manager_client.post(reverse("admin:families_family_add"), {
        "file_number": "ZP-0100", "category": "disabled", "region": regions["village"].pk, "address": "东门",
        "residence": "rural", "registered_on": "2024-01-02", "notes": "",
        **{f"{prefix}-{key}": value for prefix in ("members", "assignments", "consents", "pairings")
           for key, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))},
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    family = Family.objects.get(file_number="ZP-0100")
    # Registered through the service: a first status row and the service's own audit row.
    assert family.status_changes.get().to_status == "registered"
    events = set(AuditEvent.objects.filter(object_ids=[family.pk]).values_list("event", flat=True))
    assert {"admin.families.family.added", "families.family.registered"} <= events

    team = Team.objects.create(name="临时队", region=regions["zhangpu"])
    manager_client.force_login(people["root"])
    manager_client.post(reverse("admin:volunteers_team_delete", args=[team.pk]), {"post": "yes"})
    assert not Team.objects.filter(pk=team.pk).exists()
    assert AuditEvent.objects.filter(event="admin.volunteers.team.deleted", object_ids=[team.pk]).exists()


def test_status_and_risk_are_read_only_and_changed_by_actions(manager_client, families):
    family = families["own"]
    page = manager_client.get(reverse("admin:families_family_change", args=[family.pk]))
    form = page.context["adminform"].form
    assert "status" not in form.fields and "risk_level" not in form.fields

    url = reverse("admin:families_family_changelist")
    manager_client.post(url, {"action": "close_case", "_selected_action": [family.pk], "reason": "迁出本省"})
    family.refresh_from_db()
    assert family.status == "closed" and family.status_reason == "迁出本省"
    # The reason is encrypted: compared once read, not in SQL.
    assert [c.reason for c in FamilyStatusChange.objects.filter(family=family, to_status="closed")] == ["迁出本省"]

    manager_client.post(url, {"action": "reopen_case", "_selected_action": [family.pk]})
    family.refresh_from_db()
    assert family.status == "active"

    manager_client.post(url, {"action": "set_risk_red", "_selected_action": [family.pk], "reason": "有轻生念头"})
    family.refresh_from_db()
    assert family.risk_level == "red" and family.risk_changes.get().reason == "有轻生念头"


def test_renew_policy_action_drafts_next_years_policy(manager_client, dataset):
    policy = dataset["policy"]
    manager_client.post(reverse("admin:services_insurancepolicy_changelist"),
                        {"action": "renew_policy", "_selected_action": [policy.pk]})
    renewal = InsurancePolicy.objects.get(renews=policy)
    assert renewal.status == "draft" and renewal.starts_on.year == policy.starts_on.year + 1
    assert list(renewal.roster.values_list("member_id", flat=True)) == list(policy.roster.values_list("member_id", flat=True))


def test_coordinator_sees_no_sensitive_fields(client, people, families):
    client.force_login(people["coordinator"])
    member = families["own"].members.get(relation="mother")
    response = client.get(reverse("admin:families_familymember_change", args=[member.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "id_number" not in response.context["adminform"].form.fields
    assert not {"id_number", "phone", "health_conditions"} & set(
        f for fs in response.context["adminform"].fieldsets for f in _flat(fs[1]["fields"]))
    assert member.id_number not in html and member.phone not in html

    # Not even masked: the policy leaves a coordinator without ID numbers.
    listing = client.get(reverse("admin:families_familymember_changelist")).content.decode()
    assert member.id_number not in listing
    assert member.id_number[:6] + "********" + member.id_number[-4:] not in listing

    family_page = client.get(reverse("admin:families_family_change", args=[families["own"].pk])).content.decode()
    assert member.id_number not in family_page and member.phone not in family_page


def test_social_worker_sees_sensitive_fields_of_own_case_only(client, people, families):
    client.force_login(people["alice"])
    member = families["own"].members.get(relation="mother")
    response = client.get(reverse("admin:families_familymember_change", args=[member.pk]))
    # Revealed on request only: the input is empty, the masked number beside it.
    assert response.context["adminform"].form["id_number"].value() == ""
    html = response.content.decode()
    assert member.id_number not in html and member.id_number[:6] + "********" + member.id_number[-4:] in html
    other = families["colleague"].members.first()
    assert client.get(reverse("admin:families_familymember_change", args=[other.pk])).status_code == 302


def test_audit_trail_is_read_only_even_for_the_superuser(client, people, families):
    client.force_login(people["root"])
    event = AuditEvent.objects.first()
    assert client.get(reverse("admin:core_auditevent_add")).status_code == 403
    assert client.post(reverse("admin:core_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    response = client.post(reverse("admin:core_auditevent_change", args=[event.pk]), {"event": "forged"})
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.event != "forged"


def _flat(fields):
    for entry in fields:
        yield from (entry if isinstance(entry, list | tuple) else (entry,))


def test_coordinator_reviews_hours_through_the_service(client, people, dataset):
    from volunteers.models import ServiceHours

    client.force_login(people["coordinator"])
    hours = ServiceHours.objects.get()
    client.post(reverse("admin:volunteers_servicehours_changelist"), {"action": "approve", "_selected_action": [hours.pk]})
    hours.refresh_from_db()
    assert hours.status == "approved" and hours.reviewed_by == people["coordinator"]
    assert AuditEvent.objects.filter(event="volunteers.hours.approved", object_ids=[hours.pk]).exists()


def test_volunteer_found_by_exact_phone_and_shown_to_the_coordinator_with_an_audit_row(client, people, dataset):
    client.force_login(people["coordinator"])
    response = client.get(reverse("admin:volunteers_volunteer_changelist"), {"q": "13900000009"})
    assert list(response.context["cl"].result_list) == [dataset["volunteer"]]
    # A volunteer's phone is the coordinator's working data; reading it is audited.
    html = client.get(reverse("admin:volunteers_volunteer_changelist")).content.decode()
    assert "13900000009" in html
    event = AuditEvent.objects.filter(event="admin.volunteers.volunteer.viewed").latest("at")
    assert event.actor == people["coordinator"] and event.after == {"fields": ["phone"]}
    # A manager gets it masked, and no row.
    client.force_login(people["manager"])
    before = AuditEvent.objects.filter(event="admin.volunteers.volunteer.viewed").count()
    html = client.get(reverse("admin:volunteers_volunteer_changelist")).content.decode()
    assert "13900000009" not in html and "139****0009" in html
    assert AuditEvent.objects.filter(event="admin.volunteers.volunteer.viewed").count() == before
