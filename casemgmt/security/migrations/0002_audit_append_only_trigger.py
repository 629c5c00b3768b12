"""The audit trail becomes append-only in the database itself: a trigger refuses every UPDATE of
``core_auditevent`` and every DELETE, except a DELETE of a row older than three years inside the
purge command's transaction (``SET LOCAL casemgmt.audit_purge = 'on'`` on PostgreSQL, a row in
``security_auditpurgewindow`` on SQLite). The trigger holds against the table's owner too; the
application's role has no UPDATE or DELETE on it at all (``casemgmt.core.dbroles``)."""
from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION casemgmt_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('casemgmt.audit_purge', true) = 'on'
       AND OLD."at" < now() - interval '3 years' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'core_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent;
CREATE TRIGGER core_auditevent_append_only
    BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION casemgmt_audit_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent;
DROP FUNCTION IF EXISTS casemgmt_audit_append_only();
"""
SQLITE_FORWARD = [
    """CREATE TRIGGER IF NOT EXISTS core_auditevent_no_update BEFORE UPDATE ON core_auditevent
       BEGIN SELECT RAISE(ABORT, 'core_auditevent is append-only (UPDATE refused)'); END""",
    """CREATE TRIGGER IF NOT EXISTS core_auditevent_no_delete BEFORE DELETE ON core_auditevent
       WHEN NOT EXISTS (SELECT 1 FROM security_auditpurgewindow) OR OLD."at" >= datetime('now', '-3 years')
       BEGIN SELECT RAISE(ABORT, 'core_auditevent is append-only (DELETE refused)'); END""",
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS core_auditevent_no_update", "DROP TRIGGER IF EXISTS core_auditevent_no_delete"]


def _run(schema_editor, statements):
    # Without parameters, so that the driver leaves the "%" of RAISE alone.
    with schema_editor.connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def forward(apps, schema_editor):
    _run(schema_editor, [PG_FORWARD] if schema_editor.connection.vendor == "postgresql" else SQLITE_FORWARD)


def backward(apps, schema_editor):
    _run(schema_editor, [PG_BACKWARD] if schema_editor.connection.vendor == "postgresql" else SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("security", "0001_grants_messages_anonymisations"),
        ("core", "0001_regions_users_audit_notifications"),
    ]
    operations = [migrations.RunPython(forward, backward)]
