"""A backup restores onto a fresh machine: the database and its keys together, encrypted fields read
back and ID-number lookups still match; a fresh machine's new keys against the restored data are refused."""
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from casemgmt.core import dbroles
from casemgmt.core.models import KeyFingerprint
from casemgmt.devdb import url_of
from tests.conftest import add_family

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)

READ_BACK = """
from casemgmt.core.crypto import blind_index
from families.models import FamilyMember
member = FamilyMember.objects.get(id_number_index=blind_index({id_number!r}, "id_number"))
print(member.name, member.id_number, member.phone, member.family.file_number)
"""


def _server(**name):
    """The owner's credentials when there are two roles: it creates databases; the fresh machine has one role."""
    s = settings.DATABASES[dbroles.OWNER] if dbroles.configured() else connection.settings_dict
    return {"host": s["HOST"] or "127.0.0.1", "port": s["PORT"] or 5432, "user": s["USER"] or "postgres",
            "password": s["PASSWORD"] or None, **name}


@pytest.fixture
def fresh_database():
    """An empty database of this test alone, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_restored_{secrets.token_hex(4)}"
    with psycopg.connect(**_server(dbname="postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(**_server(dbname="postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_machine(database, var_dir):
    """A process environment with nothing but a database URL and an empty VAR_DIR: no keys set."""
    s = _server()
    env = {k: v for k, v in os.environ.items()
           if k not in ("FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "SECRET_KEY", "DATABASE_OWNER_URL")}
    env.update(DATABASE_URL=url_of({"HOST": s["host"], "PORT": s["port"], "USER": s["user"],
                                    "PASSWORD": s["password"], "NAME": database}), VAR_DIR=str(var_dir),
               DEBUG="true", PYTHONPATH=str(ROOT))
    return env


def manage(env, *args):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_backup_restores_a_family_on_a_fresh_machine(regions, tmp_path, fresh_database):
    family = add_family(regions["village"], "ZP-0042", mother_seq=40, father_seq=41)
    mother = family.members.get(relation="mother")
    assert KeyFingerprint.objects.exists()  # written by migrate with the test's keys

    call_command("backup", str(tmp_path / "backup"))
    backup = tmp_path / "backup"
    manifest = json.loads((backup / "manifest.json").read_text())
    assert "never next to the dump" in manifest["warning"]
    assert settings.BLIND_INDEX_KEY not in (backup / "manifest.json").read_text()
    assert oct((backup / "keys.json").stat().st_mode & 0o777) == "0o600"

    machine = fresh_machine(fresh_database, tmp_path / "var")
    restored = manage(machine, "restore", str(backup))
    assert restored.returncode == 0, restored.stderr

    read = manage(machine, "shell", "-c", READ_BACK.format(id_number=mother.id_number))
    assert read.returncode == 0, read.stderr
    assert read.stdout.splitlines()[-1].split() == ["王秀英", mother.id_number, "13800000001", "ZP-0042"]
    assert manage(machine, "check").returncode == 0

    # Another fresh machine: settings generate new keys into its VAR_DIR, and nothing starts on them.
    stranger = fresh_machine(fresh_database, tmp_path / "other-var")
    refused = manage(stranger, "check")
    assert refused.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS lacks 1 of the key(s)" in refused.stderr
    assert "BLIND_INDEX_KEY is not the key" in refused.stderr
    assert "Backup and restore" in refused.stderr and "var/dev-secrets.json" in refused.stderr
    web = subprocess.run([sys.executable, "-c", "import casemgmt.wsgi"], cwd=ROOT, env=stranger,
                         capture_output=True, text=True, timeout=120)
    assert web.returncode != 0 and "FIELD_ENCRYPTION_KEYS lacks" in web.stderr
    # The stranger's keys never reached the data: the rightful machine still reads it.
    assert manage(machine, "shell", "-c", READ_BACK.format(id_number=mother.id_number)).returncode == 0


@pytest.mark.django_db(transaction=True, databases="__all__")  # restore reads as the owner, when there is one
def test_restore_refuses_a_database_that_is_not_empty(tmp_path):
    (tmp_path / "b").mkdir()
    call_command("backup", str(tmp_path / "b" / "x"))
    with pytest.raises(Exception, match="not empty"):
        call_command("restore", str(tmp_path / "b" / "x"))


def test_rotation_narrows_the_fingerprint_to_the_new_key(regions, settings):
    from cryptography.fernet import Fernet

    from casemgmt.core import keys

    add_family(regions["village"], "ZP-0043", mother_seq=42, father_seq=43)
    old = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old]
    keys.record_after_migrate()  # deploying the new key first: rows written now need it too
    assert len(KeyFingerprint.objects.get().encryption) == 2
    call_command("rotate_encryption_key", stdout=open(os.devnull, "w"))
    assert KeyFingerprint.objects.get().encryption == keys.current()[0][:1]
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key dropped
    assert keys.problems() == []
    settings.FIELD_ENCRYPTION_KEYS = old  # only the old key: what the rotated rows cannot be read with
    assert "FIELD_ENCRYPTION_KEYS lacks" in keys.problems()[0]
