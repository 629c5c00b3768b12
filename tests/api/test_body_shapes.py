"""Every write route of the API answers a JSON body of the wrong shape (a list, a string, a number
where an object belongs) with a 400 in the API's error shape that names the problem, never a 500."""
import pytest
from django.urls import resolve

from casemgmt.core.models import User

pytestmark = pytest.mark.django_db


def _write_operations(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if method in ("post", "put", "patch") and "application/json" in content:
                yield path, method


def _object_for(path):
    """An existing row of the model behind a detail route, or None."""
    view = getattr(resolve(path.replace("{id}", "1")).func, "cls", None)
    queryset = getattr(view, "queryset", None)
    return queryset.model.objects.order_by("pk").first() if queryset is not None else None


@pytest.mark.parametrize("body", ["[1]", '"text"', "1"])
def test_every_write_route_answers_a_body_of_the_wrong_shape_with_a_400(world, client, scale, body):
    client.force_login(User.objects.get(username="root"))  # reaches every row: nothing is refused before the body
    answered = {}
    for path, method in _write_operations(client):
        url = path.replace("{kind}", "families")
        if "{id}" in url:
            obj = _object_for(url)
            if obj is None:
                continue
            url = url.replace("{id}", str(obj.pk))
        response = getattr(client, method)(url, body, content_type="application/json", HTTP_IF_MATCH="*")
        assert response.status_code < 500, (method, path, response.content[:300])
        answered[f"{method.upper()} {path}"] = response.status_code, response.json()
    assert len(answered) > 40
    for operation, (status, data) in answered.items():
        assert status == 400, (operation, status, data)
        assert set(data) == {"detail", "errors"} and data["errors"], (operation, data)
        messages = " ".join(error["message"] for error in data["errors"])
        assert "字典" in messages or "列表" in messages, (operation, data)  # "expected a dictionary (a list)"
