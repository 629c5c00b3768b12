"""Blind indexes keep one plain b-tree each (no pattern index: they are only compared for equality),
and check-ins lose the family index that checkin_family_time already leads.

Written by hand: for these AlterFields Django's schema editor would also drop the partial unique
index member_unique_id_number_living and re-validate the check-in foreign key over every row. Here
the existing b-trees are renamed and only the redundant indexes are dropped.
"""
import django.db.models.deletion
from django.db import migrations, models

OLD = {"id_number_index": "families_familymember_id_number_index_f5dde5d2",
       "phone_index": "families_familymember_phone_index_6ed9f7ab"}
NEW = {"id_number_index": "member_id_number_index", "phone_index": "member_phone_index"}
CHECKIN_FAMILY = "families_checkin_family_id_6404728b"


def forwards(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {CHECKIN_FAMILY}")
    for column, old in OLD.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {old}_like")
        schema_editor.execute(f"ALTER INDEX IF EXISTS {old} RENAME TO {NEW[column]}")
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {NEW[column]} ON families_familymember ({column})")


def backwards(apps, schema_editor):
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {CHECKIN_FAMILY} ON families_checkin (family_id)")
    for column, old in OLD.items():
        schema_editor.execute(f"ALTER INDEX IF EXISTS {NEW[column]} RENAME TO {old}")
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {old}_like ON families_familymember ({column} varchar_pattern_ops)")
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {old} ON families_familymember ({column})")


class Migration(migrations.Migration):

    dependencies = [
        ('families', '0006_member_search_prefix_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.AlterField(
                    model_name='checkin',
                    name='family',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name='checkins', to='families.family', verbose_name='family'),
                ),
                migrations.AlterField(
                    model_name='familymember',
                    name='id_number_index',
                    field=models.CharField(blank=True, editable=False, max_length=64, verbose_name='ID number index'),
                ),
                migrations.AlterField(
                    model_name='familymember',
                    name='phone_index',
                    field=models.CharField(blank=True, editable=False, max_length=64, verbose_name='phone index'),
                ),
                migrations.AddIndex(
                    model_name='familymember',
                    index=models.Index(fields=['id_number_index'], name='member_id_number_index'),
                ),
                migrations.AddIndex(
                    model_name='familymember',
                    index=models.Index(fields=['phone_index'], name='member_phone_index'),
                ),
            ],
        ),
    ]
