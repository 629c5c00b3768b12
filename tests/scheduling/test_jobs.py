"""The ledger of scheduled work: what is due and not done runs once, whoever asks for it and however
often; parallel runs count only what they created; the health check and the admin show it."""
import datetime
import threading

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from casemgmt.core import jobs
from casemgmt.core.models import JobRun, Notification
from casemgmt.devdb import libpq_params
from families import tasks as family_tasks
from families.models import CareTask
from families.reminders import sensitive_dates_sweep

CHECKIN = "families.checkin_sweep"


def local(day, hour, minute=0):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def _params():
    return libpq_params(connection.settings_dict)


def _waiting_on_locks():
    with psycopg.connect(**_params(), autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND wait_event_type = 'Lock'").fetchone()[0]


def wait_for(predicate, timeout=30.0):
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.django_db
def test_a_missed_tick_is_caught_up_once_per_county(overdue, schedule, sms, eager, settings,
                                                    django_capture_on_commit_callbacks):
    settings.NOTIFICATION_DIGEST_TIME = "00:00"
    schedule.only(CHECKIN, fired=timezone.now() - datetime.timedelta(hours=1))
    # Beat never published the tick (the broker was away): nothing ran, nothing is recorded.
    assert not JobRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.jobs_catch_up() == 2  # one run per county
    rows = {r.region_path: r for r in JobRun.objects.filter(job=CHECKIN)}
    assert set(rows) == {"350622", "350623"}
    assert all(r.outcome == "done" and r.attempts == 1 for r in rows.values())
    assert {path: r.counts["created"] for path, r in rows.items()} == {"350622": 1, "350623": 2}
    assert Notification.objects.filter(kind__startswith="checkin.").count() == 3
    assert len(sms) == 3
    # The next catch-up, the beat's own tick and a worker's start find it done.
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.jobs_catch_up() == 0
        assert jobs.jobs_catch_up(force=True) == 0
        assert family_tasks.checkin_sweep.apply().get() == 0
    assert Notification.objects.count() == 3 and len(sms) == 3


@pytest.mark.django_db
def test_what_is_due_follows_the_beat_rows(schedule):
    today = timezone.localdate()
    schedule.only(CHECKIN, fired=local(today, 7))
    assert [(j.name, p) for j, p, _at in jobs.due(local(today, 7, 5))] == [(CHECKIN, f"{today}")]
    # Before today's tick, yesterday's period is the one still due.
    assert [(j.name, p) for j, p, _at in jobs.due(local(today, 6, 0))] == [
        (CHECKIN, f"{today - datetime.timedelta(days=1)}")]
    # The monthly list on its declared crontab (the 1st, 08:00): caught up within two weeks, not later.
    first = today.replace(day=1)
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.filter(task="services.birthday_lists").update(enabled=True)
    assert ("services.birthday_lists", f"{first:%Y-%m}") in [(j.name, p) for j, p, _ in jobs.due(local(first, 9))]
    late = first + datetime.timedelta(days=20)
    assert "services.birthday_lists" not in [j.name for j, _p, _ in jobs.due(local(late, 9))]
    # An administrator who disables the entry stops the catch-up too.
    PeriodicTask.objects.filter(task=CHECKIN).update(enabled=False)
    assert CHECKIN not in [j.name for j, _p, _ in jobs.due(local(today, 7, 5))]


@pytest.mark.django_db(transaction=True)
def test_parallel_runs_of_one_period_create_once_and_count_what_they_created(overdue, schedule):
    """Three runners at once for each county (two catch-ups and a redelivered message): one does the
    work, the others find it taken or done; the ledger's counts are the rows created."""
    period = f"{timezone.localdate()}"
    lock = psycopg.connect(**_params(), autocommit=False)
    lock.execute("LOCK TABLE core_notification IN SHARE ROW EXCLUSIVE MODE")  # the first runner waits here
    results, errors = [], []

    def run(path):
        try:
            results.append((path, jobs.job_run(name=CHECKIN, period=period, region_path=path)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(path,)) for path in ("350622", "350623") for _ in range(3)]
    try:
        for t in threads:
            t.start()
        wait_for(lambda: _waiting_on_locks() >= 2)  # each county's runner holds its row, blocked mid-way
        wait_for(lambda: len(results) == 4)  # the other four skipped the rows held
    finally:
        lock.rollback()
        lock.close()
    for t in threads:
        t.join()
    assert not errors
    done = [(path, counts) for path, counts in results if counts is not None]
    assert sorted(done) == [("350622", {"created": 1}), ("350623", {"created": 2})]
    assert Notification.objects.filter(kind__startswith="checkin.").count() == 3
    ledger = JobRun.objects.filter(job=CHECKIN, period=period)
    assert sum(r.counts["created"] for r in ledger) == 3 and all(r.attempts == 1 for r in ledger)


@pytest.mark.django_db(transaction=True)
def test_parallel_sensitive_dates_sweeps_report_only_the_tasks_they_created(regions, people, families):
    today = datetime.date(2026, 9, 24)  # Mid-Autumn on 09-25: a festival visit for every open family
    lock = psycopg.connect(**_params(), autocommit=False)
    lock.execute("LOCK TABLE core_notification IN SHARE ROW EXCLUSIVE MODE")
    results = []

    def run():
        try:
            results.append(sensitive_dates_sweep(today=today, ahead_days=7))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    try:
        for t in threads:
            t.start()
        # The first holds its new tasks uncommitted; the other two wait on the same keys.
        wait_for(lambda: _waiting_on_locks() == 3)
    finally:
        lock.rollback()
        lock.close()
    for t in threads:
        t.join()
    created = CareTask.objects.filter(kind="festival").count()
    assert created == 3
    assert sorted(results) == [0, 0, created]


@pytest.mark.django_db
def test_health_check_turns_red_while_a_job_is_overdue(overdue, schedule, client, eager, sms):
    schedule.only(CHECKIN, fired=timezone.now() - datetime.timedelta(hours=1))
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["jobs"]["status"] == "overdue"
    assert [(o["job"], o["regions_not_done"]) for o in body["jobs"]["overdue"]] == [(CHECKIN, None)]
    jobs.jobs_catch_up()
    healthy = client.get("/healthz").json()
    assert healthy["status"] == "ok" and healthy["jobs"] == {"status": "ok", "overdue": []}
    # A county that failed keeps it red.
    JobRun.objects.filter(region_path="350622").update(outcome="failed", error="OperationalError: gone")
    late = client.get("/healthz").json()["jobs"]["overdue"]
    assert [(o["job"], o["regions_not_done"]) for o in late] == [(CHECKIN, 1)]


@pytest.mark.django_db
def test_the_ledger_is_readable_in_the_admin_and_not_editable(client, people):
    row = JobRun.objects.create(job=CHECKIN, period="2026-12-01", region_path="350623", due_at=timezone.now(),
                                outcome="done", counts={"created": 270})
    client.force_login(people["root"])
    page = client.get("/admin/core/jobrun/")
    assert page.status_code == 200 and "families.checkin_sweep" in page.content.decode()
    assert client.get("/admin/core/jobrun/add/").status_code == 403
    response = client.post(f"/admin/core/jobrun/{row.pk}/change/", {"outcome": "pending"})
    assert response.status_code == 403 or JobRun.objects.get(pk=row.pk).outcome == "done"
    assert JobRun.objects.get(pk=row.pk).outcome == "done"
