"""casemgmt.core.reach.compiled_in_reach keeps a statement per role and request shape, never per
person or place: a few hundred staff in different villages and townships asking the same things
share a constant number of kept statements, every request after the first of its shape finds its
statement kept, and each reader still sees only their own families, at a pinned number of queries."""
import datetime
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from casemgmt.api.models import ApiToken
from casemgmt.core.models import Region, Role
from casemgmt.core.reach import compiled_in_reach, reach_shape
from families import selectors
from families.models import ContactAssignment
from tests.conftest import add_family, make_region, make_user

pytestmark = pytest.mark.django_db

TOWNSHIPS, VILLAGES = 6, 40  # 240 village contacts, and per township a contact, a social worker, a manager
FIRST_PAGE_QUERIES = DETAIL_QUERIES = 2  # the token, then the page with its audit row (test_hot_paths)
SEARCHES = ("王秀英", "wxy")  # a name; Latin letters (pinyin, initials, file numbers)
REQUESTS_PER_SHAPE = {
    # role: the reads each person of the role makes
    Role.CONTACT_PERSON: ("caseload", "detail", *SEARCHES, "id number"),
    Role.SOCIAL_WORKER: ("caseload", "detail", *SEARCHES, "id number"),
    Role.REGION_MANAGER: ("list", "detail", *SEARCHES, "id number"),
}


@pytest.fixture
def staff(regions):
    """Per village its own contact person and one family in their caseload; per township a contact
    person and a social worker holding every family of the township, and a region manager."""
    counties = itertools.cycle([regions["zhangpu"], regions["yunxiao"]])
    people, seq = [], itertools.count(10)
    for t in range(TOWNSHIPS):
        county = next(counties)
        town = make_region(f"{county.code[:6]}{110 + t:03d}", f"第{t}镇", Region.Level.TOWNSHIP, county)
        town_contact = make_user(f"town-contact-{t}", Role.CONTACT_PERSON, town)
        worker = make_user(f"worker-{t}", Role.SOCIAL_WORKER, town)
        manager = make_user(f"manager-{t}", Role.REGION_MANAGER, town)
        town_families = []
        for v in range(VILLAGES):
            village = make_region(f"{town.code[:9]}{200 + v:03d}", f"第{t}镇{v}村", Region.Level.VILLAGE, town, "220")
            contact = make_user(f"village-contact-{t}-{v}", Role.CONTACT_PERSON, village)
            family = add_family(village, f"S{t:02d}-{v:03d}", owner=worker, mother_seq=next(seq), father_seq=next(seq))
            ContactAssignment.objects.bulk_create([
                ContactAssignment(family=family, user=contact, kind="village_contact"),
                ContactAssignment(family=family, user=town_contact, kind="township_contact")])
            people.append((contact, [family]))
            town_families.append(family)
        people += [(town_contact, town_families), (worker, town_families), (manager, town_families)]
    return people


def _client(user):
    _, raw = ApiToken.issue(user=user, name="phone", expires_at=timezone.now() + datetime.timedelta(hours=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.get("/api/v1/users/me/")  # the first use stamps last_used_at (then once an hour)
    return client


def _reads(user, families):
    family = families[0]
    mother = family.members.get(relation="mother")
    if user.role == Role.REGION_MANAGER:
        first = {"list": ("/api/v1/families/", {})}
    else:
        first = {"caseload": ("/api/v1/families/", {"ordering": "next_checkin_due"})}
    return {
        **first,
        "detail": (f"/api/v1/families/{family.pk}/", {}),
        **{q: ("/api/v1/families/", {"q": q}) for q in SEARCHES},
        "id number": ("/api/v1/families/", {"q": mother.id_number}),
    }


def test_hundreds_of_staff_in_their_villages_share_one_statement_per_shape(staff):
    assert len(staff) >= 250 and len({user.region_id for user, _ in staff}) >= 240
    clients = [(user, families, _client(user)) for user, families in staff]
    for town in Region.objects.filter(level=Region.Level.TOWNSHIP):
        selectors.walk_threshold(path=town.path)  # the planner's estimates, kept ten minutes, are not what is counted
    compiled_in_reach.clear()
    shapes = sum(len(reads) for reads in REQUESTS_PER_SHAPE.values())
    requests = 0
    for user, families, client in clients:
        expected = {family.pk for family in families}
        for name, (url, params) in _reads(user, families).items():
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url, params)
            requests += 1
            assert response.status_code == 200, (user.username, name, response.content[:300])
            body = response.json()
            assert len(queries) == (DETAIL_QUERIES if name == "detail" else FIRST_PAGE_QUERIES), (user.username, name)
            if name == "detail":
                assert body["id"] in expected
                continue
            found = {card["id"] for card in body["results"]}
            assert body["next"] is None and found <= expected, (user.username, name)
            if name in ("caseload", "list", SEARCHES[0], SEARCHES[1]):  # every family matches these
                assert found == expected, (user.username, name)
            else:
                assert found == {families[0].pk}, (user.username, name)
        # A shape is compiled by the first of its role to ask; every later request finds it kept.
        assert len(compiled_in_reach.kept()) <= shapes
    assert len(compiled_in_reach.kept()) == compiled_in_reach.misses == shapes
    assert compiled_in_reach.hits == requests - shapes


def test_a_statement_kept_for_one_village_reads_another_villages_families_for_nobody(staff):
    """The contact of one village asks for the family of the next: the statement the first compiled
    answers 404 for the second, and neither sees the other's family in a list or a search."""
    (first, [own]), (second, [other]) = staff[0], staff[1]
    compiled_in_reach.clear()
    a, b = _client(first), _client(second)
    assert a.get(f"/api/v1/families/{own.pk}/").status_code == 200
    assert b.get(f"/api/v1/families/{own.pk}/").status_code == 404
    assert b.get(f"/api/v1/families/{other.pk}/").status_code == 200
    for client, family in ((a, own), (b, other)):
        for params in ({"ordering": "next_checkin_due"}, {"q": "王秀英"}):
            assert [card["id"] for card in client.get("/api/v1/families/", params).json()["results"]] == [family.pk]
    assert compiled_in_reach.misses == 3 and compiled_in_reach.hits == 4


def test_later_pages_of_every_township_share_one_statement_per_shape(staff):
    """A later page binds the cursor's position and the reader's region: the township contacts and
    social workers of every township, paging their worklists one family at a time, compile each
    shape once (a page inside the dated families, and the last one, which also reads those without
    a due date) and see only their own families."""
    holders = [(user, families) for user, families in staff if user.role != Role.REGION_MANAGER and len(families) > 2]
    assert len(holders) >= 2 * TOWNSHIPS
    compiled_in_reach.clear()
    pages = 0
    for user, families in holders:
        client = _client(user)
        body = client.get("/api/v1/families/", {"ordering": "next_checkin_due", "page_size": 1}).json()
        seen = [card["id"] for card in body["results"]]
        while body["next"]:
            with CaptureQueriesContext(connection) as queries:
                body = client.get(body["next"]).json()
            pages += 1
            assert len(queries) <= FIRST_PAGE_QUERIES + 1, user.username
            seen += [card["id"] for card in body["results"]]
        assert sorted(seen) == sorted(family.pk for family in families), user.username
    later = [key for key in compiled_in_reach.kept() if key[0][0][0] == "families.later"]
    assert pages > 3 * len(holders) and 1 <= len(later) <= 2 * len({reach_shape(u) for u, _ in holders})
