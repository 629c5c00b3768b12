"""The benchmark suite: ``python -m bench [load|run|sweep|scaleout]`` (see bench/README.md).

Every figure is taken side by side with its limit in the same run, interleaved request by request,
so a noisy machine moves both; the ratio is what the targets are about.
"""
import argparse
import datetime
import io
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import import_records  # noqa: E402
from bench.dataset import dataset_load, dataset_sizes  # noqa: E402
from casemgmt.api.models import ApiToken  # noqa: E402
from casemgmt.core.models import Region, Role, User  # noqa: E402
from casemgmt.devdb import url_of  # noqa: E402
from families.models import ContactAssignment, Family, FamilyMember  # noqa: E402

PYTHON = sys.executable
LOAD_RECORD = ROOT / "var" / "bench-load.json"  # how long `bench load` took, for the results
TARGET_P95_MS = 50


class Rollback(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------

def summary(samples):
    """Median, p95 and p99 of the times (ms), and the requests per second one client made of them
    (its requests back to back: n over their summed time)."""
    ordered = sorted(samples)

    def percentile(q):
        return ordered[max(0, min(len(ordered) - 1, int(round(q * len(ordered))) - 1))]
    return {"median": statistics.median(ordered), "p95": percentile(0.95), "p99": percentile(0.99), "n": len(ordered),
            "per_second": len(ordered) / (sum(ordered) / 1000) if sum(ordered) else 0.0}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env():
    """The environment of a child process, pointed at the database this process uses (the tests'
    database under pytest)."""
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": url_of(connection.settings_dict)}


class Server:
    """gunicorn on 127.0.0.1 with sync workers, the way production runs the web process."""

    def __init__(self, workers=2):
        self.port = _free_port()
        self.workers = workers
        self.process = None

    def __enter__(self):
        env = child_env()
        self.process = subprocess.Popen(
            [str(Path(PYTHON).parent / "gunicorn"), "casemgmt.wsgi:application", "-b", f"127.0.0.1:{self.port}",
             "-w", str(self.workers), "-k", "sync", "--log-level", "warning", "--timeout", "120"],
            cwd=ROOT, env=env, start_new_session=True)
        import requests

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=10).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def http_pair(session, real, bare, n, warmup=5, budget=90, least=20, same=None):
    """Interleave ``real()`` and ``bare()`` (each returns a requests.Response) ``n`` times, or fewer
    (but at least ``least``) when the pair has taken ``budget`` seconds: a slow endpoint is reported
    from fewer samples rather than stalling the run for an hour.

    ``same(real_json, bare_json)`` gives what both answers must agree on (the family ids of a page,
    in order): a limit that answered something else would be no limit. Checked on every request,
    outside the timed part.

    The two take turns going first: the first of a pair reads the request's rows into PostgreSQL's
    shared buffers (128 MB against a 16 GB database) and the second finds them there. With one user
    the rows stay there; with a thousand, whichever always went first would pay for both."""
    times = {"real": [], "bare": []}
    deadline = time.monotonic() + budget
    for i in range(n + warmup):
        if i >= warmup + least and time.monotonic() > deadline:
            break
        answers = {}
        pair = (("real", real), ("bare", bare))
        for side, call in pair if i % 2 == 0 else pair[::-1]:
            started = time.perf_counter()
            response = call(i)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code >= 400:
                raise RuntimeError(f"{side} answered {response.status_code}: {response.text[:300]}")
            if i >= warmup:
                times[side].append(elapsed)
            answers[side] = response
        if same is not None:
            real_says, bare_says = same(answers["real"].json(), answers["bare"].json())
            if real_says != bare_says:
                raise RuntimeError(f"request {i}: the limit answered {bare_says!r}, the endpoint {real_says!r}")
    return {side: summary(values) for side, values in times.items()}


# ---------------------------------------------------------------------------------------------
# Actors and samples
# ---------------------------------------------------------------------------------------------

def dataset_today():
    """The day the demo year ends on (seed_demo --today): the sweeps run as of that day."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT (max(occurred_at) AT TIME ZONE 'Asia/Shanghai')::date FROM families_checkin")
        return cursor.fetchone()[0]


def actors():
    """The busiest contact person (their caseload) and a city-wide region manager, each with a token."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT user_id, count(*) FROM families_contactassignment WHERE ended_on IS NULL "
                       "GROUP BY user_id ORDER BY 2 DESC LIMIT 1")
        contact_id, caseload = cursor.fetchone()
    contact = User.objects.get(pk=contact_id)
    city = Region.objects.get(code="350600000000")
    manager, _ = User.objects.update_or_create(
        username="bench-city-manager", defaults={"role": Role.REGION_MANAGER, "region": city, "is_staff": True})
    expires = timezone.now() + datetime.timedelta(hours=6)
    tokens = {}
    for user in (contact, manager):
        ApiToken.objects.filter(user=user, name="bench").delete()
        tokens[user.pk] = ApiToken.issue(user=user, name="bench", expires_at=expires)[1]
    return contact, caseload, manager, tokens


def bench_admin():
    """The national administrator the statistics and the import run as. Made before anything is
    measured: as an active administrator without a region it receives the sweep's top escalations
    (33,726 at a million families), and the first run's sweep wrote that many fewer than later ones."""
    admin, _ = User.objects.update_or_create(username="bench-admin", defaults={
        "role": Role.ADMIN, "is_staff": True, "is_superuser": True})
    return admin


def samples(contact, n, seed=8):
    """Families of the caseload, and names / initials / ID numbers of base people (decrypted)."""
    import random

    rng = random.Random(seed)
    family_ids = list(ContactAssignment.objects.filter(user=contact, ended_on__isnull=True)
                      .order_by("?").values_list("family_id", flat=True)[:n])
    people = list(FamilyMember.objects.filter(pk__lte=60000, is_deceased=False).exclude(id_number_index="")
                  .order_by("?")[:n])
    rng.shuffle(people)
    return family_ids, people


