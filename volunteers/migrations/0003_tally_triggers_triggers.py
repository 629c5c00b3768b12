"""The report tallies' triggers on this app's tables (declared in ``reports.triggers``; they call the
helpers of the reports migration they depend on)."""
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0007_tally_helpers_triggers'),
        ('volunteers', '0002_label_blind_index_fields'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='volunteer',
            trigger=pgtrigger.compiler.Trigger(name='tally_volunteer_moved', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD."region_id" IS DISTINCT FROM (NEW."region_id"))', func='IF reports_tally_zone() IS NOT NULL THEN\n    PERFORM reports_move_volunteer_records(ARRAY[NEW.id], ARRAY[(SELECT path::text FROM core_region WHERE id = OLD.region_id)],\n                     ARRAY[(SELECT path::text FROM core_region WHERE id = NEW.region_id)]);\nEND IF;\nRETURN NULL;', hash='4c006eb83d2d020eeba761c01e44e42d80d86aa7', operation='UPDATE', pgid='pgtrigger_tally_volunteer_moved_9da18', table='volunteers_volunteer', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='volunteer',
            trigger=pgtrigger.compiler.Trigger(name='tally_truncated', sql=pgtrigger.compiler.UpsertTriggerSql(func='PERFORM reports_tally_stale(); RETURN NULL;', hash='3348ee875d028f942db64877024cf8d18ed0e998', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_tally_truncated_c4258', table='volunteers_volunteer', when='AFTER')),
        ),
    ]
