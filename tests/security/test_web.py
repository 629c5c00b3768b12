"""Web hardening from the outside: the CSP header without inline scripts (admin and workspace work
under it), secure cookies and HSTS in production, page-size, throttle and upload limits."""
import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from families.models import Family

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)


def script_src(response):
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    return directives


@pytest.mark.parametrize("url", ["/admin/login/", "/login/", "/api/docs/"])
def test_csp_forbids_inline_scripts(client, db, url):
    response = client.get(url)
    assert response.status_code == 200
    directives = script_src(response)
    # The nonce appears only in responses that used it; inline scripts are never allowed.
    assert directives["script-src"].startswith("'self'") and "'unsafe-inline'" not in directives["script-src"]
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert not INLINE_SCRIPT.search(response.content.decode())


def test_admin_pages_carry_no_inline_script(client, people, families):
    client.force_login(people["root"])
    member = families["own"].members.first()
    for url in (reverse("admin:index"), reverse("admin:families_familymember_changelist"),
                reverse("admin:families_familymember_change", args=[member.pk]), reverse("admin:families_family_add")):
        response = client.get(url)
        assert response.status_code == 200
        assert not INLINE_SCRIPT.search(response.content.decode()), url


def test_production_settings_are_hardened(monkeypatch):
    import importlib

    import casemgmt.settings as base

    for name, value in {"DEBUG": "false", "SECRET_KEY": "x" * 60, "BLIND_INDEX_KEY": "y" * 40,
                        "FIELD_ENCRYPTION_KEYS": "kMfT0A1Po0m3Yw6yTsYbBqgkJ5qk3TQz9F0Jf1l2bLk="}.items():
        monkeypatch.setenv(name, value)
    production = importlib.reload(base)
    try:
        assert production.SESSION_COOKIE_SECURE and production.CSRF_COOKIE_SECURE and production.SESSION_COOKIE_HTTPONLY
        assert production.SECURE_HSTS_SECONDS >= 31536000 and production.SECURE_SSL_REDIRECT
    finally:
        monkeypatch.undo()
        importlib.reload(base)


def test_page_size_is_capped(client, people, regions):
    village = regions["village"]
    Family.objects.bulk_create([Family(file_number=f"B-{i:04d}", category="bereaved", region=village,
                                       region_path=village.path) for i in range(205)])
    client.force_login(people["manager"])
    response = client.get("/api/v1/families/", {"page_size": 100000})
    assert response.status_code == 200 and len(response.json()["results"]) == 200


def test_per_user_throttle(client, people, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"user": "3/minute", "anon": "3/minute"}}
    from rest_framework.settings import api_settings

    api_settings.reload()
    cache.clear()
    try:
        client.force_login(people["alice"])
        codes = [client.get("/api/v1/users/me/").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        other = client.__class__()
        other.force_login(people["bob"])
        assert other.get("/api/v1/users/me/").status_code == 200  # per user, not global
    finally:
        cache.clear()
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK}
        api_settings.reload()


def test_oversized_uploads_are_refused_before_reading(client, people, settings):
    settings.MAX_UPLOAD_SIZE = 64 * 1024
    client.force_login(people["manager"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    big = SimpleUploadedFile("big.xlsx", b"PK" + b"\0" * (128 * 1024))
    response = client.post(reverse("api:reports-import", args=["families"]), {"file": big})
    assert response.status_code == 413
    body = client.post("/api/v1/break-glass/", "x" * (2 * 1024 * 1024), content_type="application/json")
    assert body.status_code == 413
