"""Default contact cadence: red weekly, orange fortnightly, yellow and green monthly, home visits quarterly."""
from django.db import migrations

DEFAULTS = {"red": (7, 90), "orange": (14, 90), "yellow": (30, 90), "green": (30, 90)}


def add_defaults(apps, schema_editor):
    CadenceRule = apps.get_model("families", "CadenceRule")
    for level, (contact, visit) in DEFAULTS.items():
        CadenceRule.objects.get_or_create(
            region=None, risk_level=level,
            defaults={"contact_interval_days": contact, "home_visit_interval_days": visit},
        )


def remove_defaults(apps, schema_editor):
    apps.get_model("families", "CadenceRule").objects.filter(region=None).delete()


class Migration(migrations.Migration):
    dependencies = [("families", "0002_checkin_cadence_rules")]
    operations = [migrations.RunPython(add_defaults, remove_defaults)]
