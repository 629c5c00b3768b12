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
            trigger=pgtrigger.compiler.Trigger(name='tally_volunteer_moved', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD."region_id" IS DISTINCT FROM (NEW."region_id"))', func="IF reports_tally_zone() IS NOT NULL THEN\nPERFORM reports_disbursements_apply(array_agg(k.month), array_agg(k.kind), array_agg(k.region_path),\n                                    array_agg(k.fund_path), array_agg(k.sign), array_agg(k.amount), bool_or(k.lost))\nFROM (SELECT *, -1 AS sign FROM (\nSELECT date_trunc('month', d.paid_on)::date AS month, d.kind::text AS kind,\n       coalesce(f.region_path, mf.region_path, vr.path, fr.path)::text AS region_path, fr.path::text AS fund_path,\n       d.amount, (d.family_id IS NOT NULL AND f.id IS NULL) OR (d.member_id IS NOT NULL AND mf.id IS NULL)\n                 OR (d.volunteer_id IS NOT NULL AND vr.id IS NULL) OR fr.id IS NULL AS lost\nFROM (SELECT * FROM services_disbursement WHERE volunteer_id = NEW.id) d\nLEFT JOIN families_family f ON f.id = d.family_id\nLEFT JOIN families_familymember m ON m.id = d.member_id\nLEFT JOIN families_family mf ON mf.id = m.family_id\nLEFT JOIN (SELECT * FROM volunteers_volunteer WHERE id <> OLD.id UNION ALL SELECT (OLD).*) v ON v.id = d.volunteer_id\nLEFT JOIN core_region vr ON vr.id = v.region_id\nLEFT JOIN services_fund fu ON fu.id = d.fund_id\nLEFT JOIN core_region fr ON fr.id = fu.region_id) AS g\n      UNION ALL\n      SELECT *, 1 FROM (\nSELECT date_trunc('month', d.paid_on)::date AS month, d.kind::text AS kind,\n       coalesce(f.region_path, mf.region_path, vr.path, fr.path)::text AS region_path, fr.path::text AS fund_path,\n       d.amount, (d.family_id IS NOT NULL AND f.id IS NULL) OR (d.member_id IS NOT NULL AND mf.id IS NULL)\n                 OR (d.volunteer_id IS NOT NULL AND vr.id IS NULL) OR fr.id IS NULL AS lost\nFROM (SELECT * FROM services_disbursement WHERE volunteer_id = NEW.id) d\nLEFT JOIN families_family f ON f.id = d.family_id\nLEFT JOIN families_familymember m ON m.id = d.member_id\nLEFT JOIN families_family mf ON mf.id = m.family_id\nLEFT JOIN volunteers_volunteer v ON v.id = d.volunteer_id\nLEFT JOIN core_region vr ON vr.id = v.region_id\nLEFT JOIN services_fund fu ON fu.id = d.fund_id\nLEFT JOIN core_region fr ON fr.id = fu.region_id) AS a) AS k;\nEND IF;\nRETURN NULL;", hash='34e9b12ef68aec6e85dc68f7d615066756399553', operation='UPDATE', pgid='pgtrigger_tally_volunteer_moved_9da18', table='volunteers_volunteer', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='volunteer',
            trigger=pgtrigger.compiler.Trigger(name='tally_truncated', sql=pgtrigger.compiler.UpsertTriggerSql(func='PERFORM reports_tally_stale(); RETURN NULL;', hash='3348ee875d028f942db64877024cf8d18ed0e998', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_tally_truncated_c4258', table='volunteers_volunteer', when='AFTER')),
        ),
    ]
