"""The national-scale dataset: ``seed_demo`` itself, timed, then vacuumed.

Every family, member and check-in is generated believably by the demo generator (distinct people,
valid ID numbers, real Fernet ciphertext, a year of casework by the cadence rules); at a million
families it runs in bulk mode (parallel generators, one binary COPY stream, indexes and
constraints built once at the end, see ``demo.generator``). How long it took is reported
with the results, beside its target (under 15 minutes).
"""
import time

from django.core.management import call_command
from django.db import connection

from families import models as fm


def _sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def dataset_load(*, families, today, log=print):
    """Seconds ``seed_demo`` took to write ``families`` families, then VACUUM ANALYZE (visibility
    maps for index-only scans, fresh statistics) — the state a database reaches after a night."""
    started = time.monotonic()
    call_command("seed_demo", families=families, today=today, stdout=_Log(log))
    seconds = time.monotonic() - started
    connection.ensure_connection()
    old = connection.connection.autocommit
    connection.connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    finally:
        connection.connection.autocommit = old
    log(f"seed_demo {families} families: {seconds:.0f} s; vacuumed in {time.monotonic() - started - seconds:.0f} s")
    return seconds


class _Log:
    def __init__(self, log):
        self.log = log

    def write(self, message, *args, **kwargs):
        self.log(message.rstrip("\n"))

    def flush(self):
        pass


def dataset_sizes():
    """Row counts of the tables a reader of the results wants to see (exact counts)."""
    from services import models as sm
    from volunteers import models as vm

    models = [fm.Family, fm.FamilyMember, fm.CheckIn, fm.ContactAssignment, fm.AssistanceEnrollment, sm.InsurancePolicy,
              sm.InsuredPerson, sm.Activity, sm.ActivityAttendance, vm.Volunteer, vm.TrainingSession, vm.Enrollment]
    sizes = {}
    for model in models:
        (count,), = _sql(f"SELECT count(*) FROM {model._meta.db_table}")
        sizes[model._meta.label] = count
    (size,), = _sql("SELECT pg_size_pretty(pg_database_size(current_database()))")
    sizes["database size"] = size
    return sizes
