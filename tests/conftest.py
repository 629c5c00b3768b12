"""Shared fixtures: a small region tree of Zhangzhou and the three people every test needs —
the worker who owns the case (alice), a colleague in the same county (bob) and an outsider from
another county (carol) — plus one user per role."""
import datetime
import os
import secrets
import shutil
import socket
import subprocess
import time

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from casemgmt.core import dbroles
from casemgmt.core.idcard import make_id_number
from casemgmt.core.models import Region, Role, User
from families import services as family_services
from families.models import ContactAssignment, FamilyMember

PASSWORD = "correct-horse-battery-staple"


# ---- a database and a Redis of this run -------------------------------------------------------------
# Two runs at once (two `make test`, or helpers side by side) must not share the test database nor
# the broker the worker tests empty. The test database's name carries this run's token, and the run
# starts a redis-server of its own on a free port; only where none is installed does it fall back to
# CELERY_BROKER_URL, which must then not be db 0 (the development broker of .env.example).
RUN = f"{os.getpid()}_{secrets.token_hex(2)}"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_own_redis():
    if shutil.which("redis-server") is None:
        return None, None
    port = _free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"redis://127.0.0.1:{port}/1"
        time.sleep(0.02)
    process.kill()
    raise RuntimeError("redis-server did not start")


def _use_run_broker():
    process, url = _start_own_redis()
    if url is None:
        url = os.environ.get("CELERY_BROKER_URL", "")
        if url.startswith("redis") and url.rstrip("/").rsplit("/", 1)[-1] in ("0", "127.0.0.1:6379", "localhost:6379"):
            raise pytest.UsageError(f"CELERY_BROKER_URL={url} is Redis db 0, which the tests would empty: "
                                    "install redis-server (each run then starts its own) or name another db.")
        return None
    from casemgmt.celery import app as celery_app

    # Celery reads the variable before its configuration; worker processes inherit it.
    os.environ["CELERY_BROKER_URL"] = url
    settings.CELERY_BROKER_URL = url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = settings.BROKER_REDIS_OPTIONS
    celery_app.conf.broker_url = url
    celery_app.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    return process


_OWN_REDIS = _use_run_broker()


# ---- database roles (docs/deploy.md) ----------------------------------------------------------------
# With DATABASE_OWNER_URL set, the test database is created and migrated by the owner, as `migrate`
# does in a deployment, and the tests then run as DATABASE_URL's role: the application's, which owns
# nothing. Without it (one superuser role) everything stays on that one role.
_CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")
_APP = {key: settings.DATABASES[DEFAULT_DB_ALIAS].get(key) for key in _CREDENTIALS}
_OWNER = {key: settings.DATABASES[dbroles.OWNER].get(key) for key in _CREDENTIALS} if dbroles.configured() else _APP
# No process the tests start (Celery workers, `make run`) is given the owner's URL, as in a deployment;
# only a test run that a test starts (tests/test_parallel_runs.py) is, to make its own test database.
OWNER_URL = os.environ.pop("DATABASE_OWNER_URL", None)
_as_owner = {"now": False}  # inside a test marked db_owner


def _connect_default(credentials):
    connection = connections[DEFAULT_DB_ALIAS]
    if any(connection.settings_dict.get(key) != value for key, value in credentials.items()):
        connection.close()
        connection.settings_dict.update(credentials)


def pytest_unconfigure(config):
    if _OWN_REDIS is not None:
        _OWN_REDIS.kill()
        _OWN_REDIS.wait(10)


def pytest_configure(config):
    config.addinivalue_line("markers", "db_owner: runs as the schema's owner (bulk loads, triggers switched off or "
                                       "dropped): what only maintenance commands do, never web or worker")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    if item.get_closest_marker("db_owner") is not None:
        _as_owner["now"] = True
        _connect_default(_OWNER)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    try:
        return (yield)
    finally:
        if _as_owner["now"]:
            _as_owner["now"] = False
            _connect_default(_APP)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    database = settings.DATABASES[DEFAULT_DB_ALIAS]
    test = database.setdefault("TEST", {})
    test["NAME"] = f"{test.get('NAME') or 'test_' + database['NAME']}_{RUN}"
    _connect_default(_OWNER)


def _flush_as_owner(original):
    """Emptying the tables after a transactional test takes TRUNCATE, which the application's role
    may not: the owner does it, on a connection of its own."""
    import psycopg

    def execute_sql_flush(ops, sql_list):
        connection = ops.connection
        if connection.alias != DEFAULT_DB_ALIAS or connection.settings_dict["USER"] == _OWNER["USER"]:
            return original(ops, sql_list)
        with psycopg.connect(dbname=connection.settings_dict["NAME"], user=_OWNER["USER"],
                             password=_OWNER["PASSWORD"] or None, host=_OWNER["HOST"] or None,
                             port=_OWNER["PORT"] or None) as owner, owner.cursor() as cursor:
            cursor.execute("SET lock_timeout = '60s'")
            for sql in sql_list:
                cursor.execute(sql)

    return execute_sql_flush


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    if not dbroles.configured():
        yield
        return
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush
    DatabaseOperations.execute_sql_flush = _flush_as_owner(original)
    _connect_default(_OWNER if _as_owner["now"] else _APP)
    try:
        yield
    finally:
        DatabaseOperations.execute_sql_flush = original
        _connect_default(_OWNER)  # which drops the test database


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Production keeps Django's slow, strong hasher; tests create many users and need not pay for it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests sign in thousands of times from one address, some without a request (client.login);
    # the lockout itself is tried from the outside in tests/security.
    settings.AXES_ENABLED = False


