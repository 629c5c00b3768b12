"""The audit trail's append-only trigger is now declared on ``AuditEvent`` (django-pgtrigger, core
migration 0011): the one 0002 installed by hand goes."""
import importlib

from django.db import migrations


def _hand_installed():
    return importlib.import_module("casemgmt.security.migrations.0002_audit_append_only_trigger")


class Migration(migrations.Migration):
    dependencies = [
        ("security", "0006_enrolment_window"),
        ("core", "0011_audit_append_only_declared_triggers"),
    ]
    operations = [migrations.RunSQL(_hand_installed().PG_BACKWARD, _hand_installed().PG_FORWARD)]
