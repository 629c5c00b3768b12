"""The report tallies' triggers on regions (declared in ``reports.triggers``)."""
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0011_audit_append_only_declared_triggers'),
        ('reports', '0007_tally_helpers_triggers'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='region',
            trigger=pgtrigger.compiler.Trigger(name='tally_region_recoded', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD."path" IS DISTINCT FROM (NEW."path"))', func='PERFORM reports_tally_stale(); RETURN NULL;', hash='af186fbde1c96360f7aaef49825e10a32b9127b5', operation='UPDATE', pgid='pgtrigger_tally_region_recoded_f9199', table='core_region', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='region',
            trigger=pgtrigger.compiler.Trigger(name='tally_truncated', sql=pgtrigger.compiler.UpsertTriggerSql(func='PERFORM reports_tally_stale(); RETURN NULL;', hash='204d443c112a57300ada4991a7c563e552728aef', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_tally_truncated_a5c70', table='core_region', when='AFTER')),
        ),
    ]
