"""The audit trail's append-only trigger, declared on ``AuditEvent`` (``Meta.triggers``)."""
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0010_key_fingerprint'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='auditevent',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func='IF TG_OP = \'DELETE\' AND current_setting(\'casemgmt.audit_purge\', true) = \'on\'\n   AND OLD."at" < now() - interval \'3 years\' THEN\n    RETURN OLD;\nEND IF;\nRAISE EXCEPTION \'core_auditevent is append-only (% refused)\', TG_OP USING ERRCODE = \'insufficient_privilege\';', hash='ffeffe8036c46c6c592742c256415a363a0c6864', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_6d6e0', table='core_auditevent', when='BEFORE')),
        ),
    ]
