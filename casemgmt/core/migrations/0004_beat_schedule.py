"""Data migration: the periodic schedule declared in ``casemgmt.core.beat`` becomes editable rows."""
from django.db import migrations


def sync(apps, schema_editor):
    from casemgmt.core.beat import sync_beat_schedule

    sync_beat_schedule(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_notification_preferences_and_outbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
