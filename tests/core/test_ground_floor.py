"""The ground floor imports nothing above it: no module of casemgmt.core, casemgmt.api or
casemgmt.security (migrations aside) imports a domain app, the reports, the workspace or the demo,
whether at the top of the module, inside a function, relatively, or by a dotted name given to
``import_module`` / ``import_string`` / ``apps.get_model``. What the apps above add to the policy
they declare from their own ``ready()``."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUND = ("casemgmt/core", "casemgmt/api", "casemgmt/security")
ABOVE = frozenset({"families", "volunteers", "services", "reports", "workspace", "demo"})
BY_NAME = frozenset({"import_module", "import_string", "get_model", "__import__"})


def ground_modules():
    for folder in GROUND:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                yield path


def module_name(path, root=ROOT):
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path, root=ROOT):
    """Every dotted name the module at ``path`` imports, relative imports resolved."""
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in BY_NAME and isinstance(node.args[0].value, str):
                yield node.args[0].value


def imports_above(path, root=ROOT):
    return sorted({name for name in imported_names(path, root) if name.split(".")[0] in ABOVE})


@pytest.mark.parametrize("path", list(ground_modules()), ids=module_name)
def test_ground_floor_module_imports_nothing_above_it(path):
    assert imports_above(path) == [], f"{module_name(path)} imports {imports_above(path)}"


def test_the_check_sees_every_way_of_importing(tmp_path):
    package = tmp_path / "casemgmt" / "core"
    package.mkdir(parents=True)
    module = package / "sample.py"
    module.write_text(
        "import os\n"
        "from . import reach\n"
        "from .. import api\n"
        "def later():\n"
        "    from families.models import Family\n"
        "    import volunteers.models\n"
        "    importlib.import_module('reports.aggregates')\n"
        "    apps.get_model('services.Fund')\n"
    )
    assert {"os", "casemgmt.core.reach", "casemgmt.api"} <= set(imported_names(module, tmp_path))
    assert imports_above(module, tmp_path) == ["families.models", "families.models.Family", "reports.aggregates",
                                               "services.Fund", "volunteers.models"]


def test_the_check_reads_every_ground_floor_package():
    names = {module_name(path) for path in ground_modules()}
    assert {"casemgmt.core.reach", "casemgmt.core.admin", "casemgmt.api.urls", "casemgmt.security.services",
            "casemgmt.security.api.views"} <= names
    assert not any(".migrations." in name for name in names)
