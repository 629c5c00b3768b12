"""The triggers that keep the report tallies exact on PostgreSQL (``reports.aggregates``)."""
from django.db import migrations


def install(apps, schema_editor):
    from reports import aggregates

    aggregates.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from reports import aggregates

    aggregates.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_report_tallies"),
        ("families", "0005_caseload_family_covering_index"),
        ("services", "0002_links_to_members_and_volunteers"),
        ("volunteers", "0002_label_blind_index_fields"),
        ("core", "0005_audit_actor_survives_user_deletion"),
    ]
    operations = [migrations.RunPython(install, uninstall)]
