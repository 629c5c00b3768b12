"""The API's shared behaviour: error shape and language, concurrency, idempotency, tokens, audit,
field-level protection, throttling and the request size limit."""
import datetime
import json

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext
from rest_framework.test import APIClient

from casemgmt.api.models import ApiToken, IdempotencyRecord
from casemgmt.core.crypto import hash_token
from casemgmt.core.models import AuditEvent
from families.models import CheckIn, Family


def test_error_shape_names_the_field_and_follows_accept_language(world, client_for):
    body = {"category": "bereaved", "region": world.regions["village"].pk}  # file_number missing
    en = client_for("alice", "en").post("/api/v1/families/", body, format="json")
    zh = client_for("alice", "zh-hans").post("/api/v1/families/", body, format="json")
    assert en.status_code == zh.status_code == 400
    assert en.json()["errors"] == [{"field": "file_number", "code": "required", "message": "This field is required."}]
    with translation.override("zh-hans"):
        expected = str(gettext("This field is required."))
    assert zh.json()["errors"][0]["message"] == expected != "This field is required."
    assert all("\u4e00" <= ch <= "\u9fff" or ch in "。，" for ch in expected)
    assert set(en.json()) == {"detail", "errors"}


def test_service_validation_error_becomes_400_with_field_and_writes_nothing(world, client_for):
    family = world.families["own"]
    before = CheckIn.objects.count()
    future = (timezone.now() + datetime.timedelta(days=2)).isoformat()
    response = client_for("alice", "en").post("/api/v1/checkins/", {"family": family.pk, "channel": "phone",
                                                                     "occurred_at": future}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "occurred_at"
    assert CheckIn.objects.count() == before


def test_out_of_reach_reference_is_rejected_like_a_missing_one(world, client_for):
    outside = world.families["outside"]
    response = client_for("alice", "en").post("/api/v1/checkins/", {"family": outside.pk, "channel": "phone"},
                                              format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "family"
    assert not CheckIn.objects.filter(family=outside).exists()


def test_nobody_moves_a_family_out_of_reach_by_a_writable_field(world, client_for):
    client = client_for("alice", "en")
    created = client.post("/api/v1/families/", {"file_number": "X-1", "category": "bereaved",
                                                "region": world.regions["yx_village"].pk}, format="json")
    assert created.status_code == 400 and created.json()["errors"][0]["field"] == "region"
    family = world.families["own"]
    etag = client.get(f"/api/v1/families/{family.pk}/")["ETag"]
    response = client.patch(f"/api/v1/families/{family.pk}/", {"region": world.regions["yx_village"].pk,
                                                               "risk_level": "red", "address": "新地址"},
                            format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200
    family.refresh_from_db()
    assert (family.region_path, family.risk_level, family.address) == ("350623100201", "green", "新地址")


def test_update_needs_if_match_and_refuses_a_stale_one(world, client_for):
    family = world.families["own"]
    client = client_for("alice", "en")
    url = f"/api/v1/families/{family.pk}/"
    etag = client.get(url)["ETag"]
    assert etag == f'"{family.version}"'
    missing = client.patch(url, {"address": "A"}, format="json")
    assert missing.status_code == 428
    first = client.patch(url, {"address": "A"}, format="json", HTTP_IF_MATCH=etag)
    assert first.status_code == 200 and first["ETag"] != etag
    stale = client.patch(url, {"address": "B"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["errors"][0]["code"] == "precondition_failed"
    family.refresh_from_db()
    assert family.address == "A"


def test_update_without_version_field_uses_a_content_etag(world, client_for):
    from families.models import CareTask

    task = CareTask.objects.create(family=world.families["own"], description="visit", due_on=datetime.date(2026, 1, 1))
    client = client_for("alice", "en")
    url = f"/api/v1/care-tasks/{task.pk}/"
    etag = client.get(url)["ETag"]
    assert client.patch(url, {"status": "done"}, format="json", HTTP_IF_MATCH=etag).status_code == 200
    assert client.patch(url, {"status": "open"}, format="json", HTTP_IF_MATCH=etag).status_code == 412
    task.refresh_from_db()
    assert task.status == "done"


def test_idempotency_key_replays_the_first_answer_and_stores_one_checkin(world, client_for):
    family = world.families["own"]
    client = client_for("alice", "en")
    body = {"family": family.pk, "channel": "home_visit", "needs": "陪伴"}
    first = client.post("/api/v1/checkins/", body, format="json", HTTP_IDEMPOTENCY_KEY="visit-42")
    second = client.post("/api/v1/checkins/", body, format="json", HTTP_IDEMPOTENCY_KEY="visit-42")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert CheckIn.objects.filter(family=family).count() == 1
    other_body = client.post("/api/v1/checkins/", {**body, "needs": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="visit-42")
    assert other_body.status_code == 409
    # The key belongs to one user: another user's same key is a new request.
    manager = client_for("manager", "en").post("/api/v1/checkins/", body, format="json",
                                               HTTP_IDEMPOTENCY_KEY="visit-42")
    assert manager.status_code == 201
    assert CheckIn.objects.filter(family=family).count() == 2


def test_failed_request_does_not_keep_its_idempotency_key(world, client_for):
    client = client_for("alice", "en")
    bad = client.post("/api/v1/checkins/", {"family": world.families["own"].pk, "channel": "pigeon"}, format="json",
                      HTTP_IDEMPOTENCY_KEY="k1")
    assert bad.status_code == 400
    assert not IdempotencyRecord.objects.filter(key="k1").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_store_one_checkin(world):
    import threading

    from django.db import connection

    family, alice = world.families["own"], world.people["alice"]
    results = []
    barrier = threading.Barrier(2)

    def post():
        client = APIClient()
        client.force_authenticate(alice)
        barrier.wait()
        try:
            results.append(client.post("/api/v1/checkins/", {"family": family.pk, "channel": "phone"}, format="json",
                                       HTTP_IDEMPOTENCY_KEY="same").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert CheckIn.objects.filter(family=family).count() == 1
    assert sorted(results) in ([201, 201], [201, 409])


def test_personal_token_is_shown_once_stored_hashed_expires_and_revokes(world, client_for):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world.people["alice"])  # minting needs a session with a fresh second factor
    issued = client.post("/api/v1/tokens/", {"name": "phone", "expires_in_days": 30}, format="json")
    assert issued.status_code == 201
    raw = issued.json()["token"]
    token = ApiToken.objects.get(pk=issued.json()["id"])
    assert token.key_hash == hash_token(raw) and raw not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert "token" not in client.get("/api/v1/tokens/").json()["results"][0]

    bearer = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert bearer.get("/api/v1/users/me/").json()["username"] == "alice"
    assert bearer.get("/api/v1/families/").status_code == 200

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert bearer.get("/api/v1/users/me/").status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + datetime.timedelta(days=1))
    assert bearer.get("/api/v1/users/me/").status_code == 200

    assert client.delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    assert bearer.get("/api/v1/users/me/").status_code == 401
    token.refresh_from_db()
    assert token.revoked_at is not None
    # Someone else's token is not even visible.
    assert client_for("bob").delete(f"/api/v1/tokens/{token.pk}/").status_code == 404


def test_anonymous_gets_401_and_unknown_token_too(world):
    assert APIClient().get("/api/v1/families/").status_code == 401
    assert APIClient(HTTP_AUTHORIZATION="Bearer cmt_nope").get("/api/v1/families/").status_code == 401


def test_every_read_writes_one_audit_row(world, client_for):
    client = client_for("alice", "en")
    family = world.families["own"]
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0  # the trail is append-only
    client.get("/api/v1/families/")
    client.get("/api/v1/families/", {"q": "wang"})
    client.get(f"/api/v1/families/{family.pk}/", REMOTE_ADDR="10.0.0.7")
    client.get("/api/v1/family-members/", {"family": family.pk})
    rows = list(AuditEvent.objects.filter(id__gt=start).order_by("id"))
    assert [r.event for r in rows] == ["api.families.family.list", "api.families.family.search",
                                       "api.families.family.retrieve", "api.families.familymember.list"]
    assert all(r.actor_id == world.people["alice"].pk and r.actor_role == "social_worker" for r in rows)
    assert rows[0].object_ids == [family.pk]
    assert rows[1].after == {"query": {"q": "***"}}  # search terms may be ID numbers: never stored
    assert rows[2].family_id == family.pk and rows[2].ip == "10.0.0.7"
    assert rows[3].family_id == family.pk and len(rows[3].object_ids) == 2


def test_audit_trail_is_read_only_and_filterable_for_auditors(world, client_for):
    family = world.families["own"]
    client_for("alice").get(f"/api/v1/families/{family.pk}/")
    auditor = client_for("auditor", "en")
    response = auditor.get("/api/v1/audit-events/", {"family": family.pk, "event": "api.families",
                                                     "actor": world.people["alice"].pk})
    assert response.status_code == 200
    assert [row["event"] for row in response.json()["results"]] == ["api.families.family.retrieve"]
    row_id = response.json()["results"][0]["id"]
    for method in ("post", "put", "patch", "delete"):
        url = "/api/v1/audit-events/" if method == "post" else f"/api/v1/audit-events/{row_id}/"
        assert getattr(auditor, method)(url, {}, format="json").status_code == 405
    assert client_for("manager").get("/api/v1/audit-events/").status_code == 403


def test_coordinator_and_volunteer_never_receive_id_numbers_or_health(world, client_for):
    family = world.families["own"]
    members = list(family.members.all())
    members[0].health_conditions = "抑郁症"
    members[0].save()
    secrets_ = [m.id_number for m in members] + ["抑郁症", members[0].id_number[-4:] + '"']
    for role in ("coordinator", "volunteer"):
        client = client_for(role)
        texts = [client.get("/api/v1/families/").content.decode(),
                 client.get(f"/api/v1/families/{family.pk}/").content.decode(),
                 client.get("/api/v1/family-members/").content.decode()]
        for text in texts:
            assert not any(secret in text for secret in secrets_), (role, text)
        assert client.post(f"/api/v1/family-members/{members[0].pk}/reveal/",
                           {"names": ["id_number"], "reason": "x"}, format="json").status_code in (403,)


def test_sensitive_fields_are_masked_and_reveal_is_audited(world, client_for):
    member = world.families["own"].members.get(relation="mother")
    client = client_for("alice", "en")
    shown = client.get(f"/api/v1/family-members/{member.pk}/").json()
    assert shown["id_number"] == member.id_number[:6] + "********" + member.id_number[-4:]
    assert member.id_number not in json.dumps(shown)
    bad = client.post(f"/api/v1/family-members/{member.pk}/reveal/", {"names": ["name"], "reason": "x"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "names"
    revealed = client.post(f"/api/v1/family-members/{member.pk}/reveal/",
                           {"names": ["id_number", "phone"], "reason": "insurance claim form"}, format="json")
    assert revealed.status_code == 200
    assert revealed.json()["values"] == {"id_number": member.id_number, "phone": member.phone}
    event = AuditEvent.objects.get(event="families.familymember.revealed")
    assert event.reason == "insurance claim form" and event.after == {"fields": ["id_number", "phone"], "surface": "api"}
    assert event.region_path == member.family.region_path and event.family_id == member.family_id
    assert member.id_number not in json.dumps([event.before, event.after])


def test_throttling_per_user(world, client_for, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"user": "3/minute", "anon": "3/minute"}}
    client = client_for("alice")
    codes = [client.get("/api/v1/users/me/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client_for("bob").get("/api/v1/users/me/").status_code == 200


def test_request_size_limit(world, client_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client_for("alice", "en").post("/api/v1/checkins/", {"family": world.families["own"].pk,
                                                                     "channel": "phone", "needs": "x" * 2000},
                                              format="json")
    assert response.status_code == 413
    assert not CheckIn.objects.exists()


def test_users_me(world, client_for):
    data = client_for("alice").get("/api/v1/users/me/").json()
    assert data["role"] == "social_worker" and data["region"]["code"] == "350623000000"
    assert data["reach_path"] == "350623" and "families.add_checkin" in data["permissions"]


def test_regions_tree(world, client_for):
    client = client_for("alice")
    zhangpu = world.regions["zhangpu"]
    children = client.get(f"/api/v1/regions/{world.regions['suian'].pk}/children/").json()["results"]  # a page
    assert {r["code"] for r in children} == {"350623100201", "350623100202"}
    ancestors = client.get(f"/api/v1/regions/{world.regions['village'].pk}/ancestors/").json()
    assert [r["level"] for r in ancestors] == [1, 2, 3, 4, 5]
    listed = client.get("/api/v1/regions/", {"within": "350623100"}).json()["results"]
    assert {r["code"] for r in listed} == {"350623100000", "350623100201", "350623100202"}
    assert client.get(f"/api/v1/regions/{world.regions['yx_village'].pk}/").status_code == 404
    assert zhangpu.pk in {r["id"] for r in client.get("/api/v1/regions/").json()["results"]}


def test_family_status_is_not_writable_and_a_deleted_route_does_not_exist(world, client_for):
    family = world.families["own"]
    client = client_for("alice")
    assert client.delete(f"/api/v1/families/{family.pk}/").status_code == 405
    assert Family.objects.filter(pk=family.pk).exists()
