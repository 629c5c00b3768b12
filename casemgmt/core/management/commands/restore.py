"""``manage.py restore <dir>``: a ``backup`` directory into an empty database and its keys into VAR_DIR.

The database named by DATABASE_URL (DATABASE_OWNER_URL's role restores, when set) must exist and be
empty. The keys go to ``VAR_DIR/dev-secrets.json``, where settings read them when the environment
does not set them (a key file already there is kept beside it as ``dev-secrets.json.replaced-<time>``);
a deployment that sets them in its environment must set them to ``keys.json``'s values instead.
"""
import datetime
import json
import os
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from casemgmt.core import dbroles

from .backup import libpq_env, sha256


class Command(BaseCommand):
    help = "Restore a backup directory (database.dump, keys.json) into an empty database and VAR_DIR."
    requires_system_checks = []  # the keys are what this command puts right

    def add_arguments(self, parser):
        parser.add_argument("directory")
        parser.add_argument("--keys", dest="key_path", help="keys.json, when it is kept apart from the dump (it should be).")

    def handle(self, *args, directory, key_path=None, **options):
        source = Path(directory)
        manifest = json.loads((source / "manifest.json").read_text())
        dump, key_file = source / "database.dump", Path(key_path) if key_path else source / "keys.json"
        if not key_file.exists():
            raise CommandError(f"No key file at {key_file}: the dump is unreadable without it (--keys PATH).")
        for path, name in ((dump, "database.dump"), (key_file, "keys.json")):
            if sha256(path) != manifest["files"][name]:
                raise CommandError(f"{path} is not the file this backup was made with (checksum differs).")
        secrets = json.loads(key_file.read_text())
        alias = dbroles.OWNER if dbroles.configured() else "default"
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            if cursor.fetchone()[0]:
                raise CommandError(f"Database {connection.settings_dict['NAME']} is not empty; restore into a new one.")
        connection.close()
        result = subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                                 "--single-transaction", f"--dbname={connection.settings_dict['NAME']}", str(dump)],
                                env=libpq_env(connection.settings_dict), capture_output=True, text=True)
        if result.returncode:
            raise CommandError(f"pg_restore failed: {result.stderr.strip()}")
        if dbroles.configured():
            with dbroles.default_as_owner():
                dbroles.grant_if_owner(connections["default"])
        self._install_keys(secrets)
        self.stdout.write(f"Restored {dump} into {connection.settings_dict['NAME']}.")

    def _install_keys(self, secrets):
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        path = settings.VAR_DIR / "dev-secrets.json"
        if path.exists() and json.loads(path.read_text()) != secrets:
            stamp = datetime.datetime.now().strftime("%Y%m%d%H%M%S")
            path.rename(path.with_name(f"dev-secrets.json.replaced-{stamp}"))
        path.touch(mode=0o600)
        path.write_text(json.dumps(secrets))
        self.stdout.write(f"Keys written to {path}.")
        configured = {"FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
                      "BLIND_INDEX_KEY": settings.BLIND_INDEX_KEY}
        from_env = [name for name in configured if os.environ.get(name)]
        if any(configured[name] != secrets[name] for name in from_env):
            self.stderr.write(self.style.ERROR(
                f"{', '.join(from_env)} come from the environment and differ from this backup's keys.json: set them "
                "to its values, or web and worker will refuse to start."))
