"""The data migration that encrypts free text stored before its columns became encrypted: run by
Django's migration executor on rows of a real database, forwards and backwards."""
import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from casemgmt.core.crypto import decrypt
from families.models import CarePlan, CarePlanGoal, CheckIn, Family

SCHEMA = ("families", "0009_notes_and_reasons_as_encrypted_text")
DATA = importlib.import_module("families.migrations.0010_encrypt_stored_notes_and_reasons")

# Migrating backwards and forwards alters tables: the owner's work, never the application's.
pytestmark = pytest.mark.db_owner


def _raw(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _set_raw(table, column, pk, value):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])


@pytest.fixture
def stored(families, people):
    family = families["own"]
    checkin = CheckIn.objects.create(family=family, recorded_by=people["alice"], channel="phone")
    plan = CarePlan.objects.create(family=family, title="计划", owner=people["alice"])
    goal = CarePlanGoal.objects.create(plan=plan, description="x")
    # As a database from before the encryption holds them: plaintext in the columns.
    rows = [("families_family", "risk_reason", family.pk, "PHQ-9 得分 27"),
            ("families_family", "notes", family.pk, "老伴去世后拒绝出门"),
            ("families_checkin", "difficulties", checkin.pk, "失眠，常哭"),
            ("families_checkin", "follow_up", checkin.pk, "下周上门"),
            ("families_careplangoal", "description", goal.pk, "情绪稳定")]
    for row in rows:
        _set_raw(*row)
    return {"rows": rows, "family": family, "checkin": checkin, "goal": goal}


def test_the_executor_encrypts_plaintext_rows_and_reverses_it(stored):
    # The test database is migrated already: back to the schema step, then forwards again.
    MigrationExecutor(connection).migrate([SCHEMA])
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    for table, column, pk, plain in stored["rows"]:
        raw = _raw(table, column, pk)
        assert raw.startswith("enc:") and plain not in raw, column
        assert decrypt(raw) == plain
    # The application reads them back as they were written.
    assert Family.objects.get(pk=stored["family"].pk).risk_reason == "PHQ-9 得分 27"
    assert CheckIn.objects.get(pk=stored["checkin"].pk).difficulties == "失眠，常哭"
    assert CarePlanGoal.objects.get(pk=stored["goal"].pk).description == "情绪稳定"
    # Empty values stay empty, not an encrypted empty string.
    assert _raw("families_checkin", "needs", stored["checkin"].pk) == ""

    # Backwards: plaintext again, as the column types of before the schema step expect.
    MigrationExecutor(connection).migrate([SCHEMA])
    for table, column, pk, plain in stored["rows"]:
        assert _raw(table, column, pk) == plain
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert _raw("families_family", "risk_reason", stored["family"].pk).startswith("enc:")


def test_running_again_leaves_ciphertext_alone(stored):
    editor = SimpleNamespace(connection=connection)
    # The test database is migrated: the rows above are the only plaintext in it.
    DATA.encrypt_plaintext(django_apps, editor)
    first = {(t, c, pk): _raw(t, c, pk) for t, c, pk, _plain in stored["rows"]}
    DATA.encrypt_plaintext(django_apps, editor)
    assert {(t, c, pk): _raw(t, c, pk) for t, c, pk, _plain in stored["rows"]} == first
    DATA.decrypt_ciphertext(django_apps, editor)
    assert [_raw(t, c, pk) for t, c, pk, _plain in stored["rows"]] == [plain for *_key, plain in stored["rows"]]
