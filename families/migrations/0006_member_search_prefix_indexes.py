"""Indexes for the family search (``families.selectors.family_search``) at a million families.

The search matches the beginning of a member's name, pinyin or pinyin initials. Each of these gets
a ``varchar_pattern_ops`` index (``LIKE 'prefix%'`` can use it whatever the database's collation)
that also carries ``family_id``, so the matches are read from the index alone, not from ~3,000,000
member rows. A larger statistics sample on the three columns lets the planner tell a rare name
(a few rows) from common initials (thousands) instead of guessing 1% for every prefix.

Raw SQL, so that the model state stays as the models declare it and ``makemigrations --check`` stays clean, as in 0005. On a
large live table create the indexes by hand with CONCURRENTLY first; IF NOT EXISTS then leaves them.
"""
from django.db import migrations

COLUMNS = {"member_name_prefix": "name", "member_pinyin_prefix": "name_pinyin",
           "member_initials_prefix": "name_initials"}


def forwards(apps, schema_editor):
    for index, column in COLUMNS.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {index} ON families_familymember "
                              f"({column} varchar_pattern_ops) INCLUDE (family_id)")
        schema_editor.execute(f"ALTER TABLE families_familymember ALTER COLUMN {column} SET STATISTICS 1000")
    schema_editor.execute(f"ANALYZE families_familymember ({', '.join(COLUMNS.values())})")


def backwards(apps, schema_editor):
    for index, column in COLUMNS.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")
        schema_editor.execute(f"ALTER TABLE families_familymember ALTER COLUMN {column} SET STATISTICS -1")


class Migration(migrations.Migration):
    dependencies = [("families", "0005_caseload_family_covering_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
