"""The families' cards built by PostgreSQL (casemgmt.api.sqljson) are the serializers' cards: the
same keys in the same order and the same values, for every role, on rows with every kind of value.
The other side of each comparison is the same request answered by DRF's serializers."""
import datetime
import json
import zoneinfo

import pytest
from django.db.models import F
from django.utils import timezone
from rest_framework import serializers as drf

from casemgmt.api import sqljson
from casemgmt.api.sqljson import IsoDateTime, Projection, Unsupported, projection_of
from families.api.views import FamilyViewSet
from families.models import ContactAssignment, Family, FamilyMember

ROLES = ["alice", "bob", "carol", "manager", "coordinator", "volunteer", "contact", "auditor"]


def _varied(world):
    """Rows with what a card can hold: times with and without microseconds, NULL times and dates,
    a family without members or contacts, a deceased member without an ID number, a contact whose
    name is first and last name, one with only a username."""
    own, colleague = world.families["own"], world.families["colleague"]
    Family.objects.filter(pk=own.pk).update(
        status_changed_at=datetime.datetime(2026, 3, 1, 4, 5, 6, tzinfo=datetime.UTC),
        risk_assessed_at=datetime.datetime(2025, 12, 31, 23, 59, 59, 120000, tzinfo=datetime.UTC),
        last_checkin_at=datetime.datetime(2026, 11, 1, 16, 0, 0, 1, tzinfo=datetime.UTC),
        next_checkin_due=datetime.date(2026, 12, 1), notes="老人独居，注意防跌倒", status_reason="首访完成")
    Family.objects.filter(pk=colleague.pk).update(next_checkin_due=None, notes="")
    FamilyMember.objects.create(family=own, name="李小明", relation="child", is_deceased=True,
                                death_date=datetime.date(2019, 5, 2), birth_date=datetime.date(1992, 1, 1))
    bob = world.people["bob"]
    bob.first_name, bob.last_name, bob.display_name = "建", "王", ""
    bob.save()
    ContactAssignment.objects.create(family=own, user=world.people["manager"], kind="coordinator_contact")
    alone = Family.objects.create(file_number="ZP-0009", category="disabled", region=world.regions["village"])
    ContactAssignment.objects.create(family=alone, user=world.people["alice"], kind="social_worker")
    return alone


def _answers(client, urls):
    return [(response.status_code, response.headers.get("ETag"), response.content)
            for response in (client.get(url) for url in urls)]


def test_cards_built_by_the_database_are_the_serializers_cards_for_every_role(world, client_for, monkeypatch):
    alone = _varied(world)
    urls = ["/api/v1/families/", "/api/v1/families/?ordering=next_checkin_due", "/api/v1/families/?q=王秀英",
            "/api/v1/families/?q=wxy", "/api/v1/families/?page_size=1",
            *[f"/api/v1/families/{family.pk}/" for family in [*world.families.values(), alone]]]
    fast = {role: _answers(client_for(role), urls) for role in ROLES}
    monkeypatch.setattr(FamilyViewSet, "_projection", lambda self: None)
    slow = {role: _answers(client_for(role), urls) for role in ROLES}
    for role in ROLES:
        for url, mine, theirs in zip(urls, fast[role], slow[role], strict=True):
            # Byte for byte: keys in the same order, every value written the same way.
            assert mine == theirs, (role, url)
    # The comparison covered what it set out to: masked ID numbers, contacts, times, nested NULLs.
    own = json.loads(fast["alice"][5][2])
    mother = next(m for m in own["members"] if m["relation"] == "mother")
    assert mother["id_number"].startswith("350623") and "*" in mother["id_number"]
    assert [m["is_deceased"] for m in own["members"]].count(True) == 1
    assert {c["user"]["name"] for c in own["contacts"]} >= {"alice", "manager"}
    assert own["risk_assessed_at"] == "2026-01-01T07:59:59.120000+08:00"
    assert own["status_changed_at"] == "2026-03-01T12:05:06+08:00"
    assert "notes" not in json.loads(fast["coordinator"][5][2]) and "id_number" not in str(fast["coordinator"][5][2])
    assert json.loads(fast["manager"][0][2])["results"] and json.loads(fast["volunteer"][0][2])["results"]
    assert json.loads(fast["alice"][-1][2])["members"] == []


def test_a_contact_named_by_first_and_last_name_or_username(world, client_for, monkeypatch):
    own = world.families["own"]
    bob = world.people["bob"]
    ContactAssignment.objects.create(family=own, user=bob, kind="coordinator_contact")
    url = f"/api/v1/families/{own.pk}/"
    for first, last, display in [("建", "王", ""), ("", "", ""), (" 建", "", ""), ("", "王 ", "王建国")]:
        bob.first_name, bob.last_name, bob.display_name = first, last, display
        bob.save()
        fast = client_for("manager").get(url).json()
        with monkeypatch.context() as patched:
            patched.setattr(FamilyViewSet, "_projection", lambda self: None)
            slow = client_for("manager").get(url).json()
        assert fast == slow
        assert {c["user"]["name"] for c in fast["contacts"]} >= {str(bob)}


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "America/New_York", "Asia/Kathmandu", "Australia/Adelaide"])
def test_times_are_written_as_drf_writes_them_in_any_zone(world, zone):
    family = world.families["own"]
    moments = [
        datetime.datetime(2026, 7, 1, 12, 0, tzinfo=datetime.UTC),  # summer time in New York and Adelaide's winter
        datetime.datetime(2026, 1, 15, 3, 4, 5, 6, tzinfo=datetime.UTC),
        datetime.datetime(1988, 6, 1, 0, 0, 0, 500000, tzinfo=datetime.UTC),  # China's summer time of 1986-91
        datetime.datetime(2026, 11, 1, 5, 59, 59, 999999, tzinfo=datetime.UTC),
    ]
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        field = drf.DateTimeField()
        for moment in moments:
            Family.objects.filter(pk=family.pk).update(status_changed_at=moment)
            written = (Family.objects.filter(pk=family.pk)
                       .values_list(IsoDateTime(F("status_changed_at"), zone), flat=True).get())
            assert written == field.to_representation(moment), moment
        Family.objects.filter(pk=family.pk).update(status_changed_at=None)
        assert Family.objects.filter(pk=family.pk).values_list(
            IsoDateTime(F("status_changed_at"), zone), flat=True).get() is None


def test_a_field_it_cannot_build_is_refused_and_the_serializer_answers(world):
    class WithMethod(drf.ModelSerializer):
        label = drf.SerializerMethodField()

        class Meta:
            model = Family
            fields = ["id", "label"]

        def get_label(self, family):
            return family.file_number.lower()

    class NumberAsText(drf.ModelSerializer):
        number = drf.CharField(source="version")  # DRF writes "1", json would write 1

        class Meta:
            model = Family
            fields = ["id", "number"]

    with pytest.raises(Unsupported, match="label"):
        Projection(WithMethod())
    with pytest.raises(Unsupported, match="number: CharField over PositiveIntegerField"):
        Projection(NumberAsText())
    sqljson._cache.clear()
    assert projection_of(WithMethod, make=WithMethod) is None
