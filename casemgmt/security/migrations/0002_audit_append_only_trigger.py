"""The audit trail becomes append-only in the database itself: a trigger refuses every UPDATE of
``core_auditevent`` and every DELETE, except a DELETE of a row older than three years inside the
purge command's transaction (``SET LOCAL casemgmt.audit_purge = 'on'``). The trigger holds against
the table's owner too; the application's role has no UPDATE or DELETE on it at all
(``casemgmt.core.dbroles``). It is now declared on ``AuditEvent`` with django-pgtrigger, and
a later migration drops this one."""
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


class Migration(migrations.Migration):
    dependencies = [
        ("security", "0001_grants_messages_anonymisations"),
        ("core", "0001_regions_users_audit_notifications"),
    ]
    operations = [migrations.RunSQL(PG_FORWARD, PG_BACKWARD)]