# ---------------------------------------------------------------------------------------------
# The web benchmarks
# ---------------------------------------------------------------------------------------------

# Families checked in by the benchmark whose next check-in is not their last one's day plus the
# interval of their cadence rule (the deepest region's for their risk level, else 30 days).
CHECKIN_DUE_WRONG = """SELECT count(*) FROM families_family f
    WHERE f.id = ANY(%s) AND f.last_checkin_at > now() - interval '1 hour'
    AND f.next_checkin_due <> (f.last_checkin_at AT TIME ZONE 'Asia/Shanghai')::date + coalesce((
        SELECT r.contact_interval_days FROM families_cadencerule r LEFT JOIN core_region g ON g.id = r.region_id
        WHERE r.risk_level = f.risk_level AND (r.region_id IS NULL OR f.region_path LIKE g.path || '%%')
        ORDER BY length(coalesce(g.path, '')) DESC LIMIT 1), 30)"""


# The hot reads, by the key each phase files them under, and how the results name them.
READS = {
    "caseload": "caseload list (page of 50, by next due date)",
    "deep": "caseload list, a deep page (keyset cursor)",
    "detail": "family detail",
    "name": "search by name",
    "initials": "search by pinyin initials",
    "id_number": "search by exact ID number",
}
SEARCH_KINDS = ("name", "initials", "id_number")
DEEPEST_PAGE = 21


def search_value(kind, person):
    return {"name": person.name, "initials": person.name_initials, "id_number": person.id_number}[kind]


def page_ids(real, bare):
    return [card["id"] for card in real["results"]], [card["id"] for card in bare]


def card_of(real, bare):
    def key(card):
        return card["id"], card["version"], card["next_checkin_due"], [m["id"] for m in card["members"]]
    return key(real), key(bare)


