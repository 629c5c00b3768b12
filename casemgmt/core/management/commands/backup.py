"""``manage.py backup <dir>``: the database (``pg_dump -Fc``) together with the keys it needs.

The encrypted columns and the ID-number and phone lookups are only readable with the key material
that was in use (FIELD_ENCRYPTION_KEYS, BLIND_INDEX_KEY): a dump without it restores into unreadable
data. The directory gets ``database.dump``, ``keys.json`` (the secrets, in the format of
``var/dev-secrets.json``) and ``manifest.json`` (checksums and key fingerprints, no secrets).
Store ``keys.json`` apart from the dump, somewhere at least as protected as the production secrets:
whoever holds both reads every family's record. docs/deploy.md, "Backup and restore".
"""
import datetime
import hashlib
import json
import os
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from casemgmt.core import dbroles, keys

WARNING = ("keys.json holds the encryption and blind-index keys in plaintext: move it out of this directory "
           "to storage of its own (a password manager, an offline medium, the secrets vault), never next to "
           "the dump. Without it the dump cannot be read; with it, anyone holding the dump can read everything.")


def libpq_env(settings_dict):
    """The connection as libpq's environment variables (the password never appears on a command line)."""
    values = {"PGHOST": settings_dict.get("HOST"), "PGPORT": settings_dict.get("PORT"),
              "PGUSER": settings_dict.get("USER"), "PGPASSWORD": settings_dict.get("PASSWORD"),
              "PGDATABASE": settings_dict.get("NAME")}
    return {**os.environ, **{k: str(v) for k, v in values.items() if v}}


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Command(BaseCommand):
    help = "Back up the PostgreSQL database and the key material it needs into a new directory."
    requires_system_checks = []  # a backup is also what one takes before fixing a misconfiguration

    def add_arguments(self, parser):
        parser.add_argument("directory", help="A directory that does not exist yet or is empty.")

    def handle(self, *args, directory, **options):
        alias = dbroles.OWNER if dbroles.configured() else "default"
        database = connections[alias].settings_dict
        target = Path(directory)
        if target.exists() and any(target.iterdir()):
            raise CommandError(f"{target} is not empty.")
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        with keys.unchecked():
            stored = keys.problems()
        if stored:
            raise CommandError("The configured keys do not fit this database; a backup with them could not be "
                               "restored. " + " ".join(stored))
        dump = target / "database.dump"
        result = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}"],
                                env=libpq_env(database), capture_output=True, text=True)
        if result.returncode:
            raise CommandError(f"pg_dump failed: {result.stderr.strip()}")
        key_file = target / "keys.json"
        key_file.touch(mode=0o600)
        key_file.write_text(json.dumps({
            "SECRET_KEY": settings.SECRET_KEY,
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "BLIND_INDEX_KEY": settings.BLIND_INDEX_KEY,
        }, indent=2))
        encryption, blind = keys.current()
        manifest = {
            "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "database": database["NAME"],
            "pg_dump": subprocess.run(["pg_dump", "--version"], capture_output=True, text=True).stdout.strip(),
            "files": {"database.dump": sha256(dump), "keys.json": sha256(key_file)},
            "key_fingerprints": {"encryption": encryption, "blind_index": blind},
            "warning": WARNING,
        }
        (target / "manifest.json").write_text(json.dumps(manifest, indent=2))
        self.stdout.write(f"Backed up {database['NAME']} to {target} (database.dump, keys.json, manifest.json).")
        self.stderr.write(self.style.WARNING(WARNING))
