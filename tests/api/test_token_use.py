"""A token records its use to the hour, so a read by someone whose token was used minutes ago
writes nothing. Recorded to the minute, a thousand staff taking turns made nearly every read a
write as well (the benchmark's many-users phase, bench/README.md)."""
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from casemgmt.api.authentication import LAST_USED_PRECISION
from casemgmt.api.models import ApiToken
from tests.api.test_hot_paths import DETAIL_QUERIES


def _token(user):
    token, raw = ApiToken.issue(user=user, name="phone", expires_at=timezone.now() + datetime.timedelta(hours=2))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return token, client


def _read(client, family):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/api/v1/families/{family.pk}/")
    assert response.status_code == 200, response.content[:300]
    return [q["sql"] for q in ctx.captured_queries]


def _stamps(statements):
    return [sql for sql in statements if sql.startswith('UPDATE "api_apitoken"')]


def _used_ago(token, delta):
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - delta)


def test_a_token_records_its_first_use_then_once_an_hour(world):
    token, client = _token(world.people["alice"])
    family = world.families["own"]
    before = timezone.now()

    assert len(_stamps(_read(client, family))) == 1
    token.refresh_from_db()
    assert token.last_used_at >= before

    # Used minutes ago, as each of many staff taking turns: the read is its two statements, no write.
    _used_ago(token, datetime.timedelta(minutes=3))
    statements = _read(client, family)
    assert _stamps(statements) == []
    assert len(statements) == DETAIL_QUERIES

    _used_ago(token, LAST_USED_PRECISION - datetime.timedelta(minutes=1))
    assert _stamps(_read(client, family)) == []

    _used_ago(token, LAST_USED_PRECISION)
    before = timezone.now()
    assert len(_stamps(_read(client, family))) == 1
    token.refresh_from_db()
    assert token.last_used_at >= before


@pytest.mark.django_db(transaction=True)
def test_a_reads_stamp_is_its_own_transaction_and_leaves_the_connection_as_it_was(world):
    """Outside a transaction the stamp does not wait for the disk, and only the stamp: the setting
    is local to its own transaction, and the connection, kept for the next request, is back to on."""
    token, client = _token(world.people["alice"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]

    statements = _read(client, world.families["own"])

    assert "SET LOCAL synchronous_commit TO OFF" in statements
    assert len(_stamps(statements)) == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), current_setting('synchronous_commit')")
        assert cursor.fetchone() == (pid, "on")
    token.refresh_from_db()
    assert token.last_used_at is not None
