"""demo_users: one login per role, caseloads for the caseload roles, development only."""
import datetime

import pytest
from django.core.management import CommandError, call_command

from casemgmt.core.models import Role, User
from demo.generator import seed_demo
from families.models import ContactAssignment
from volunteers.models import Volunteer

# seed_demo loads in bulk with the tallies' triggers off: the owner's work (docs/deploy.md).
pytestmark = [pytest.mark.django_db, pytest.mark.db_owner]


@pytest.fixture(autouse=True)
def _own_var_dir(settings, tmp_path):
    # The demo password is kept under VAR_DIR: a test must not replace the developer's.
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture
def demo(db):
    seed_demo(seed=1, families=40, today=datetime.date(2026, 5, 20))


def test_one_login_per_role_with_regions_and_caseloads(demo, settings, capsys):
    settings.DEBUG = True
    call_command("demo_users")
    out = capsys.readouterr().out
    users = User.objects.filter(username__in=[
        "demo-admin", "demo-manager", "demo-socialworker", "demo-contact", "demo-coordinator", "demo-volunteer",
        "demo-auditor"])
    assert sorted(users.values_list("role", flat=True)) == sorted(Role.values)
    password = out.split("password for all: ")[1].split()[0]
    for user in users:
        assert user.check_password(password) and user.username in out
        assert user.groups.filter(name=user.role).exists()
    by_name = {u.username: u for u in users}
    assert by_name["demo-admin"].region.code == "350600000000" and by_name["demo-auditor"].region.code == "350600000000"
    assert by_name["demo-manager"].region.level == 3 and by_name["demo-contact"].region.level == 4
    for name in ("demo-socialworker", "demo-contact"):
        assert ContactAssignment.objects.filter(user=by_name[name], ended_on__isnull=True).exists()
    assert Volunteer.objects.get(user=by_name["demo-volunteer"]).pairings.filter(ended_on__isnull=True).exists()
    assert User.objects.get(username="demo-superuser").is_superuser

    call_command("demo_users")  # idempotent: same users, same caseload size
    assert User.objects.filter(username__startswith="demo-", username__regex=r"^demo-[a-z]+$").count() == 8
    assert ContactAssignment.objects.filter(user=by_name["demo-socialworker"], ended_on__isnull=True).count() <= 25


def test_refuses_without_debug(demo, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_users")
    assert not User.objects.filter(username="demo-admin").exists()


def test_the_password_is_made_once_and_kept_under_var(demo, settings, capsys):
    settings.DEBUG = True
    call_command("demo_users")
    first = capsys.readouterr().out.split("password for all: ")[1].split()[0]
    kept = settings.VAR_DIR / "demo-password"
    assert kept.read_text().strip() == first and oct(kept.stat().st_mode & 0o777) == "0o600"
    call_command("demo_users")
    again = capsys.readouterr().out
    assert again.split("password for all: ")[1].split()[0] == first and str(kept) in again
    assert User.objects.get(username="demo-coordinator").check_password(first)

    kept.unlink()  # deleting the file is how to get a new one
    call_command("demo_users")
    fresh = capsys.readouterr().out.split("password for all: ")[1].split()[0]
    assert fresh != first and User.objects.get(username="demo-coordinator").check_password(fresh)