def web_benchmarks(n):
    import requests

    contact, caseload, manager, tokens = actors()
    family_ids, people = samples(contact, n + 10)
    city_path = manager.region.path
    results = {}
    # The check-in benchmark writes; what it changes is put back afterwards, so runs are repeatable.
    # A family's first contact also makes it active, with a status change row: both are put back too.
    snapshot = list(Family.objects.filter(pk__in=family_ids).values(
        "pk", "last_checkin_at", "next_checkin_due", "last_home_visit_at", "next_home_visit_due", "version", "status"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM families_checkin")
        (last_checkin,), = cursor.fetchall()
        cursor.execute("SELECT coalesce(max(id), 0) FROM families_familystatuschange")
        (last_status_change,), = cursor.fetchall()
    with Server(workers=2) as server, requests.Session() as session:
        def api(user, path, params=None, method="get", body=None):
            headers = {"Authorization": f"Bearer {tokens[user.pk]}", "Accept-Language": "en"}
            return session.request(method, server.url + path, params=params, json=body, headers=headers)

        def bare(path, params=None, method="get", body=None):
            return session.request(method, server.url + path, params=params, json=body)

        results[READS["caseload"]] = http_pair(
            session, lambda i: api(contact, "/api/v1/families/", {"ordering": "next_checkin_due,id"}),
            lambda i: bare("/bench/bare/caseload", {"user": contact.pk}), n, same=page_ids) | {"read": "caseload"}
        # A deep page (page 21 at a million families) reached by following `next`: it must cost what
        # page 1 costs. The bare limit asks for the rows after the previous page's last one.
        depth = min(DEEPEST_PAGE - 1, (caseload - 1) // 50)
        if depth:
            auth = {"Authorization": f"Bearer {tokens[contact.pk]}", "Accept-Language": "en"}
            url = api(contact, "/api/v1/families/", {"ordering": "next_checkin_due,id"}).json()["next"]
            for _ in range(depth - 1):
                url = session.get(url, headers=auth).json()["next"]
            with connection.cursor() as cursor:
                cursor.execute("SELECT next_checkin_due, id FROM families_family WHERE id IN (SELECT family_id FROM "
                               "families_contactassignment WHERE user_id = %s AND ended_on IS NULL) "
                               "ORDER BY next_checkin_due, id OFFSET %s LIMIT 1", [contact.pk, depth * 50 - 1])
                after_due, after_id = cursor.fetchone()
            results[f"caseload list, page {depth + 1} (keyset cursor)"] = http_pair(
                session, lambda i: session.get(url, headers=auth),
                lambda i: bare("/bench/bare/caseload", {"user": contact.pk, "after_due": after_due,
                                                        "after_id": after_id}), n, same=page_ids) | {"read": "deep"}
        results[READS["detail"]] = http_pair(
            session, lambda i: api(contact, f"/api/v1/families/{family_ids[i]}/"),
            lambda i: bare(f"/bench/bare/family/{family_ids[i]}"), n, same=card_of) | {"read": "detail"}
        for kind in SEARCH_KINDS:
            results[f"{READS[kind]} (city)"] = http_pair(
                session, lambda i, kind=kind: api(manager, "/api/v1/families/", {"q": search_value(kind, people[i])}),
                lambda i, kind=kind: bare("/bench/bare/search",
                                          {"kind": kind, "q": search_value(kind, people[i]), "path": city_path}), n,
                same=page_ids) | {"read": kind}
        # The reads (lists, a family's page, searches) have targets; the write is
        # measured against its limit with none.
        results["record a check-in"] = http_pair(
            session, lambda i: api(contact, "/api/v1/checkins/", method="post",
                                   body={"family": family_ids[i], "channel": "phone", "physical_state": "fair",
                                         "mental_state": "stable"}),
            lambda i: bare("/bench/bare/checkin", method="post", body={"family": family_ids[-1 - i], "user": contact.pk}),
            n) | {"targeted": False}
        # Both sides moved each family's next check-in by its cadence rule: the same answer.
        with connection.cursor() as cursor:
            cursor.execute(CHECKIN_DUE_WRONG, [family_ids])
            (wrong,), = cursor.fetchall()
        if wrong:
            raise RuntimeError(f"{wrong} families checked in have a next due date off their cadence rule")
    ApiToken.objects.filter(name="bench", user__in=[contact, manager]).delete()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM families_checkin WHERE id > %s", [last_checkin])
        cursor.execute("DELETE FROM families_familystatuschange WHERE id > %s", [last_status_change])
        for row in snapshot:
            Family.objects.filter(pk=row.pop("pk")).update(**row)
    return results, {"caseload size": caseload, "contact": contact.username, "manager region": manager.region.full_name,
                     **commit_probe()}


def commit_probe(n=200):
    """What a write costs a request on this machine by itself: one-row INSERTs, each committed on
    its own, waiting for the disk (as an audit row or any other write must) and not (as a token's
    last use is stamped, casemgmt.api.authentication). Reads that write an audit row pay the first."""
    times = {}
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (id bigserial PRIMARY KEY, at timestamptz)")
        for mode in ("on", "off"):
            cursor.execute(f"SET synchronous_commit TO {mode}")
            samples = []
            for _ in range(n):
                started = time.perf_counter()
                cursor.execute("INSERT INTO bench_commit_probe (at) VALUES (now())")
                samples.append((time.perf_counter() - started) * 1000)
            times[mode] = summary(samples)
        cursor.execute("RESET synchronous_commit")
        cursor.execute("DROP TABLE bench_commit_probe")
    return {"a one-row write committed alone (p50 / p95 ms)":
            f"{times['on']['median']:.2f} / {times['on']['p95']:.2f} waiting for the disk, "
            f"{times['off']['median']:.2f} / {times['off']['p95']:.2f} not (synchronous_commit off)"}


# ---------------------------------------------------------------------------------------------
# Many users, one client and several
# ---------------------------------------------------------------------------------------------

def caseload_holders(limit=None, seed=16):
    """Every active contact person and social worker with open assignments (each village's contact,
    each township's contact and social workers): ``[(user id, caseload size)]`` in a shuffled order,
    so that consecutive requests come from different places; ``limit``: a sample of that many."""
    import random

    with connection.cursor() as cursor:
        cursor.execute("SELECT a.user_id, count(*) FROM families_contactassignment a JOIN core_user u ON u.id = a.user_id "
                       "WHERE a.ended_on IS NULL AND u.is_active AND u.role IN (%s, %s) GROUP BY a.user_id "
                       "ORDER BY a.user_id", [Role.CONTACT_PERSON, Role.SOCIAL_WORKER])
        holders = cursor.fetchall()
    rng = random.Random(seed)
    rng.shuffle(holders)
    return holders[:limit] if limit else holders


def deep_cursor(due, family_id):
    """The keyset cursor of the page after the family ``family_id`` due on ``due`` (what ``next``
    links carry, ``casemgmt.api.pagination``): a deep page without following twenty links per user."""
    import base64

    raw = json.dumps({"k": ["next_checkin_due", "id"], "v": [due.isoformat(), family_id]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii")


def many_users_requests(users=None):
    """The hot reads, each request made by another staff member with a token of their own: per
    caseload holder the first page of their caseload, a deep page (page 21, or the deepest their
    caseload has) and a family of it; per searched person a search by the region manager of that
    person's township (``bench-manager-<path>``, made here). Returns ``({read: [(real, bare, same)]},
    tokens, info)``, a request being ``(path, params, user id or None)``."""
    import random

    from casemgmt.api.models import ApiToken

    holders = caseload_holders(users)
    ids = [user_id for user_id, _ in holders]
    sizes = dict(holders)
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT ON (user_id) user_id, family_id FROM families_contactassignment "
                       "WHERE ended_on IS NULL AND user_id = ANY(%s) ORDER BY user_id, md5(family_id::text)", [ids])
        family_of = dict(cursor.fetchall())
        cursors = {}
        for user_id in ids:
            depth = min(DEEPEST_PAGE - 1, (sizes[user_id] - 1) // 50)
            if depth:
                cursor.execute("SELECT next_checkin_due, id FROM families_family WHERE id IN (SELECT family_id FROM "
                               "families_contactassignment WHERE user_id = %s AND ended_on IS NULL) "
                               "ORDER BY next_checkin_due, id OFFSET %s LIMIT 1", [user_id, depth * 50 - 1])
                due, after = cursor.fetchone()
                if due is not None:
                    cursors[user_id] = (due, after)
    caseload = {"ordering": "next_checkin_due,id"}
    reads = {
        "caseload": [(("/api/v1/families/", caseload, u), ("/bench/bare/caseload", {"user": u}, None), page_ids)
                     for u in ids],
        "deep": [(("/api/v1/families/", {**caseload, "cursor": deep_cursor(*cursors[u])}, u),
                  ("/bench/bare/caseload", {"user": u, "after_due": cursors[u][0], "after_id": cursors[u][1]}, None),
                  page_ids) for u in ids if u in cursors],
        "detail": [((f"/api/v1/families/{family_of[u]}/", {}, u), (f"/bench/bare/family/{family_of[u]}", {}, None),
                    card_of) for u in ids],
    }
    # Searches: as many as there are caseload holders, each for a person of a family and made by
    # the manager of that family's township (a city-wide manager is the one-user phase's).
    people = list(FamilyMember.objects.filter(is_deceased=False).exclude(id_number_index="").select_related("family")
                  .order_by("?")[:len(ids)])
    random.Random(17).shuffle(people)
    townships = {r.path: r for r in Region.objects.filter(path__in={p.family.region_path[:9] for p in people},
                                                          level=Region.Level.TOWNSHIP)}
    managers = {}
    for path, township in townships.items():
        managers[path], _ = User.objects.update_or_create(
            username=f"bench-manager-{path}", defaults={"role": Role.REGION_MANAGER, "region": township,
                                                        "is_staff": True, "is_active": True})
    people = [p for p in people if p.family.region_path[:9] in managers]
    for kind in SEARCH_KINDS:
        reads[kind] = [(("/api/v1/families/", {"q": search_value(kind, p)}, managers[p.family.region_path[:9]].pk),
                        ("/bench/bare/search", {"kind": kind, "q": search_value(kind, p),
                                                "path": p.family.region_path[:9]}, None), page_ids) for p in people]
    expires = timezone.now() + datetime.timedelta(hours=6)
    staff = [*ids, *(m.pk for m in managers.values())]
    ApiToken.objects.filter(user__in=staff, name="bench").delete()
    tokens = {user.pk: ApiToken.issue(user=user, name="bench", expires_at=expires)[1]
              for user in User.objects.filter(pk__in=staff)}
    places = dict(Region.objects.filter(users__pk__in=staff).values("level").annotate(n=Count("id", distinct=True))
                  .values_list("level", "n"))
    ordered = sorted(sizes.values())
    info = {"staff": len(tokens), "caseload holders": len(ids), "managers": len(managers),
            "villages": places.get(Region.Level.VILLAGE, 0), "townships": places.get(Region.Level.TOWNSHIP, 0),
            "caseload sizes": f"{ordered[0]:,} / {statistics.median(ordered):,.0f} / {ordered[-1]:,} (min / median / max)"
            if ordered else "none"}
    return reads, tokens, info


def _send(session, url, request, tokens):
    path, params, user_id = request
    headers = {"Authorization": f"Bearer {tokens[user_id]}", "Accept-Language": "en"} if user_id else {}
    return session.get(url + path, params=params, headers=headers)


def concurrently(url, requests_, tokens, clients):
    """``requests_`` shared out to ``clients`` threads, each with a session of its own, as fast as
    the server answers: each request's time and the requests per second of them all."""
    import threading

    import requests

    times, failures, lock = [], [], threading.Lock()
    queue = iter(enumerate(requests_))

    def client():
        with requests.Session() as session:
            while True:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                started = time.perf_counter()
                response = _send(session, url, item[1], tokens)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    times.append(elapsed)
                    if response.status_code >= 400:
                        failures.append(f"{response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} concurrent requests failed, the first {failures[0]}")
    return summary(times) | {"per_second": len(times) / wall}


def many_users_benchmarks(users=None, clients=8):
    """The hot reads by many staff in their own villages and townships (``many_users_requests``):
    first one client (each request beside its limit, as in the one-user phase), then ``clients``
    clients at once (every real request, then every bare one, per read)."""
    import requests

    reads, tokens, info = many_users_requests(users=users)
    one_client, several = {}, {}
    with Server(workers=2) as server, requests.Session() as session:
        for read, triples in reads.items():
            if not triples:
                continue
            warmup = 5 if len(triples) >= 50 else 0

            def real(i, triples=triples):
                return _send(session, server.url, triples[i][0], tokens)

            def bare(i, triples=triples):
                return _send(session, server.url, triples[i][1], tokens)

            same = triples[0][2]
            one_client[read] = http_pair(session, real, bare, len(triples) - warmup, warmup=warmup, budget=900,
                                         same=same) | {"requests by": len({t[0][2] for t in triples})}
        for read, triples in reads.items():
            if triples:
                several[read] = {"real": concurrently(server.url, [t[0] for t in triples], tokens, clients),
                                 "bare": concurrently(server.url, [t[1] for t in triples], tokens, clients)}
    from casemgmt.api.models import ApiToken

    ApiToken.objects.filter(name="bench", user__in=list(tokens)).delete()
    return {"one client": one_client, "concurrent": several, "clients": clients, "info": info}


# ---------------------------------------------------------------------------------------------
# Batch work
# ---------------------------------------------------------------------------------------------

SWEEP_KINDS = "kind LIKE 'checkin.%%'"


def sweep_reset():
    """Forget the check-in reminders of earlier runs, so the sweep writes them all again, into
    tables vacuumed as a day's work finds them: deleting 450,000 rows at once is the benchmark's
    doing, not a day's, and left to autovacuum the next sweep would write among their dead rows and
    measure the benchmark's leftovers instead of a day's sweep."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_delivery WHERE notification_id IN "
                       f"(SELECT id FROM core_notification WHERE {SWEEP_KINDS})")
        cursor.execute(f"DELETE FROM core_notification WHERE {SWEEP_KINDS}")
        # And the ledger's record that the day was swept, which would turn the next run away.
        cursor.execute("DELETE FROM core_jobrun WHERE job = 'families.checkin_sweep'")
        if not connection.in_atomic_block:  # VACUUM runs outside a transaction only
            cursor.execute("VACUUM ANALYZE core_delivery, core_notification")


def sweep_count():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), count(DISTINCT dedup_key) FROM core_notification WHERE {SWEEP_KINDS}")
        return cursor.fetchone()


def sweep_once(day):
    """The whole daily check-in sweep in this process, county by county as the Celery tasks split it."""
    from families import reminders
    from families.tasks import county_partitions

    started = time.perf_counter()
    created = sum(reminders.checkin_sweep(today=day, region_path=path) for path in county_partitions())
    return {"seconds": time.perf_counter() - started, "created": created,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


BARE_SWEEP = """INSERT INTO core_notification (recipient_id, family_id, kind, level, title, body, link, dedup_key, created_at)
SELECT a.user_id, f.id, CASE WHEN f.next_checkin_due < %(day)s THEN 'checkin.overdue' ELSE 'checkin.due' END,
       'reminder', 'Check-in with family ' || f.file_number || ' is due on ' || f.next_checkin_due, '', '',
       'checkin:' || CASE WHEN f.next_checkin_due < %(day)s THEN 'overdue' ELSE 'due' END || ':' || f.id || ':'
       || f.next_checkin_due || ':' || a.user_id, now()
FROM families_contactassignment a JOIN families_family f ON f.id = a.family_id JOIN core_user u ON u.id = a.user_id
WHERE a.ended_on IS NULL AND u.is_active AND f.status IN ('registered', 'active')
  AND f.next_checkin_due <= %(day)s::date + 3
ON CONFLICT (dedup_key) DO NOTHING"""


def bare_sweep(day):
    """The contact reminders as one INSERT ... SELECT, rolled back (no escalations, no delivery plan)."""
    started = time.perf_counter()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(BARE_SWEEP, {"day": day})
            rows = cursor.rowcount
            raise Rollback
    except Rollback:
        pass
    return {"seconds": time.perf_counter() - started, "created": rows}


def sweep_benchmark(day):
    sweep_reset()
    out = subprocess.run([PYTHON, "-m", "bench", "sweep", "--day", day.isoformat()], cwd=ROOT, check=True,
                         capture_output=True, text=True, env=child_env())
    real = json.loads(out.stdout.strip().splitlines()[-1])
    total, distinct = sweep_count()
    again = json.loads(subprocess.run([PYTHON, "-m", "bench", "sweep", "--day", day.isoformat()], cwd=ROOT, check=True,
                                      capture_output=True, text=True, env=child_env()).stdout.strip().splitlines()[-1])
    sweep_reset()
    limit = bare_sweep(day)
    return {"real": real, "rerun": again, "bare": limit, "rows": total, "distinct_keys": distinct}


def statistics_benchmark(day, n=5):
    """The bulletin's figures (``statistics_compute``) and month/sub-region series (``trends_compute``)
    for the city and the province, beside two bare answers: the same totals from the report tallies
    (the limit of the tallied path) and counted from the records (why the tallies exist)."""
    from reports import aggregates
    from reports.statistics import Period, ReportScope, statistics_compute, trends_compute

    admin = bench_admin()
    year = day.year
    period = Period(datetime.date(year, 1, 1), datetime.date(year, 12, 31), str(year))
    tally_sql = """SELECT (SELECT sum(families) FROM reports_familytally WHERE region_path LIKE %(p)s),
        (SELECT sum(families) FROM reports_contacttally WHERE period = 'y' AND starts_on = %(y)s
         AND status = 'active' AND region_path LIKE %(p)s)"""
    records_sql = """SELECT (SELECT count(*) FROM families_family WHERE region_path LIKE %(p)s),
        (SELECT count(DISTINCT c.family_id) FROM families_checkin c JOIN families_family f ON f.id = c.family_id
         WHERE f.region_path LIKE %(p)s AND f.status = 'active' AND c.occurred_at >= %(s)s AND c.occurred_at < %(e)s)"""
    out = {}
    for label, code in (("city (Zhangzhou)", "350600000000"), ("province (Fujian)", "350000000000")):
        region = Region.objects.get(code=code)
        scope = ReportScope(user=admin, region=region, period=period)
        if aggregates.tallies(scope) is None:
            raise RuntimeError("The report tallies are stale or missing: run manage.py rebuild_aggregates first.")
        params = {"p": region.path + "%", "y": period.start, "s": period.start_at, "e": period.end_before}

        def bare(sql, params=params):
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                cursor.fetchall()
            return (time.perf_counter() - started) * 1000

        real, trends, tallied, counted = [], [], [], []
        for k in range(n):
            started = time.perf_counter()
            statistics_compute(scope)
            real.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            trends_compute(scope)
            trends.append((time.perf_counter() - started) * 1000)
            tallied.append(bare(tally_sql))
            if k < 2:  # seconds each: twice is enough to show the order of magnitude
                counted.append(bare(records_sql))
        out[label] = {"real": summary(real), "trends": summary(trends), "bare": summary(tallied),
                      "records": summary(counted)}
    return out


def import_benchmark(rows):
    """The 10,000-row workbook through ``families_import`` (check, then write), rolled back after."""
    from openpyxl import Workbook

    from bench.import_families import region_tree
    from casemgmt.core.idcard import make_id_number
    from reports.imports import FAMILY_COLUMNS, families_import

    def build(rows):
        # As bench/import_families.build, but the ID numbers carry a Fuzhou address code: the demo
        # people of Zhangpu (350623) would otherwise share a few of them, and the check refuses those.
        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append([str(c.heading) for c in FAMILY_COLUMNS])
        for i in range(rows):
            family = i // 2
            birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=family % 9000)
            sequence = (family // 9000) * 2 + i % 2 + 1 + 10 * (i % 2)
            sheet.append([f"BENCH-{family:05d}", "失独", "350623100201", f"东门村{family}号", f"王{i}",
                          "父亲" if i % 2 == 0 else "母亲", make_id_number("350102", birth, sequence), "13800000000", "否"])
        buffer = io.BytesIO()
        book.save(buffer)
        buffer.seek(0)
        return buffer

    actor = bench_admin()
    result = {}
    try:
        with transaction.atomic():
            region_tree()
            upload = build(rows)
            started = time.perf_counter()
            preview = families_import(actor=actor, upload=upload, commit=False)
            result["check_seconds"] = time.perf_counter() - started
            assert preview.ok, preview.problems[:5]
            upload.seek(0)
            started = time.perf_counter()
            done = families_import(actor=actor, upload=upload, commit=True)
            result["import_seconds"] = time.perf_counter() - started
            result["created"] = done.created
            raise Rollback
    except Rollback:
        pass
    # The limit: the same families and members written by one INSERT ... SELECT each.
    village = Region.objects.filter(level=Region.Level.VILLAGE).order_by("code").first()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute("""INSERT INTO families_family (created_at, updated_at, version, file_number, category,
                region_id, region_path, address, residence, status, status_reason, risk_level, risk_reason,
                registered_on, notes)
                SELECT now(), now(), 1, 'BARE' || g, 'bereaved', r.id, r.path, '', 'rural', 'registered', '',
                       'green', '', current_date, '' FROM generate_series(1, %s) g,
                       (SELECT id, path FROM core_region WHERE id = %s) r""", [rows // 2, village.pk])
            cursor.execute("""INSERT INTO families_familymember (created_at, updated_at, version, family_id, name,
                name_pinyin, name_initials, relation, sex, id_number, id_number_index, birthday_calendar, phone,
                phone_index, is_deceased, health_conditions, family_doctor, family_doctor_institution,
                disability_certificate_number)
                SELECT now(), now(), 1, f.id, '王' || g, 'wang' || g, 'w', 'father', 'M', 'enc:x',
                       md5(f.id::text || g), 'solar', '', '', false, '', '', '', ''
                FROM families_family f, generate_series(1, 2) g WHERE f.file_number LIKE 'BARE%%'""")
            result["bare_seconds"] = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    return result


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def machine():
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0]
        settings_rows = {}
        for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "effective_cache_size"):
            cursor.execute(f"SHOW {name}")
            settings_rows[name] = cursor.fetchone()[0]
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = "unknown"
    try:
        kb = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")))
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return {"CPU": cpu, "cores": os.cpu_count(), "memory": memory, "PostgreSQL": version.split(" on ")[0],
            "PostgreSQL settings": ", ".join(f"{k}={v}" for k, v in settings_rows.items()),
            "Python": platform.python_version(), "load average at start": " / ".join(
                f"{x:.1f}" for x in os.getloadavg())}


def _ms(x):
    return f"{x:.1f}"


def _timings(summary):
    return (f"{_ms(summary['median'])} | {_ms(summary['p95'])} | {_ms(summary.get('p99', summary['p95']))} | "
            f"{summary.get('per_second', 0):.0f}")


def _many_users_lines(many, web):
    """The many-users sections: one client (each read beside the one-user phase's), then several."""
    info = many["info"]
    one_user = {r["read"]: r for r in web.values() if r.get("read")}
    lines = ["", f"## Web requests, many users (gunicorn, 2 sync workers, one client; {info['staff']:,} staff: "
             f"{info['caseload holders']:,} caseload holders and {info['managers']:,} township managers, in "
             f"{info['villages']:,} villages and {info['townships']:,} townships)", "",
             f"Each request by the next staff member, with a token of their own; caseload sizes {info['caseload sizes']}. "
             "many / one: this phase's p95 ratio to its limit over the one-user phase's (the same read, each side "
             "beside the bare SQL of its own requests), target ≤ 1.2×.", "",
             "| request | n | users | p50 | p95 | p99 | req/s | bare p50 | bare p95 | bare p99 | bare req/s | p95 ratio | "
             "many / one | ≤ 1.2× |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for read, r in many["one client"].items():
        ratio = r["real"]["p95"] / r["bare"]["p95"]
        one = one_user.get(read)
        if one:
            versus = ratio / (one["real"]["p95"] / one["bare"]["p95"])
            compared = f"{versus:.2f}× | {'yes' if versus <= 1.2 else 'NO'}"
        else:
            compared = "— | not measured with one user"
        lines.append(f"| {READS[read]} | {r['real']['n']} | {r['requests by']:,} | {_timings(r['real'])} | "
                     f"{_timings(r['bare'])} | {ratio:.2f}× | {compared} |")
    lines += ["", f"## Web requests, {many['clients']} concurrent clients (the same many users and requests)", "",
              "Every real request of a read, then every bare one, shared out to the clients; req/s over the wall time.",
              "", "| request | n | p50 | p95 | p99 | req/s | bare p50 | bare p95 | bare p99 | bare req/s | p95 ratio |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for read, r in many["concurrent"].items():
        lines.append(f"| {READS[read]} | {r['real']['n']} | {_timings(r['real'])} | {_timings(r['bare'])} | "
                     f"{r['real']['p95'] / r['bare']['p95']:.2f}× |")
    return lines


def write_results(path, *, machine_info, sizes, web, web_info, sweep, stats, imported, started, notes, many=None):
    lines = [f"# Benchmark results ({started:%Y-%m-%d %H:%M} UTC)", "", "Written by `python -m bench run`; "
             "compare a later run with this one. Times in milliseconds unless marked.", "", "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in machine_info.items()]
    lines += ["", "## Dataset", ""] + [f"- {k}: {v:,}" if isinstance(v, int) else f"- {k}: {v}" for k, v in sizes.items()]
    lines += [f"- {k}: {v}" for k, v in web_info.items()]
    record = json.loads(LOAD_RECORD.read_text()) if LOAD_RECORD.exists() else {}
    if record.get("database") == connection.settings_dict["NAME"]:
        minutes = record["seconds"] / 60
        lines += [f"- written by `seed_demo --families {record['families']:,}` in {record['seconds']:,} s "
                  f"({minutes:.1f} min; target: < 15 min → {'yes' if minutes < 15 else 'NO'}), "
                  f"load average when it finished {' / '.join(f'{x:.1f}' for x in record['load'])}"]
    if web:
        lines += ["", "## Web requests, one user (gunicorn, 2 sync workers, one client; real endpoint vs bare SQL view)",
                  "", "| request | n | p50 | p95 | p99 | req/s | bare p50 | bare p95 | bare p99 | bare req/s | p95 ratio | "
                  f"p95 < {TARGET_P95_MS} ms and ≤ 2× |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for label, r in web.items():
            ratio = r["real"]["p95"] / r["bare"]["p95"]
            ok = r["real"]["p95"] < TARGET_P95_MS and ratio <= 2
            verdict = ("yes" if ok else "NO") if r.get("targeted", True) else "no target (a write)"
            lines.append(f"| {label} | {r['real']['n']} | {_timings(r['real'])} | {_timings(r['bare'])} | "
                         f"{ratio:.2f}× | {verdict} |")
    if many:
        lines += _many_users_lines(many, web)
    if sweep:
        real, bare = sweep["real"], sweep["bare"]
        lines += ["", "## Daily check-in sweep over every county (one process, as one worker does it)", "",
                  "| | seconds | notifications written | peak RSS (MB) |", "|---|---|---|---|",
                  f"| sweep (families.reminders.checkin_sweep per county) | {real['seconds']:.1f} | {real['created']:,} | "
                  f"{real['max_rss_mb']:.0f} |",
                  f"| rerun the same day (dedup keys) | {sweep['rerun']['seconds']:.1f} | {sweep['rerun']['created']:,} | "
                  f"{sweep['rerun']['max_rss_mb']:.0f} |",
                  f"| bare INSERT ... SELECT (contact reminders only) | {bare['seconds']:.1f} | {bare['created']:,} | |",
                  "", f"Rows after the two runs: {sweep['rows']:,}, distinct dedup keys: {sweep['distinct_keys']:,}. "
                  f"Target: < 60 s → {'yes' if real['seconds'] < 60 else 'NO'}."]
    if stats:
        lines += ["", "## Annual statistics (reports.statistics, from the report tallies kept by triggers)", "",
                  "| region | n | statistics median | p95 | trends median | p95 | bare median (tallies) | "
                  "statistics p95 < 1 s | counted from the records (median) |", "|---|---|---|---|---|---|---|---|---|"]
        for label, r in stats.items():
            lines.append(f"| {label} | {r['real']['n']} | {_ms(r['real']['median'])} | {_ms(r['real']['p95'])} | "
                         f"{_ms(r['trends']['median'])} | {_ms(r['trends']['p95'])} | {_ms(r['bare']['median'])} | "
                         f"{'yes' if r['real']['p95'] < 1000 else 'NO'} | {_ms(r['records']['median'])} |")
    if imported:
        lines += ["", "## 10,000-row Excel import (reports.imports.families_import)", "",
                  f"- check only: {imported['check_seconds']:.1f} s; check and write: {imported['import_seconds']:.1f} s "
                  f"({imported['created']} families); bare INSERT ... SELECT of as many rows: "
                  f"{imported['bare_seconds']:.2f} s. Target < 60 s → "
                  f"{'yes' if imported['import_seconds'] < 60 else 'NO'}."]
        if imported.get("records"):
            lines += import_records.report_lines(imported["records"])
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    Path(path).write_text("\n".join(lines) + "\n")


def bench_broker():
    """The benchmark's Redis, which it empties: BENCH_BROKER_URL, else CELERY_BROKER_URL (the test run's
    own server under pytest); never db 0, the development broker of .env.example."""
    url = os.environ.get("BENCH_BROKER_URL") or os.environ.get("CELERY_BROKER_URL") or ""
    if not url.startswith("redis") or redis_db(url) == 0:
        raise SystemExit(f"scaleout empties its Redis db: set BENCH_BROKER_URL to a Redis db of its own, "
                         f"not {url or 'nothing'} (db 0 is the development broker).")
    return url


def redis_db(url):
    import redis

    return redis.connection.parse_url(url).get("db", 0)


def scaleout(day, workers=2, broker=None, out=None):
    """Two real Celery workers on Redis share one sweep (one task per county); count what they wrote."""
    import re

    import redis

    broker = broker or bench_broker()
    from django_celery_beat.models import PeriodicTask

    sweep_reset()
    bench_admin()  # the same recipients as the sweep of `bench run`
    # The dataset is dated around its own day: a worker's start must not catch up the real today's jobs.
    PeriodicTask.objects.update(enabled=False)
    expected = None
    logs = [ROOT / "var" / f"bench-worker{i + 1}.log" for i in range(workers)]
    env = {**child_env(), "CELERY_BROKER_URL": broker, "DJANGO_SETTINGS_MODULE": "casemgmt.settings"}
    client = redis.Redis.from_url(broker)
    client.flushdb()  # the benchmark's own db (bench_broker)
    procs = []
    connection = None
    for i, log in enumerate(logs):
        log.parent.mkdir(exist_ok=True)
        log.unlink(missing_ok=True)
        procs.append(subprocess.Popen(
            [str(Path(PYTHON).parent / "celery"), "-A", "casemgmt", "worker", "-c", "1", "-n", f"bench{i + 1}@%h",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--logfile", str(log)],
            cwd=ROOT, env=env, start_new_session=True))
    try:
        from celery import current_app

        # Publish on an explicit connection: Celery prefers a CELERY_BROKER_URL variable (set by
        # make test and CI) to any broker_url set here, and would send the sweep elsewhere.
        connection = current_app.connection_for_write(broker)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(
                log.exists() and "ready." in log.read_text() for log in logs):
            time.sleep(0.5)
        started = time.perf_counter()
        current_app.send_task("families.checkin_sweep", kwargs={"day": day.isoformat()}, connection=connection)
        last, stable = -1, 0
        deadline = time.monotonic() + 600
        while stable < 4:
            if time.monotonic() > deadline:
                raise RuntimeError("the shared sweep did not settle within 10 minutes; see the worker logs")
            time.sleep(1)
            total, distinct = sweep_count()
            busy = client.llen("celery")
            stable = stable + 1 if (total == last and busy == 0) else 0
            last = total
        seconds = time.perf_counter() - started - 4
        total, distinct = sweep_count()
        # A second sweep of the same day, while both workers run: the dedup keys make it write nothing.
        current_app.send_task("families.checkin_sweep", kwargs={"day": day.isoformat()}, connection=connection)
        time.sleep(3)
        stable = 0
        deadline = time.monotonic() + 600
        while stable < 4:
            if time.monotonic() > deadline:
                raise RuntimeError("the second sweep did not settle within 10 minutes; see the worker logs")
            time.sleep(1)
            again, _ = sweep_count()
            stable = stable + 1 if (again == total and client.llen("celery") == 0) else 0
        again, again_distinct = sweep_count()
    finally:
        if connection is not None:
            connection.release()
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
    pattern = re.compile(r"Scheduled job families\.checkin_sweep \S+ \S+ done: \{'created': (\d+)\}")
    per_worker = []
    for log in logs:
        found = [int(n) for n in pattern.findall(log.read_text())]
        per_worker.append({"tasks": len(found), "notifications": sum(found)})
    result = {"seconds": seconds, "rows": total, "distinct_keys": distinct, "rows_after_second_sweep": again,
              "distinct_after_second_sweep": again_distinct, "workers": per_worker, "expected": expected}
    sweep_reset()
    if out:
        lines = ["", f"## Scale-out: one sweep shared by {workers} Celery workers on Redis ({broker})", "",
                 "| worker | county tasks | notifications written |", "|---|---|---|"]
        lines += [f"| bench{i + 1} | {w['tasks']} (the second sweep finds the day done) | {w['notifications']:,} |"
                  for i, w in enumerate(per_worker)]
        lines += ["", f"Sweep finished in about {seconds:.0f} s; rows {total:,} = distinct dedup keys {distinct:,}; "
                  f"after a second sweep of the same day: rows {again:,}, distinct keys {again_distinct:,}."]
        with open(out, "a") as handle:
            handle.write("\n".join(lines) + "\n")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    load = sub.add_parser("load", help="generate the dataset with seed_demo (skipped when families exist)")
    load.add_argument("--families", type=int, default=1_000_000)
    load.add_argument("--today", default="2025-06-30")
    run = sub.add_parser("run", help="run the benchmarks and write the results")
    run.add_argument("--requests", type=int, default=200)
    run.add_argument("--import-rows", type=int, default=10_000)
    run.add_argument("--skip", nargs="*", default=[], choices=["web", "many", "sweep", "stats", "import"])
    run.add_argument("--users", type=int, default=None,
                     help="caseload holders in the many-users phase (default: every one of them)")
    run.add_argument("--clients", type=int, default=8, help="concurrent clients of the many-users phase")
    run.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    run.add_argument("--note", action="append", default=[])
    run.add_argument("--reuse", default="", help="JSON file keeping finished phases; a rerun skips them")
    sweep = sub.add_parser("sweep", help="(internal) one sweep in a fresh process, printing JSON")
    sweep.add_argument("--day", required=True)
    scale = sub.add_parser("scaleout", help="two Celery workers on Redis share one sweep")
    scale.add_argument("--workers", type=int, default=2)
    scale.add_argument("--broker", default=None, help="a Redis db it may empty (default BENCH_BROKER_URL)")
    scale.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    args = parser.parse_args(argv)

    if args.command == "load":
        if not Family.objects.exists():
            seconds = dataset_load(families=args.families, today=datetime.date.fromisoformat(args.today),
                                   log=lambda m: print(m, flush=True))
            LOAD_RECORD.parent.mkdir(exist_ok=True)
            LOAD_RECORD.write_text(json.dumps({"database": connection.settings_dict["NAME"], "families": args.families,
                                               "seconds": round(seconds), "load": os.getloadavg()}))
        print(json.dumps(dataset_sizes()))
    elif args.command == "scaleout":
        print(json.dumps(scaleout(dataset_today(), args.workers, args.broker, args.out), indent=1))
    elif args.command == "sweep":
        print(json.dumps(sweep_once(datetime.date.fromisoformat(args.day))))
    else:
        args = args if args.command == "run" else run.parse_args([])
        started = datetime.datetime.now(datetime.UTC)
        info = machine()
        sizes = dataset_sizes()
        day = dataset_today()
        bench_admin()
        saved = json.loads(Path(args.reuse).read_text()) if args.reuse and Path(args.reuse).exists() else {}

        def phase(name, compute):
            # Each phase is kept as it finishes, so a failure late in the run loses nothing (--reuse).
            if name in args.skip:
                return None
            if name not in saved:
                saved[name] = compute()
                if args.reuse:
                    Path(args.reuse).write_text(json.dumps(saved, default=str))
            return saved[name]

        web, web_info = phase("web", lambda: web_benchmarks(args.requests)) or ({}, {})
        many = phase("many", lambda: many_users_benchmarks(args.users, args.clients))
        sweep_result = phase("sweep", lambda: sweep_benchmark(day))
        stats = phase("stats", lambda: statistics_benchmark(day))
        imported = phase("import", lambda: {**import_benchmark(args.import_rows),
                                            "records": import_records.benchmark(bench_admin(), args.import_rows)})
        write_results(args.out, machine_info=info, sizes=sizes, web=web, web_info=web_info, sweep=sweep_result,
                      stats=stats, imported=imported, started=started, notes=args.note, many=many)
        print(Path(args.out).read_text())


if __name__ == "__main__":
    main()
