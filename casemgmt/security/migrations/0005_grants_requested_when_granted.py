"""Grants written before approval existed were all opened at once: each was requested when it was
granted, for the hours it ran."""
import math

from django.db import migrations


def forwards(apps, schema_editor):
    Grant = apps.get_model("security", "BreakGlassGrant")
    for grant in Grant.objects.filter(granted_at__isnull=False).only("granted_at", "expires_at").iterator():
        hours = math.ceil((grant.expires_at - grant.granted_at).total_seconds() / 3600)
        Grant.objects.filter(pk=grant.pk).update(requested_at=grant.granted_at, hours=min(max(hours, 1), 32767))


class Migration(migrations.Migration):
    dependencies = [("security", "0004_break_glass_approval")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
