"""Data migration: count the families and check-ins already there, so the tallies are exact from now on."""
from django.db import migrations


def build(apps, schema_editor):
    from reports import aggregates

    aggregates.rebuild(using=schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("reports", "0002_tally_triggers")]
    operations = [migrations.RunPython(build, migrations.RunPython.noop)]
