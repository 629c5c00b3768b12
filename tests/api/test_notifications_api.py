"""The notifications API: a phone app's inbox. Each person lists, counts and marks only their own."""
from django.utils import timezone

from casemgmt.core.models import Notification


def _note(user, key, **extra):
    return Notification.objects.create(recipient=user, kind="reminder", title=f"提醒 {key}", dedup_key=key, **extra)


def test_list_unread_count_and_mark_read_cover_the_callers_own_notifications_only(world, client_for):
    alice, bob = world.people["alice"], world.people["bob"]
    first, second = _note(alice, "a1"), _note(alice, "a2")
    seen = _note(alice, "a3", read_at=timezone.now())
    theirs = _note(bob, "b1")
    client = client_for("alice")

    listed = client.get("/api/v1/notifications/").json()
    assert [row["id"] for row in listed["results"]] == [seen.pk, second.pk, first.pk]  # newest first, theirs not

    unread_only = client.get("/api/v1/notifications/", {"unread": "true"}).json()
    assert {row["id"] for row in unread_only["results"]} == {first.pk, second.pk}
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 2}

    answer = client.post(f"/api/v1/notifications/{first.pk}/read/")
    assert answer.status_code == 200 and answer.json()["is_read"] is True
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 1}

    # Somebody else's is not found, and stays unread.
    assert client.post(f"/api/v1/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None

    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 1}
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 0}
    assert client_for("bob").get("/api/v1/notifications/unread-count/").json() == {"unread": 1}


def test_marking_read_twice_keeps_the_first_time(world, client_for):
    note = _note(world.people["alice"], "once")
    client = client_for("alice")
    client.post(f"/api/v1/notifications/{note.pk}/read/")
    note.refresh_from_db()
    first = note.read_at
    client.post(f"/api/v1/notifications/{note.pk}/read/")
    note.refresh_from_db()
    assert note.read_at == first


def test_errors_are_in_the_api_shape(world, client_for):
    assert client_for("anonymous").get("/api/v1/notifications/").status_code == 401
    missing = client_for("alice", language="zh-hans").post("/api/v1/notifications/999999/read/")
    body = missing.json()
    assert missing.status_code == 404 and set(body) == {"detail", "errors"} and body["errors"][0]["code"] == "not_found"
    bad = client_for("alice").get("/api/v1/notifications/", {"level": "nonsense"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "level"


def test_the_schema_documents_the_notification_routes(db):
    from rest_framework.test import APIClient

    paths = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    assert {"/api/v1/notifications/", "/api/v1/notifications/unread-count/", "/api/v1/notifications/{id}/read/",
            "/api/v1/notifications/read-all/"} <= set(paths)
