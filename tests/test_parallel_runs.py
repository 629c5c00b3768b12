"""Two test runs at once, with the same environment, both pass: each has a test database and a Redis
of its own (tests/conftest.py), so neither drops the other's database nor empties its broker."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import OWNER_URL

ROOT = Path(__file__).resolve().parents[1]
SUBSET = [
    # Empties its broker before and after, and runs a real worker against the test database.
    "tests/scheduling/test_worker.py::test_two_beats_at_once_deliver_each_reminder_once",
    "tests/core/test_encryption.py",
]

pytestmark = pytest.mark.worker


def test_two_runs_at_once_both_pass(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if OWNER_URL:  # a run creates its test database as the owner, as `make test` does
        env["DATABASE_OWNER_URL"] = OWNER_URL
    runs = [
        subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUBSET],
                         cwd=ROOT, env=env, stdout=(tmp_path / f"run{i}.log").open("w"), stderr=subprocess.STDOUT)
        for i in (1, 2)
    ]
    codes = [run.wait(600) for run in runs]
    logs = [(tmp_path / f"run{i}.log").read_text() for i in (1, 2)]
    assert codes == [0, 0], "\n\n".join(logs)
    assert all(" passed" in log for log in logs), "\n\n".join(logs)
