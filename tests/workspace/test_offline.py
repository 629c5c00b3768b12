"""What the phone's outbox and service worker rely on: the check-in answering a script in JSON with
the contact's own time, once per key, with translated errors naming the field; the worker script
at the root; a page for what is not kept offline."""
import datetime
import json
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from families.models import CheckIn
from workspace.forms import CHECKIN_MAX_AGE

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


def send(client, family, occurred_at=None, key=None, language="en", **fields):
    data = {"key": key or str(uuid.uuid4()), "channel": "phone", **fields}
    if occurred_at is not None:
        data["occurred_at"] = occurred_at.isoformat() if isinstance(occurred_at, datetime.datetime) else occurred_at
    return client.post(reverse("workspace:checkin", args=[family.pk]), data, HTTP_ACCEPT_LANGUAGE=language, **JSON)


def test_a_draft_sent_later_keeps_the_contacts_time_and_is_stored_once(client, people, families):
    client.force_login(people["alice"])
    family = families["own"]
    contact = (timezone.now() - datetime.timedelta(hours=5)).replace(microsecond=0)
    key = str(uuid.uuid4())
    first = send(client, family, contact.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"), key=key,
                 needs="断网时填写")
    assert first.status_code == 200
    answer = first.json()
    assert answer["saved"] is True and answer["created"] is True
    assert answer["url"] == reverse("workspace:family", args=[family.pk])
    family.refresh_from_db()
    assert answer["message"] == f"Check-in saved. Next contact due {family.next_checkin_due}."
    again = send(client, family, contact, key=key, needs="断网时填写").json()
    assert (again["saved"], again["created"], again["message"]) == (True, False, "This check-in was saved already.")
    assert list(CheckIn.objects.filter(family=family).values_list("occurred_at", flat=True)) == [contact]
    assert family.last_checkin_at == contact


def test_the_contacts_time_is_refused_in_the_future_or_too_long_ago_naming_the_field(client, people, families):
    client.force_login(people["alice"])
    family = families["own"]
    future = send(client, family, timezone.now() + datetime.timedelta(hours=1))
    assert future.status_code == 400
    assert [(e["field"], e["label"]) for e in future.json()["errors"]] == [("occurred_at", "time of the contact")]
    assert future.json()["message"].startswith("time of the contact: ")
    old = send(client, family, timezone.now() - CHECKIN_MAX_AGE - datetime.timedelta(hours=1), language="zh-hans")
    assert old.status_code == 400
    error = old.json()["errors"][0]
    assert error["field"] == "occurred_at" and "30" in error["message"] and "天" in error["message"]
    garbled = send(client, family, "yesterday-ish")
    assert garbled.status_code == 400 and garbled.json()["errors"][0]["field"] == "occurred_at"
    missing = send(client, family, channel="")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "channel"
    assert not CheckIn.objects.exists()
    # Within the limit and a little ahead of the server's clock (a phone's clock is never exact).
    for when in (timezone.now() - CHECKIN_MAX_AGE + datetime.timedelta(hours=1),
                 timezone.now() + datetime.timedelta(minutes=2)):
        assert send(client, family, when).status_code == 200
    assert CheckIn.objects.count() == 2


def test_the_form_without_a_script_still_redirects_with_the_confirmation(client, people, families):
    client.force_login(people["alice"])
    family = families["own"]
    url = reverse("workspace:checkin", args=[family.pk])
    response = client.post(url, {"key": str(uuid.uuid4()), "channel": "phone"}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert response.redirect_chain[-1][0] == reverse("workspace:family", args=[family.pk])
    assert "Check-in saved." in response.content.decode()
    too_old = (timezone.now() - CHECKIN_MAX_AGE - datetime.timedelta(days=1)).isoformat()
    refused = client.post(url, {"key": str(uuid.uuid4()), "channel": "phone", "occurred_at": too_old},
                          HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 200 and "Time of the contact: The contact was more than 30 days ago" in \
        refused.content.decode()
    assert CheckIn.objects.count() == 1


def test_a_signed_out_phone_is_sent_to_sign_in_and_nothing_is_stored(client, families):
    response = send(client, families["own"])
    assert response.status_code == 302 and response["Location"].startswith(reverse("workspace:login"))
    assert not CheckIn.objects.exists()


def test_every_page_carries_the_outbox_and_the_service_worker_is_served_from_the_root(client, people):
    client.force_login(people["alice"])
    page = client.get(reverse("workspace:today")).content.decode()
    config = json.loads(page.split('<script id="outbox-config" type="application/json">')[1].split("</script>")[0])
    assert config["user"] == str(people["alice"].pk) and config["login"] == reverse("workspace:login")
    assert config["sw"] == "/sw.js" and 'src="/static/workspace/outbox.js"' in page
    client.logout()
    login = client.get(reverse("workspace:login")).content.decode()
    assert '"user": ""' in login and 'id="outbox-waiting"' in login
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker["Content-Type"].startswith("text/javascript")
    assert worker["Cache-Control"] == "no-cache"
    body = worker.content.decode()
    assert '"/today/"' in body and '"/families/"' in body and '"/static/workspace/app.css"' in body
    assert "<script" not in body


def test_the_offline_page_names_nobody(client, people):
    client.force_login(people["alice"])
    page = client.get(reverse("workspace:offline"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No connection" in page and "alice" not in page and '"unknown": true' in page
    assert 'action="/logout/"' not in page
