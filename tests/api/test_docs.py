"""The schema and its two documentation pages are served (with their assets from the sidecar package)."""
from rest_framework.test import APIClient


def test_schema_swagger_and_redoc_render(db):
    client = APIClient()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/families/{id}/reassess-risk/" in paths and "/api/v1/users/me/" in paths
    error = paths["/api/v1/families/"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    swagger = client.get("/api/docs/")
    assert swagger.status_code == 200 and b"swagger-ui" in swagger.content and b"/static/drf_spectacular_sidecar" in \
        swagger.content
    redoc = client.get("/api/redoc/")
    assert redoc.status_code == 200 and b"redoc" in redoc.content.lower()


def test_unknown_api_path_answers_in_the_error_shape(db):
    response = APIClient().get("/api/v1/no-such-thing/")
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "not_found"
