"""Smoke run of the benchmark harness on a few hundred families, so that CI keeps it working.

No timing is asserted (CI machines vary); the run must produce every figure beside its limit,
real answers from the real endpoints, a sweep that writes each reminder once, and the report."""
import datetime

import pytest
from django.core.management import call_command
from django.db import connection

from bench import run
from bench.dataset import check_blind_index_sql, dataset_amplify
from casemgmt.core.crypto import blind_index
from families.models import Family, FamilyMember

pytestmark = pytest.mark.django_db(transaction=True)
TODAY = datetime.date(2025, 6, 30)


@pytest.fixture
def dataset():
    call_command("seed_demo", families=150, today=TODAY, workers=1)
    dataset_amplify(families=300, log=lambda message: None)


def test_copies_get_distinct_realistic_blind_indexes(dataset):
    check_blind_index_sql()  # raises if pgcrypto's hmac() differs from crypto.blind_index
    assert Family.objects.count() == 300
    copy = FamilyMember.objects.filter(pk__gt=450).exclude(id_number_index="").order_by("pk").first()
    assert copy.id_number_index == blind_index(f"copy-{copy.pk}", "id_number")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT id_number_index) FROM families_familymember "
                       "WHERE id_number_index <> ''")
        total, distinct = cursor.fetchone()
    assert total == distinct > 400
    # The copy decrypts to the base person's value: the ciphertext is a real token.
    base = FamilyMember.objects.get(pk=copy.pk - 450)
    assert copy.id_number == base.id_number and copy.name == base.name


def test_run_writes_every_figure_beside_its_limit(dataset, tmp_path):
    out = tmp_path / "RESULTS.md"
    run.main(["run", "--requests", "3", "--import-rows", "20", "--out", str(out)])
    text = out.read_text()
    for heading in ("## Machine", "## Dataset", "## Web requests", "caseload list", "family detail", "search by name",
                    "search by pinyin initials", "search by exact ID number", "record a check-in",
                    "## Daily check-in sweep", "## Annual statistics", "province (Fujian)", "## 10,000-row Excel import"):
        assert heading in text, heading
    assert "PostgreSQL 15" in text or "PostgreSQL 1" in text
    assert "families.Family: 300" in text


def test_sweep_writes_each_reminder_once(dataset):
    result = run.sweep_benchmark(TODAY)
    assert result["real"]["created"] > 0
    assert result["rerun"]["created"] == 0
    assert result["rows"] == result["distinct_keys"] == result["real"]["created"]
    assert result["bare"]["created"] > 0


def test_two_celery_workers_share_the_sweep_once(dataset, tmp_path):
    single = run.sweep_once(TODAY)["created"]
    out = tmp_path / "RESULTS.md"
    out.write_text("")
    result = run.scaleout(TODAY, workers=2, out=str(out))
    assert result["rows"] == result["distinct_keys"] == single
    assert result["rows_after_second_sweep"] == result["distinct_after_second_sweep"] == single
    # Every county task ran on one of the two workers, and together they wrote each reminder once.
    assert sum(w["notifications"] for w in result["workers"]) == single
    assert sum(w["tasks"] for w in result["workers"]) >= 2 * 11
    assert all(w["tasks"] > 0 for w in result["workers"]), result["workers"]
    assert "## Scale-out" in out.read_text()