@pytest.fixture(autouse=True)
def _force_login_with_second_factor(monkeypatch):
    """``client.force_login`` and ``client.login`` stand for a complete sign-in, second factor
    included: the session carries a TOTP device of the user and a fresh step-up mark, as the sign-in
    form leaves them (tests/security signs in through that form, with and without a code)."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    from casemgmt.security import stepup

    original_force_login, original_login = Client.force_login, Client.login

    def verified(client, user):
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
            user=user, name="test", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session[stepup.SESSION_KEY] = time.time()
        session.save()

    def force_login(self, user, backend=None):
        original_force_login(self, user, backend)
        verified(self, user)

    def login(self, **credentials):
        if not original_login(self, **credentials):
            return False
        verified(self, User.objects.get_by_natural_key(credentials["username"]))
        return True

    monkeypatch.setattr(Client, "force_login", force_login)
    monkeypatch.setattr(Client, "login", login)


def make_region(code, name, level, parent=None, urban_rural_code=""):
    full = f"{parent.full_name}{name}" if parent else name
    return Region.objects.create(
        code=code, name=name, level=level, parent=parent, full_name=full, urban_rural_code=urban_rural_code
    )


@pytest.fixture
def regions(db):
    L = Region.Level
    fujian = make_region("35", "福建省", L.PROVINCE)
    zhangzhou = make_region("3506", "漳州市", L.CITY, fujian)
    zhangpu = make_region("350623", "漳浦县", L.COUNTY, zhangzhou)
    yunxiao = make_region("350622", "云霄县", L.COUNTY, zhangzhou)
    suian = make_region("350623100", "绥安镇", L.TOWNSHIP, zhangpu)
    village = make_region("350623100201", "东门村", L.VILLAGE, suian, "220")
    village2 = make_region("350623100202", "西门村", L.VILLAGE, suian, "220")
    yx_town = make_region("350622100", "云陵镇", L.TOWNSHIP, yunxiao)
    yx_village = make_region("350622100201", "城关社区", L.VILLAGE, yx_town, "111")
    return {
        "fujian": fujian, "zhangzhou": zhangzhou, "zhangpu": zhangpu, "yunxiao": yunxiao, "suian": suian,
        "village": village, "village2": village2, "yx_town": yx_town, "yx_village": yx_village,
    }


def make_user(username, role, region, **extra):
    user = User.objects.create_user(
        username=username, password=PASSWORD, role=role, region=region, is_staff=role != Role.VOLUNTEER, **extra
    )
    return user


@pytest.fixture
def people(regions):
    """alice owns the case, bob is her colleague in the same county, carol works in another county."""
    return {
        "alice": make_user("alice", Role.SOCIAL_WORKER, regions["zhangpu"]),
        "bob": make_user("bob", Role.SOCIAL_WORKER, regions["zhangpu"]),
        "carol": make_user("carol", Role.SOCIAL_WORKER, regions["yunxiao"]),
        "manager": make_user("manager", Role.REGION_MANAGER, regions["zhangpu"]),
        "other_manager": make_user("other_manager", Role.REGION_MANAGER, regions["yunxiao"]),
        "city_admin": make_user("city_admin", Role.ADMIN, regions["zhangzhou"]),
        "contact": make_user("contact", Role.CONTACT_PERSON, regions["suian"]),
        "coordinator": make_user("coordinator", Role.VOLUNTEER_COORDINATOR, regions["zhangpu"]),
        "volunteer_user": make_user("volunteer_user", Role.VOLUNTEER, regions["zhangpu"]),
        "auditor": make_user("auditor", Role.AUDITOR, regions["zhangzhou"]),
        "root": User.objects.create_superuser(username="root", password=PASSWORD, role=Role.ADMIN),
    }


def add_family(region, number, actor=None, owner=None, mother_seq=2, father_seq=1):
    family = family_services.family_register(
        actor=actor, region=region, category="bereaved", file_number=number, address="测试路1号"
    )
    FamilyMember.objects.create(
        family=family, name="王秀英", relation="mother",
        id_number=make_id_number(region.code[:6], datetime.date(1968, 3, 5), mother_seq * 2), phone="13800000001",
    )
    FamilyMember.objects.create(
        family=family, name="李建国", relation="father",
        id_number=make_id_number(region.code[:6], datetime.date(1966, 7, 9), father_seq * 2 + 1),
    )
    if owner is not None:
        ContactAssignment.objects.create(family=family, user=owner, kind="social_worker")
    return family


@pytest.fixture
def families(regions, people):
    """One family in alice's caseload, one unassigned in the same county, one in the other county."""
    return {
        "own": add_family(regions["village"], "ZP-0001", owner=people["alice"], mother_seq=10, father_seq=11),
        "colleague": add_family(regions["village2"], "ZP-0002", owner=people["bob"], mother_seq=20, father_seq=21),
        "outside": add_family(regions["yx_village"], "YX-0001", owner=people["carol"], mother_seq=30, father_seq=31),
    }
