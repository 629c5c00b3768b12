"""casemgmt.api.negotiation gives DRF's own answer for every Accept header, quickly for */*."""
import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from casemgmt.api.negotiation import ContentNegotiation
from casemgmt.api.renderers import JSONRenderer

RENDERERS = [JSONRenderer(), BrowsableAPIRenderer()]


@pytest.mark.parametrize("accept", [None, "*/*", " */* ", "", "application/json", "application/json; indent=4",
                                    "text/html", "text/html,application/xhtml+xml,*/*;q=0.8", "application/*"])
@pytest.mark.parametrize("query", ["", "?format=api", "?format=json"])
def test_the_same_renderer_and_media_type_as_drf(accept, query):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/v1/families/{query}", **headers))
    assert _answer(ContentNegotiation(), request) == _answer(DefaultContentNegotiation(), request)


def _answer(negotiation, request):
    try:
        renderer, media_type = negotiation.select_renderer(request, RENDERERS)
    except NotAcceptable:
        return "406"
    return type(renderer), media_type


def test_a_format_suffix_is_drfs_answer():
    request = Request(APIRequestFactory().get("/api/v1/families.api", HTTP_ACCEPT="*/*"))
    ours = ContentNegotiation().select_renderer(request, RENDERERS, format_suffix="api")
    assert type(ours[0]) is BrowsableAPIRenderer


def test_the_api_answers_json_to_a_client_that_takes_anything(world, client_for):
    response = client_for("alice").get("/api/v1/families/", HTTP_ACCEPT="*/*")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json()["results"]
