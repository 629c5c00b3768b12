"""The README's quick start for real: ``make run`` starts its private PostgreSQL server (data under
VAR_DIR), migrates and seeds it, serves the admin with web + Celery worker + beat on the filesystem
broker, and Ctrl-C (SIGINT to the process group) stops all of them, the database server included;
a second ``make run`` finds the data the first one left."""
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 300  # the margin is for a loaded CI host
STOP_TIMEOUT = 20


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes():
    """{pid: (parent pid, command line)} of the live processes (zombies left out)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z":
                found[int(entry.name)] = (int(fields[1]), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError):
            continue
    return found


def descendants(root):
    """{pid: command line} of ``root`` and everything it started (honcho gives each its own session)."""
    table = processes()
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            tree[pid] = table[pid][1]
        todo.extend(child for child, (parent, _) in table.items() if parent == pid)
    return tree


def alive(pids):
    table = processes()
    return {pid: table[pid][1] for pid in pids if pid in table}


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def started(proc, log_path, port):
    """Wait until ``make run`` answers on ``port``."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        assert proc.poll() is None, f"make run exited early:\n{log_path.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no answer on :{port}:\n{log_path.read_text()[-3000:]}"
        try:
            if get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.5)


def postmaster(pgdata):
    """The running server's pid and its processes (the postmaster leaves the terminal's session, so
    it is no descendant of ``make``)."""
    pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    return pid, descendants(pid)


def make_run(tmp_path, env, name):
    log_path = tmp_path / f"{name}.log"
    proc = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, log_path


def ctrl_c(proc, known):
    """What Ctrl-C does (SIGINT to the terminal's foreground group); everything in ``known`` ends."""
    os.killpg(proc.pid, signal.SIGINT)
    watched = set(known) | set(descendants(proc.pid))
    deadline = time.monotonic() + STOP_TIMEOUT
    while alive(watched) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive(watched) == {}, f"still running {STOP_TIMEOUT} s after Ctrl-C"
    assert proc.wait(timeout=5) is not None


def stop_all(proc, pids):
    for pid in alive(set(descendants(proc.pid)) | set(pids)):
        os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=10)


def test_make_run_serves_the_admin_on_its_own_postgresql_and_ctrl_c_stops_everything(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "MAKEFLAGS", "MFLAGS")}
    env.update(VAR_DIR=str(tmp_path / "var"), DEMO_FAMILIES="20", PORT=str(port), DEBUG="true")
    pgdata = (tmp_path / "var" / "postgres").resolve()
    proc, log_path = make_run(tmp_path, env, "first")
    known = {}
    try:
        started(proc, log_path, port)
        status, body = get(f"http://127.0.0.1:{port}/admin/login/")
        assert status == 200 and "csrfmiddlewaretoken" in body
        # The worker and beat start alongside the web server.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            tree = descendants(proc.pid)
            running = " | ".join(tree.values())
            if "runserver" in running and "worker" in running and " beat" in running:
                break
            time.sleep(0.5)
        assert "runserver" in running and "celery -A casemgmt worker" in running and "celery -A casemgmt beat" in running, running
        output = log_path.read_text()
        assert "demo-admin" in output and "password for all" in output  # logins printed once
        server, server_processes = postmaster(pgdata)  # under VAR_DIR, not the repository's var/
        assert str(pgdata) in server_processes[server]
        known = {**tree, **server_processes}
        ctrl_c(proc, known)
        assert not (pgdata / "postmaster.pid").exists()  # shut down, not killed

        # Again, on the data the first run left: nothing to migrate, the same demo logins.
        proc, log_path = make_run(tmp_path, env, "second")
        started(proc, log_path, port)
        assert get(f"http://127.0.0.1:{port}/login/")[0] == 200
        assert "No migrations to apply." in log_path.read_text()
        server, server_processes = postmaster(pgdata)
        known = {**descendants(proc.pid), **server_processes}
        ctrl_c(proc, known)
    finally:
        stop_all(proc, known)
