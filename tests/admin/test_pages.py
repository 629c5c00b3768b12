"""Every admin page renders for a superuser and for a region manager; lists do not grow N+1."""
import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from tests.conftest import add_family

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _urls(model, name):
    return f"admin:{model._meta.app_label}_{model._meta.model_name}_{name}"


def _check_pages(client, user):
    """Render list, add and one change page of each model ``user`` may view; return what was checked."""
    client.force_login(user)
    request = _request(user)
    checked = []
    for model, model_admin in REGISTRY:
        if not model_admin.has_view_permission(request):
            continue
        label = model._meta.label_lower
        response = client.get(reverse(_urls(model, "changelist")))
        assert response.status_code == 200, f"{label} changelist: {response.status_code}"
        if model_admin.has_add_permission(request):
            response = client.get(reverse(_urls(model, "add")))
            assert response.status_code == 200, f"{label} add: {response.status_code}"
        obj = model_admin.get_queryset(request).first()
        assert obj is not None, f"{label}: the test data has no row this user can see; add one to tests/admin/conftest.py"
        response = client.get(reverse(_urls(model, "change"), args=[obj.pk]))
        assert response.status_code == 200, f"{label} change: {response.status_code}"
        checked.append(label)
    return checked


@pytest.mark.django_db
def test_every_admin_page_renders_for_the_superuser(client, people, dataset):
    checked = _check_pages(client, people["root"])
    assert len(checked) == len(REGISTRY)


@pytest.mark.django_db
def test_every_admin_page_the_region_manager_may_view_renders(client, people, dataset):
    checked = _check_pages(client, people["manager"])
    assert {"families.family", "families.familymember", "services.insurancepolicy", "volunteers.volunteer",
            "core.region", "core.user", "families.cadencerule"} <= set(checked)
    assert "core.auditevent" not in checked


@pytest.mark.django_db
def test_site_header_is_the_translated_title(client, people):
    client.force_login(people["root"])
    response = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Special family case management" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("model_name", ["family", "familymember", "checkin"])
def test_family_lists_do_not_grow_queries_with_rows(client, people, regions, families, model_name,
                                                     django_assert_max_num_queries):
    from families import services

    client.force_login(people["manager"])
    url = reverse(f"admin:families_{model_name}_changelist")
    for family in families.values():
        services.checkin_record(actor=people["root"], family=family, channel="phone")
    with django_assert_max_num_queries(30) as few:
        assert client.get(url).status_code == 200
    for n in range(8):
        family = add_family(regions["village"], f"ZP-1{n:03d}", mother_seq=100 + 2 * n, father_seq=101 + 2 * n)
        services.checkin_record(actor=people["root"], family=family, channel="phone")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
