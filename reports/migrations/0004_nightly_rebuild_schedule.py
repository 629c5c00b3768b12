"""Data migration: the nightly rebuild of the report tallies joins the editable beat schedule."""
from django.db import migrations


def sync(apps, schema_editor):
    from casemgmt.core.beat import sync_beat_schedule

    sync_beat_schedule(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0003_build_tallies"),
        ("core", "0004_beat_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
