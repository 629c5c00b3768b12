"""A covering index for "the families of this contact's caseload".

``reach.restrict`` turns a caseload role's reach into ``family_id IN (SELECT family_id FROM
families_contactassignment WHERE user_id = %s AND ended_on IS NULL)``. With a million families a
township contact has ~20,000 of them, and PostgreSQL hashes that subquery on every request (even
for one family's detail page) — reading ~15,000 heap pages through ``assignment_caseload``
(user_id, ended_on): 48 ms of the 58 ms of a detail read (bench/README.md). With the family id in
a partial index of the open assignments the subquery is an index-only scan.

Raw SQL so that the model state stays as the models declare it (``makemigrations --check`` clean);
plain (not CONCURRENTLY) so that it runs inside the migration's transaction — on a large live
table create it by hand with CONCURRENTLY first, and this migration's IF NOT EXISTS leaves it alone.
"""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("families", "0004_label_blind_index_fields")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS assignment_open_caseload "
            "ON families_contactassignment (user_id, family_id) WHERE ended_on IS NULL",
            reverse_sql="DROP INDEX IF EXISTS assignment_open_caseload",
        ),
    ]
