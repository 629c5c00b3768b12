"""Data migration: the triggers that keep the people-insured and participant tallies exact, and the
count of the rosters and attendance already there."""
from django.db import migrations

TABLES = ("services_insuredperson", "services_insurancepolicy", "services_activityattendance", "services_activity")


def build(apps, schema_editor):
    from reports import aggregates

    if not aggregates.installed(schema_editor.connection):
        return  # no tallies on SQLite: figures are counted from the records there
    with schema_editor.connection.cursor() as cursor:
        # The new tallies start empty: a fresh build, not drift of the others.
        cursor.execute("UPDATE reports_aggregatestate SET stale_since = now() WHERE stale_since IS NULL")
    aggregates.rebuild(using=schema_editor.connection)  # installs the functions and triggers as the code has them


def drop_triggers(apps, schema_editor):
    from reports import aggregates

    if not aggregates.installed(schema_editor.connection):
        return
    with schema_editor.connection.cursor() as cursor:
        for name, _event, table, *_rest in aggregates.TRIGGERS:
            if table in TABLES:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0005_insured_and_attendance_tallies"),
        ("services", "0002_links_to_members_and_volunteers"),
    ]
    operations = [migrations.RunPython(build, drop_triggers)]
