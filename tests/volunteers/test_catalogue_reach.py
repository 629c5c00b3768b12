"""A course defined for the city is used in every county below it: the county coordinator lists it and
schedules sessions of it (which belong to the county), but only the city changes the course."""
import datetime

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from casemgmt.core.models import Role
from tests.conftest import make_user
from volunteers.models import TrainingCourse, TrainingSession


@pytest.fixture
def city_course(regions):
    return TrainingCourse.objects.create(title="市级心理慰藉课程", region=regions["zhangzhou"])


@pytest.fixture
def api(db):
    cache.clear()  # throttle counters outlive a test
    yield lambda user: _client(user)
    cache.clear()


def _client(user):
    client = APIClient()
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_authenticate(user)
    return client


def _moment(days):
    return (timezone.localtime() + datetime.timedelta(days=days)).replace(hour=9, minute=0, second=0, microsecond=0)


@pytest.mark.django_db
def test_county_coordinator_schedules_a_city_course_in_the_workspace(client, people, regions, city_course):
    coordinator = people["coordinator"]
    client.force_login(coordinator)
    form = client.get("/trainings/new/").content.decode()
    assert f'value="{city_course.pk}"' in form and "市级心理慰藉课程" in form
    start = _moment(4)
    response = client.post("/trainings/new/", {
        "course": city_course.pk, "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), "venue": "漳浦县计生协",
        "capacity": 5})
    session = TrainingSession.objects.get(course=city_course)
    assert response["Location"] == reverse("workspace:training", args=[session.pk])
    assert session.region == regions["zhangpu"]  # the county's session, in the county's reach
    month = client.get("/trainings/", {"view": "month", "date": start.date().isoformat()}).content.decode()
    assert "市级心理慰藉课程" in month

    other = make_user("yx_coordinator", Role.VOLUNTEER_COORDINATOR, regions["yunxiao"])
    client.force_login(other)
    assert client.get(reverse("workspace:training", args=[session.pk])).status_code == 404
    assert "漳浦县计生协" not in client.get("/trainings/", {"view": "month", "date": start.date().isoformat()}).content.decode()
    # The other county uses the city course too.
    assert f'value="{city_course.pk}"' in client.get("/trainings/new/").content.decode()


@pytest.mark.django_db
def test_county_coordinator_uses_but_cannot_change_a_city_course_through_the_api(api, people, regions, city_course):
    county_course = TrainingCourse.objects.create(title="县级课程", region=regions["zhangpu"])
    other_county_course = TrainingCourse.objects.create(title="云霄课程", region=regions["yunxiao"])
    coordinator = api(people["coordinator"])
    listed = {row["id"] for row in coordinator.get("/api/v1/training-courses/").json()["results"]}
    assert listed == {city_course.pk, county_course.pk}
    assert other_county_course.pk not in listed

    start = _moment(3)
    created = coordinator.post("/api/v1/training-sessions/", {
        "course": city_course.pk, "region": regions["zhangpu"].pk, "starts_at": start.isoformat(),
        "ends_at": (start + datetime.timedelta(hours=2)).isoformat(), "venue": "会议室", "capacity": 4}, format="json")
    assert created.status_code == 201, created.content
    session_id = created.json()["id"]

    # Read, but not written: the city's course stays the city's.
    detail = coordinator.get(f"/api/v1/training-courses/{city_course.pk}/")
    assert detail.status_code == 200
    refused = coordinator.patch(f"/api/v1/training-courses/{city_course.pk}/", {"title": "改名"}, format="json",
                                HTTP_IF_MATCH=detail["ETag"])
    assert refused.status_code == 403
    assert "only that region may change it" in refused.json()["detail"]
    city_course.refresh_from_db()
    assert city_course.title == "市级心理慰藉课程"
    # A session cannot be placed in the city by a county coordinator either.
    upward = coordinator.post("/api/v1/training-sessions/", {
        "course": city_course.pk, "region": regions["zhangzhou"].pk, "starts_at": start.isoformat(),
        "ends_at": (start + datetime.timedelta(hours=2)).isoformat(), "venue": "会议室", "capacity": 4}, format="json")
    assert upward.status_code == 400

    own = coordinator.get(f"/api/v1/training-courses/{county_course.pk}/")
    renamed = coordinator.patch(f"/api/v1/training-courses/{county_course.pk}/", {"title": "县级课程（新）"},
                                format="json", HTTP_IF_MATCH=own["ETag"])
    assert renamed.status_code == 200

    city_admin = api(people["city_admin"])
    city_detail = city_admin.get(f"/api/v1/training-courses/{city_course.pk}/")
    assert city_admin.patch(f"/api/v1/training-courses/{city_course.pk}/", {"title": "市级课程"}, format="json",
                            HTTP_IF_MATCH=city_detail["ETag"]).status_code == 200

    other = api(make_user("yx_coordinator", Role.VOLUNTEER_COORDINATOR, regions["yunxiao"]))
    other_sessions = {row["id"] for row in other.get("/api/v1/training-sessions/").json()["results"]}
    assert session_id not in other_sessions
    assert other.get(f"/api/v1/training-sessions/{session_id}/").status_code == 404
    assert city_course.pk in {row["id"] for row in other.get("/api/v1/training-courses/").json()["results"]}


@pytest.mark.django_db
def test_the_admin_shows_a_city_course_to_the_county_read_only(people, regions, city_course):
    county_course = TrainingCourse.objects.create(title="县级课程", region=regions["zhangpu"])
    model_admin = admin.site._registry[TrainingCourse]
    request = RequestFactory().get("/")
    request.user = people["coordinator"]
    assert city_course in model_admin.get_queryset(request)
    assert model_admin.has_change_permission(request, county_course)
    assert not model_admin.has_change_permission(request, city_course)
    assert not model_admin.has_delete_permission(request, city_course)
    request.user = people["city_admin"]
    assert model_admin.has_change_permission(request, city_course)
