"""Migrations replay what they did: their code never calls into today's apps (a change to the app
would change history), so what a data migration writes is written in it literally."""
import ast
import importlib
from pathlib import Path

from django.apps import apps
from django.conf import settings

from casemgmt.core.beat import SCHEDULE

ROOT = Path(settings.BASE_DIR)
PROJECT = {"casemgmt", "families", "reports", "services", "volunteers", "workspace", "demo"}
BEAT_MIGRATIONS = [("casemgmt.core.migrations.0004_beat_schedule", "sync"),
                   ("reports.migrations.0004_nightly_rebuild_schedule", "create"),
                   ("casemgmt.core.migrations.0009_catch_up_beat_entry", "create")]


def _project_imports_in_functions(path):
    """Modules of the project (other than migrations) imported inside a function: what RunPython runs.
    At module level a migration names field classes, which Django requires to stay importable."""
    found = []
    for function in ast.walk(ast.parse(path.read_text())):
        if not isinstance(function, ast.FunctionDef):
            continue
        for node in ast.walk(function):
            modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [m for m in modules if m.split(".")[0] in PROJECT and ".migrations." not in m]
    return found


def test_no_migration_runs_the_apps_code():
    migrations = [p for p in ROOT.rglob("migrations/0*.py") if ".venv" not in p.parts]
    assert len(migrations) > 30
    assert {str(p.relative_to(ROOT)): _project_imports_in_functions(p) for p in migrations
            if _project_imports_in_functions(p)} == {}


def test_the_beat_migrations_write_the_schedule_the_code_declares(db):
    """Today's declaration and the rows the frozen migrations write are the same; a new entry in
    casemgmt.core.beat comes with a migration of its own (and its line here)."""
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.all().delete()
    for module, function in BEAT_MIGRATIONS:
        getattr(importlib.import_module(module), function)(apps, None)

    def crontab(spec):
        return {"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*",
                **spec["crontab"]}
    written = {task.name: (task.task, {f: getattr(task.crontab, f) for f in crontab({"crontab": {}})},
                           task.description, task.expire_seconds)
               for task in PeriodicTask.objects.select_related("crontab")}
    declared = {name: (spec["task"], crontab(spec), spec["description"], spec.get("expire_seconds"))
                for name, spec in SCHEDULE.items()}
    assert written == declared
