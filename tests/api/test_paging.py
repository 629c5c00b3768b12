"""Every page of every list has its rows once: the ordering always ends with the primary key, so
rows that tie on every sort key still have one place. And the four list-like actions answer what
the OpenAPI schema says they answer."""
import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from casemgmt.api.pagination import StandardPagination, stable
from casemgmt.api.urls import router
from casemgmt.core.models import Region, User
from services.models import Activity, ActivityAttendance
from tests.conftest import make_region
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowded_activity(world):
    """One activity with 120 volunteers checked in at the very same moment."""
    at = timezone.make_aware(datetime.datetime(2025, 5, 1, 9))
    activity = Activity.objects.create(title="集体庆生", category="birthday", region=world.regions["zhangpu"],
                                       starts_at=at, ends_at=at + datetime.timedelta(hours=2))
    volunteers = Volunteer.objects.bulk_create(
        [Volunteer(name=f"志愿者{n:03}", region=world.regions["zhangpu"]) for n in range(120)])
    ActivityAttendance.objects.bulk_create(
        [ActivityAttendance(activity=activity, volunteer=v, checked_in_at=at) for v in volunteers])
    # Rows updated later sit elsewhere on disk: the database's order of tied rows is not the ids'.
    for pk in ActivityAttendance.objects.filter(activity=activity).values_list("pk", flat=True)[::3]:
        ActivityAttendance.objects.filter(pk=pk).update(method="qr")
    return activity


def _walk(client, url):
    seen, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        data = response.json()
        seen += [row["id"] for row in data["results"]]
        url, pages = data["next"], pages + 1
    return seen, pages


@pytest.mark.parametrize("ordering", ["checked_in_at", "-checked_in_at", None])
def test_paging_through_rows_that_tie_shows_each_row_exactly_once(client_for, crowded_activity, ordering):
    query = f"activity={crowded_activity.pk}&page_size=7" + (f"&ordering={ordering}" if ordering else "")
    seen, pages = _walk(client_for("manager"), f"/api/v1/activity-attendance/?{query}")
    assert pages == 18
    expected = set(ActivityAttendance.objects.filter(activity=crowded_activity).values_list("pk", flat=True))
    assert len(seen) == len(set(seen)) == 120 and set(seen) == expected


def test_every_paginated_list_orders_by_the_primary_key_last(world, client, crowded_activity):
    client.force_login(User.objects.get(username="root"))
    checked = 0
    for prefix, viewset, basename in router.registry:
        if not hasattr(viewset, "list") or viewset.pagination_class is not StandardPagination:
            continue  # keyset pages end with the primary key by construction (tests/api/test_families_api.py)
        table = viewset.queryset.model._meta.db_table
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(f"api:{basename}-list"), {"page_size": 5})
        assert response.status_code == 200, (prefix, response.content[:200])
        pages = [q["sql"] for q in queries.captured_queries if "LIMIT" in q["sql"] and f'FROM "{table}"' in q["sql"]]
        if not pages:  # an empty list reads no page
            assert not response.json()["results"], prefix
            continue
        for sql in pages:
            last = re.split(r"ORDER BY ", sql)[-1].split(" LIMIT")[0].split(", ")[-1]
            assert re.fullmatch(rf'"{table}"\."id" (ASC|DESC)( NULLS (FIRST|LAST))?', last), (prefix, last)
        checked += 1
    assert checked > 5  # the lists the fixtures fill (families, members, attendance, regions, …)


def test_stable_ends_an_ordering_with_the_primary_key_in_its_direction():
    queryset = ActivityAttendance.objects.order_by("-checked_in_at")
    assert list(stable(queryset).query.order_by) == ["-checked_in_at", "-pk"]
    assert list(stable(ActivityAttendance.objects.all()).query.order_by)[-1] in ("pk", "-pk")
    already = ActivityAttendance.objects.order_by("checked_in_at", "id")
    assert list(stable(already).query.order_by) == ["checked_in_at", "id"]


# ---- schema-true answers -------------------------------------------------------------------------

def _response_schema(schema, path):
    content = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    if "$ref" in content:
        return schema["components"]["schemas"][content["$ref"].rsplit("/", 1)[-1]]
    return content


@pytest.fixture
def api_schema(client_for):
    return client_for("manager").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


@pytest.mark.parametrize("path", ["/api/v1/families/{id}/status-history/", "/api/v1/families/{id}/risk-history/",
                                  "/api/v1/regions/{id}/ancestors/"])
def test_history_and_ancestors_are_lists_in_the_schema_and_the_answer(world, client_for, api_schema, path):
    assert _response_schema(api_schema, path)["type"] == "array"
    parameters = {p["name"] for p in api_schema["paths"][path]["get"].get("parameters", [])}
    assert parameters == {"id"}  # no filters or page parameters it would ignore
    obj = world.families["own"] if "families" in path else world.regions["village"]
    data = client_for("manager").get(path.replace("{id}", str(obj.pk))).json()
    assert isinstance(data, list) and (data or "risk" in path)  # the family's risk never changed


def test_children_of_a_region_come_in_pages_as_the_schema_says(world, client_for, api_schema):
    schema = _response_schema(api_schema, "/api/v1/regions/{id}/children/")
    assert schema["type"] == "object" and {"count", "next", "results"} <= set(schema["properties"])
    town = world.regions["suian"]
    for n in range(3, 60):
        make_region(f"350623100{n:03}", f"村{n}", Region.Level.VILLAGE, town, "220")
    seen, pages = _walk(client_for("manager"), f"/api/v1/regions/{town.pk}/children/?page_size=25")
    assert pages == 3 and len(seen) == len(set(seen)) == 59
    assert set(seen) == set(Region.objects.filter(parent=town).values_list("pk", flat=True))
