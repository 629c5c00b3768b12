"""The admin's family change page stays small and quick however many staff and families the region
holds: people are picked by search, not from a select of everyone in reach; numbers are typed on one
line; and its statements and size do not grow with the region."""
import datetime
import re

import pytest
from django.contrib import admin
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from casemgmt.core.idcard import make_id_number
from casemgmt.core.models import Role, User
from families.admin import ContactAssignmentInline
from families.models import ConsentRecord, ContactAssignment, FamilyMember
from tests.conftest import add_family
from volunteers.models import Pairing, Volunteer

pytestmark = pytest.mark.django_db

# A family as the demo has them: three members, three current contacts and one who moved on,
# three consents, a paired volunteer.
MAX_BYTES = 120_000
# Statements of the page (session, permissions, the family, one per inline, the reach's checks):
# pinned so that a select of everyone, or a query per row, shows up here.
STATEMENTS = {"root": 20, "manager": 23}


@pytest.fixture
def family(regions, people, families):
    own = families["own"]
    FamilyMember.objects.create(family=own, name="李伟", relation="child", is_deceased=True,
                                death_date=datetime.date(2015, 4, 2),
                                id_number=make_id_number("350623", datetime.date(1990, 1, 2), 501))
    ContactAssignment.objects.filter(family=own).update(
        started_on=datetime.date(2024, 1, 1), ended_on=datetime.date(2025, 1, 1), end_reason="工作调动")
    for kind, user in (("social_worker", people["bob"]), ("township_contact", people["contact"]),
                       ("village_contact", people["contact"])):
        ContactAssignment.objects.create(family=own, user=user, kind=kind)
    mother = own.members.get(relation="mother")
    for purpose in ("case_management", "health_data", "contact_phone"):
        ConsentRecord.objects.create(family=own, member=mother, purpose=purpose, recorded_by=people["alice"])
    Pairing.objects.create(volunteer=Volunteer.objects.create(name="陈志愿", region=regions["zhangpu"]), family=own)
    return own


def _crowd(regions, n):
    """``n`` more staff and families in the county: what used to fill the page's selects."""
    password = make_password(None)
    User.objects.bulk_create([
        User(username=f"crowd{k}", role=Role.CONTACT_PERSON, region=regions["suian"], is_staff=True, password=password)
        for k in range(n)])
    for k in range(n // 10):
        add_family(regions["village2"], f"ZP-9{k:03d}", mother_seq=100 + 2 * k, father_seq=101 + 2 * k)


def _get(client, family):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:families_family_change", args=[family.pk]))
    assert response.status_code == 200
    return response, len(queries.captured_queries)


@pytest.mark.parametrize("who", ["root", "manager"])
def test_size_and_statements_do_not_grow_with_the_region(client, people, regions, family, who):
    client.force_login(people[who])
    _get(client, family)  # warm the caches of the session and the permissions
    response, statements = _get(client, family)
    _crowd(regions, 300)
    crowded, crowded_statements = _get(client, family)

    assert statements == crowded_statements == STATEMENTS[who]
    assert len(crowded.content) < MAX_BYTES, len(crowded.content)
    body = crowded.content.decode()
    assert "crowd1" not in body  # staff are found by search, not listed
    assert body.count("<option") < 150


def test_numbers_and_short_text_are_one_line_inputs(client, people, family):
    client.force_login(people["root"])
    body = _get(client, family)[0].content.decode()
    for name in ("id_number", "phone", "family_doctor", "family_doctor_institution", "disability_certificate_number"):
        assert re.search(rf'<input[^>]*name="members-0-{name}"', body), name
        assert not re.search(rf'<textarea[^>]*name="members-\d+-{name}"', body), name
    # Prose stays a text area.
    assert re.search(r'<textarea[^>]*name="members-0-health_conditions"', body)


def test_consent_is_given_by_a_member_of_this_family(client, people, family, families):
    client.force_login(people["root"])
    body = _get(client, family)[0].content.decode()
    select = re.search(r'<select name="consents-0-member".*?</select>', body, re.S).group(0)
    options = set(re.findall(r'<option value="(\d+)"', select))
    assert options == {str(pk) for pk in family.members.values_list("pk", flat=True)}


def test_a_contact_is_picked_by_search_within_reach(client, people, family):
    client.force_login(people["manager"])
    body = _get(client, family)[0].content.decode()
    assert 'data-ajax--url="/admin/autocomplete/"' in body
    url = reverse("admin:autocomplete")
    params = {"app_label": "families", "model_name": "contactassignment", "field_name": "user"}
    found = client.get(url, {**params, "term": "o"}).json()["results"]
    names = {row["text"] for row in found}
    assert any("bob" in name for name in names)
    assert not any("carol" in name or "other_manager" in name for name in names)  # another county

    # The form still offers only the reach: a user out of it is refused on save.
    carol = people["carol"]
    request = RequestFactory().get("/admin/")
    request.user = people["manager"]
    inline = ContactAssignmentInline(type(family), admin.site)
    field = inline.get_formset(request, family).form.base_fields["user"]
    assert not field.queryset.filter(pk=carol.pk).exists()
    assert field.queryset.filter(pk=people["bob"].pk).exists()
