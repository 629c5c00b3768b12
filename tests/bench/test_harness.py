"""Smoke run of the benchmark harness on a few hundred families, so that CI keeps it working.

No timing is asserted (CI machines vary); the run must produce every figure beside its limit,
real answers from the real endpoints, a sweep that writes each reminder once, and the report."""
import datetime

import pytest

from bench import run

# The benchmark loads in bulk with the tallies' triggers off: the owner's work (docs/deploy.md).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.db_owner]
TODAY = datetime.date(2025, 6, 30)


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "LOAD_RECORD", tmp_path / "bench-load.json")
    run.main(["load", "--families", "300", "--today", TODAY.isoformat()])


def test_run_writes_every_figure_beside_its_limit(dataset, tmp_path):
    out = tmp_path / "RESULTS.md"
    run.main(["run", "--requests", "3", "--import-rows", "20", "--users", "12", "--clients", "3", "--out", str(out)])
    text = out.read_text()
    for heading in ("## Machine", "## Dataset", "## Web requests, one user", "caseload list", "family detail",
                    "search by name", "search by pinyin initials", "search by exact ID number", "record a check-in",
                    "Excel import of records",
                    "## Web requests, many users", "## Web requests, 3 concurrent clients",
                    "## Daily check-in sweep", "## Annual statistics", "province (Fujian)", "## 10,000-row Excel import"):
        assert heading in text, heading
    assert "PostgreSQL 15" in text or "PostgreSQL 1" in text
    assert "families.Family: 300" in text
    assert "written by `seed_demo --families 300` in" in text
    assert "a one-row write committed alone (p50 / p95 ms):" in text
    many = text.split("## Web requests, many users")[1].split("## Web requests, 3 concurrent")[0]
    concurrent = text.split("## Web requests, 3 concurrent clients")[1].split("## Daily")[0]
    for read in ("caseload list (page of 50", "family detail", "search by name", "search by exact ID number"):
        assert f"| {read}" in many and f"| {read}" in concurrent, read
    # Twelve caseload holders, each with a token of their own, and the managers of the searched townships.
    assert "| family detail | 12 | 12 |" in many


def test_the_many_users_phase_asks_as_many_staff_in_their_own_places(dataset):
    reads, tokens, info = run.many_users_requests(users=40)
    assert info["caseload holders"] == 40 and info["staff"] == len(tokens) == 40 + info["managers"]
    assert info["villages"] > 1 and info["townships"] > 1
    for read in ("caseload", "detail"):
        assert len({real[2] for real, _bare, _same in reads[read]}) == 40, read
    for kind in run.SEARCH_KINDS:
        assert len(reads[kind]) == 40 and len({real[2] for real, _bare, _same in reads[kind]}) == info["managers"]


def test_sweep_writes_each_reminder_once(dataset):
    result = run.sweep_benchmark(TODAY)
    assert result["real"]["created"] > 0
    assert result["rerun"]["created"] == 0
    assert result["rows"] == result["distinct_keys"] == result["real"]["created"]
    assert result["bare"]["created"] > 0


def test_two_celery_workers_share_the_sweep_once(dataset, tmp_path):
    run.bench_admin()  # as `bench run` does first: the sweep escalates to this national administrator too
    single = run.sweep_once(TODAY)["created"]
    out = tmp_path / "RESULTS.md"
    out.write_text("")
    result = run.scaleout(TODAY, workers=2, out=str(out))
    assert result["rows"] == result["distinct_keys"] == single
    assert result["rows_after_second_sweep"] == result["distinct_after_second_sweep"] == single
    # Every county ran once on one of the two workers (the second sweep found the day done in the
    # ledger), and together they wrote each reminder once.
    assert sum(w["notifications"] for w in result["workers"]) == single
    assert sum(w["tasks"] for w in result["workers"]) == 11
    assert all(w["tasks"] > 0 for w in result["workers"]), result["workers"]
    assert "## Scale-out" in out.read_text()
