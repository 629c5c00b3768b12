"""The national-scale dataset: the demo generator for a base, then set-based copies up to N families.

Why two steps: ``seed_demo`` writes every model believably (policies with rosters, activities,
volunteers, trainings, a year of casework) but on this 2-core machine it writes about 130 families
a second (20,000 in 152 s under load), so a million would take two hours. The base it writes is
copied in PostgreSQL with ``INSERT ... SELECT`` (one statement per copy and table, no Python per
row) into the bulk tables that grow with the number of families: families, members, contact
assignments, assistance enrolments and check-ins (every other one of them, to land near the
~10 million a year of the issue).

What a copy keeps and changes:
- ids are shifted by a fixed stride per copy; file numbers get their own ``ZC`` prefix;
- encrypted columns keep the base row's ciphertext (one real Fernet token, decryptable);
- blind indexes are recomputed: a distinct HMAC-SHA256 per person, computed in SQL with
  pgcrypto's ``hmac()``, which ``check_blind_index_sql`` proves equal to
  ``casemgmt.core.crypto.blind_index``. Copies hash a synthetic value (``copy-<member id>``),
  so an ID-number search for a base person finds exactly one family, as in production;
- staff assignments point at the same demo staff, so a contact's caseload grows with the copies
  (the caseload benchmark reads the hardest case, not an easy one).
"""
import time

from django.conf import settings
from django.db import connection

from casemgmt.core.crypto import blind_index
from families import models as fm

COPIED = [fm.Family, fm.FamilyMember, fm.ContactAssignment, fm.AssistanceEnrollment, fm.CheckIn]


def _sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def check_blind_index_sql():
    """pgcrypto's hmac() gives exactly ``blind_index`` (same key, same ``purpose:value`` message)."""
    _sql("CREATE EXTENSION IF NOT EXISTS pgcrypto")
    value = "350623195001010012"
    (digest,), = _sql("SELECT encode(hmac(%s, %s, 'sha256'), 'hex')",
                      [f"id_number:{value}", settings.BLIND_INDEX_KEY])
    assert digest == blind_index(value, "id_number"), "pgcrypto hmac() differs from crypto.blind_index"


def _columns(model):
    return [f.column for f in model._meta.concrete_fields]


def _copy_statement(model, k_param, strides, where=""):
    """INSERT ... SELECT one copy of the base rows of ``model`` with shifted keys."""
    table = model._meta.db_table
    replace = {"id": f"id + {k_param} * {strides[model]}"}
    if model is not fm.Family:
        replace["family_id"] = f"family_id + {k_param} * {strides[fm.Family]}"
    if model is fm.Family:
        replace["file_number"] = f"'ZC' || lpad((id + {k_param} * {strides[fm.Family]})::text, 8, '0')"
    if model is fm.FamilyMember:
        new_id = f"(id + {k_param} * {strides[fm.FamilyMember]})"
        replace["id_number_index"] = (
            f"CASE WHEN id_number_index = '' THEN '' ELSE "
            f"encode(hmac('id_number:copy-' || {new_id}, %(key)s, 'sha256'), 'hex') END")
        replace["phone_index"] = (
            f"CASE WHEN phone_index = '' THEN '' ELSE "
            f"encode(hmac('phone:copy-' || {new_id}, %(key)s, 'sha256'), 'hex') END")
    if model is fm.AssistanceEnrollment:
        replace["member_id"] = f"member_id + {k_param} * {strides[fm.FamilyMember]}"
    columns = _columns(model)
    select = ", ".join(replace.get(c, c) for c in columns)
    qn = connection.ops.quote_name
    return (f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) "
            f"SELECT {select} FROM {qn(table)} WHERE id <= {strides[model]} {where}")


def dataset_amplify(*, families, log=print):
    """Copy the base (the families already in the database) until there are ``families`` of them."""
    check_blind_index_sql()
    base = fm.Family.objects.count()
    (max_family,), = _sql("SELECT max(id) FROM families_family")
    if base != max_family:
        raise RuntimeError("The base must be a fresh seed_demo dataset (family ids 1..N, no copies yet).")
    if families % base:
        raise RuntimeError(f"--families must be a multiple of the base ({base}).")
    strides = {m: _sql(f"SELECT coalesce(max(id), 0) FROM {m._meta.db_table}")[0][0] for m in COPIED}
    copies = families // base - 1
    started = time.monotonic()
    for k in range(1, copies + 1):
        for model in COPIED:
            where = "AND id %% 2 = 0" if model is fm.CheckIn else ""
            statement = _copy_statement(model, "%(k)s", strides, where)
            with connection.cursor() as cursor:
                cursor.execute(statement, {"k": k, "key": settings.BLIND_INDEX_KEY})
        log(f"  copy {k}/{copies}: {(k + 1) * base} families, {time.monotonic() - started:.0f} s")
    for model in COPIED:
        table = model._meta.db_table
        _sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    connection.ensure_connection()
    with connection.cursor() as cursor:
        old = connection.connection.autocommit
        connection.connection.autocommit = True
        try:
            cursor.execute("VACUUM ANALYZE")
        finally:
            connection.connection.autocommit = old
    return time.monotonic() - started


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
