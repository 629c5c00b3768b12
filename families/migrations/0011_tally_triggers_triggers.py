"""The report tallies' triggers on this app's tables (declared in ``reports.triggers``; they call the
helpers of the reports migration they depend on)."""
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0007_tally_helpers_triggers'),
        ('families', '0010_encrypt_stored_notes_and_reasons'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='checkin',
            trigger=pgtrigger.compiler.Trigger(name='tally_checkins_inserted', sql=pgtrigger.compiler.UpsertTriggerSql(declare='DECLARE zone text;', func='zone := reports_tally_zone();\nIF zone IS NOT NULL THEN\n    PERFORM reports_tally_checkins(array_agg(family_id), array_agg(occurred_at), array_agg(1), zone) FROM new_rows;\nEND IF;\nRETURN NULL;', hash='33aa1ec203e827b25e256499b347b54e86463b3a', level='STATEMENT', operation='INSERT', pgid='pgtrigger_tally_checkins_inserted_b0ed9', referencing='REFERENCING NEW TABLE AS new_rows ', table='families_checkin', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='checkin',
            trigger=pgtrigger.compiler.Trigger(name='tally_checkins_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(declare='DECLARE zone text;', func='zone := reports_tally_zone();\nIF zone IS NOT NULL THEN\n    PERFORM reports_tally_checkins(array_agg(family_id), array_agg(occurred_at), array_agg(-1), zone) FROM old_rows;\nEND IF;\nRETURN NULL;', hash='ae01e87b877b4031e95b22bf88bab064d1cd4423', level='STATEMENT', operation='DELETE', pgid='pgtrigger_tally_checkins_deleted_49961', referencing='REFERENCING OLD TABLE AS old_rows ', table='families_checkin', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='checkin',
            trigger=pgtrigger.compiler.Trigger(name='tally_checkins_updated', sql=pgtrigger.compiler.UpsertTriggerSql(declare='DECLARE zone text;', func='zone := reports_tally_zone();\nIF zone IS NOT NULL THEN\n    PERFORM reports_tally_checkins(array_agg(m.family_id), array_agg(m.occurred_at), array_agg(m.sign), zone)\n    FROM old_rows o JOIN new_rows n ON n.id = o.id\n    CROSS JOIN LATERAL (VALUES (o.family_id, o.occurred_at, -1), (n.family_id, n.occurred_at, 1))\n        AS m(family_id, occurred_at, sign)\n    WHERE (o.family_id, o.occurred_at) IS DISTINCT FROM (n.family_id, n.occurred_at);\nEND IF;\nRETURN NULL;', hash='e6729d060e4e1eb1b9446bfc96b6f589403d528d', level='STATEMENT', operation='UPDATE', pgid='pgtrigger_tally_checkins_updated_4b3cd', referencing='REFERENCING OLD TABLE AS old_rows  NEW TABLE AS new_rows ', table='families_checkin', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='checkin',
            trigger=pgtrigger.compiler.Trigger(name='tally_truncated', sql=pgtrigger.compiler.UpsertTriggerSql(func='PERFORM reports_tally_stale(); RETURN NULL;', hash='60078d7433b9df572f0f9e3beb17319f5efee4d8', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_tally_truncated_6356f', table='families_checkin', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='family',
            trigger=pgtrigger.compiler.Trigger(name='tally_families_inserted', sql=pgtrigger.compiler.UpsertTriggerSql(func='IF reports_tally_zone() IS NOT NULL THEN\n    PERFORM reports_tally_families(array_agg(region_path::text), array_agg(category::text),\n                                   array_agg(risk_level::text), array_agg(status::text), array_agg(1))\n    FROM new_rows;\nEND IF;\nRETURN NULL;', hash='6d6388c6195b02ec9b9348a68dbd3c3af7722ea1', level='STATEMENT', operation='INSERT', pgid='pgtrigger_tally_families_inserted_cf5c3', referencing='REFERENCING NEW TABLE AS new_rows ', table='families_family', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='family',
            trigger=pgtrigger.compiler.Trigger(name='tally_families_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func='IF reports_tally_zone() IS NOT NULL THEN\n    PERFORM reports_tally_families(array_agg(region_path::text), array_agg(category::text),\n                                   array_agg(risk_level::text), array_agg(status::text), array_agg(-1))\n    FROM old_rows;\nEND IF;\nRETURN NULL;', hash='65b2bfd7d984e851b6fad29333602fc45eba2a54', level='STATEMENT', operation='DELETE', pgid='pgtrigger_tally_families_deleted_41327', referencing='REFERENCING OLD TABLE AS old_rows ', table='families_family', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='family',
            trigger=pgtrigger.compiler.Trigger(name='tally_family_changed', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD."category" IS DISTINCT FROM (NEW."category") OR OLD."region_path" IS DISTINCT FROM (NEW."region_path") OR OLD."risk_level" IS DISTINCT FROM (NEW."risk_level") OR OLD."status" IS DISTINCT FROM (NEW."status"))', declare='DECLARE zone text;', func='zone := reports_tally_zone();\nIF zone IS NULL THEN\n    RETURN NULL;\nEND IF;\nPERFORM reports_tally_families(ARRAY[OLD.region_path::text, NEW.region_path::text],\n                               ARRAY[OLD.category::text, NEW.category::text],\n                               ARRAY[OLD.risk_level::text, NEW.risk_level::text],\n                               ARRAY[OLD.status::text, NEW.status::text], ARRAY[-1, 1]);\nIF (OLD.region_path, OLD.status) IS DISTINCT FROM (NEW.region_path, NEW.status) THEN\n    PERFORM reports_tally_family_contacts(ARRAY[OLD.id, NEW.id], ARRAY[OLD.region_path::text, NEW.region_path::text],\n                                          ARRAY[OLD.status::text, NEW.status::text], ARRAY[-1, 1], zone);\nEND IF;\nIF OLD.region_path IS DISTINCT FROM NEW.region_path THEN\n    PERFORM reports_move_family_records(ARRAY[NEW.id], ARRAY[OLD.region_path::text], ARRAY[NEW.region_path::text]);\nEND IF;\nRETURN NULL;', hash='e22008ef7773afbc08dcb9b4865e43d0601f864d', operation='UPDATE', pgid='pgtrigger_tally_family_changed_5acbe', table='families_family', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='family',
            trigger=pgtrigger.compiler.Trigger(name='tally_truncated', sql=pgtrigger.compiler.UpsertTriggerSql(func='PERFORM reports_tally_stale(); RETURN NULL;', hash='3f3033897fbb1d259081093bc02c690ae438e1cb', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_tally_truncated_66bb3', table='families_family', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='familymember',
            trigger=pgtrigger.compiler.Trigger(name='tally_member_moved', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD."family_id" IS DISTINCT FROM (NEW."family_id"))', declare='DECLARE old_path text; new_path text;', func='IF reports_tally_zone() IS NULL THEN\n    RETURN NULL;\nEND IF;\nSELECT region_path INTO old_path FROM families_family WHERE id = OLD.family_id;\nSELECT region_path INTO new_path FROM families_family WHERE id = NEW.family_id;\nIF old_path IS NULL OR new_path IS NULL THEN\n    PERFORM reports_tally_stale();\nELSIF old_path <> new_path THEN\n    PERFORM reports_move_member_records(ARRAY[NEW.id], ARRAY[old_path], ARRAY[new_path]);\nEND IF;\nRETURN NULL;', hash='7dd4ea96b214f1e809260a0a710f4f07a1bacaff', operation='UPDATE', pgid='pgtrigger_tally_member_moved_ac6eb', table='families_familymember', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='familymember',
            trigger=pgtrigger.compiler.Trigger(name='tally_truncated', sql=pgtrigger.compiler.UpsertTriggerSql(func='PERFORM reports_tally_stale(); RETURN NULL;', hash='3648a46072990c84ce6be41154d036d309d340a1', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_tally_truncated_72118', table='families_familymember', when='AFTER')),
        ),
    ]
