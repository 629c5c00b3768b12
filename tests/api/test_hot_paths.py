"""The hot paths — a contact's caseload list, a family's page, every kind of search and
recording a check-in — cost a fixed number of queries however large the caseload or the city (the
benchmark runs them at a million families, bench/README.md). Token authentication, as the phone
client and the benchmark use it."""
import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from casemgmt.api.models import ApiToken
from casemgmt.security.services import breakglass_open
from families import selectors
from families.models import Family, FamilyMember
from tests.conftest import add_family

# token (with the break-the-glass flag), the page, the audit row: the page carries its members (and
# a family's page its contacts) as JSON built by the database (casemgmt.api.sqljson), and a family's
# page and the first page of a list or a search are read by the statement that writes their audit
# row (core.audit.read_recorded, page_read_recorded)
FIRST_PAGE_QUERIES = 2
LIST_QUERIES = 3
DETAIL_QUERIES = 2
# The token with the role's permissions, the family in reach read FOR UPDATE, its cadence rule,
# then the check-in with the family's due dates and the audit row as one statement; two savepoint
# statements (the request's transaction, nested in the test's own).
CHECKIN_QUERIES = 6


@pytest.fixture
def token_client(world):
    def make(role):
        _, raw = ApiToken.issue(user=world.people[role], name="phone",
                                expires_at=timezone.now() + datetime.timedelta(hours=1))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.get("/api/v1/users/me/")  # the first use stamps last_used_at (then once an hour)
        return client
    return make


def _grow(world, n, start=0):
    for i in range(start, start + n):
        add_family(world.regions["village"], f"H-{i:03d}", owner=world.people["alice"],
                   mother_seq=40 + 2 * i, father_seq=41 + 2 * i)


def _queries(client, method, url, data=None):
    with CaptureQueriesContext(connection) as ctx:
        if method == "post":
            response = client.post(url, data, format="json")
        else:
            response = client.get(url, data)
    assert response.status_code in (200, 201), response.content[:300]
    return [q["sql"] for q in ctx.captured_queries], response.json()


def _searches(world):
    mother = world.families["own"].members.get(relation="mother")
    return {"name": "王秀英", "name prefix": "王秀", "pinyin": "wangxiuying", "initials": "wxy",
            "ID number": mother.id_number, "phone": "13800000001", "file number": "zp-000"}


def test_caseload_list_detail_and_searches_cost_the_same_for_3_or_60_families(world, token_client):
    alice, manager = token_client("alice"), token_client("manager")
    family = world.families["own"]
    caseload = ("/api/v1/families/", {"ordering": "next_checkin_due"})

    def measure():
        counts = {"caseload": len(_queries(alice, "get", *caseload)[0]),
                  "detail": len(_queries(alice, "get", f"/api/v1/families/{family.pk}/")[0])}
        for kind, q in _searches(world).items():
            counts[f"search by {kind}"] = len(_queries(manager, "get", "/api/v1/families/", {"q": q})[0])
        return counts

    # The planner's estimate of the families in the manager's reach (whether a search by a beginning
    # may walk the order) is asked once per 10 minutes: of everyone and of the reach.
    selectors._estimates.clear()
    assert len(_queries(manager, "get", "/api/v1/families/", {"q": "王"})[0]) == FIRST_PAGE_QUERIES + 2
    small = measure()
    _grow(world, 57)
    large = measure()
    assert large == small == {**dict.fromkeys(small, FIRST_PAGE_QUERIES), "detail": DETAIL_QUERIES}
    # Any later page of a worklist costs what a first page costs, whatever its place (its position
    # bound in a kept statement, its audit row written by it); the last one also looks for families
    # without a due date (they come after every date, and no index range holds both).
    first = _queries(alice, "get", caseload[0], {**caseload[1], "page_size": 20})[1]
    sql, second = _queries(alice, "get", first["next"])
    assert len(second["results"]) == 20 and len(sql) == FIRST_PAGE_QUERIES
    sql, last = _queries(alice, "get", second["next"])
    assert len(last["results"]) == 18 and not last["next"] and len(sql) == FIRST_PAGE_QUERIES + 1
    # And back: the previous page is the same 20 families.
    sql, back = _queries(alice, "get", last["previous"])
    assert [card["id"] for card in back["results"]] == [card["id"] for card in second["results"]]
    assert len(sql) == FIRST_PAGE_QUERIES
    # A later page of a search by a beginning counts its matches, up to a bound, to choose how to
    # find them (families.selectors._walks); the first page chooses inside its one statement.
    first = _queries(manager, "get", "/api/v1/families/", {"q": "H-0", "page_size": 20})[1]
    sql, second = _queries(manager, "get", first["next"])
    assert second["results"] and len(sql) == LIST_QUERIES + 1


def test_no_list_or_search_counts_its_rows(world, token_client):
    _grow(world, 3)
    manager = token_client("manager")
    for q in [None, *_searches(world).values()]:
        sql, body = _queries(manager, "get", "/api/v1/families/", {"q": q} if q else None)
        assert body["results"] and "count" not in body
        # Only a search's matches, counted up to a bound to choose how to find them (family_search);
        # the audit row written along with a page counts the page's rows only.
        counts = [s for s in (re.sub(r", audit AS \(INSERT INTO .* AS shown\) SELECT \* FROM page ORDER BY page.position$",
                                     "", s) for s in sql) if "COUNT(" in s.upper()]
        assert all(re.search(r"LIMIT \d+\) subquery$", s) for s in counts), q


def test_every_search_is_an_index_lookup_of_the_matches(world, token_client):
    """Exact or prefix matches on indexed columns, gathered first (``= ANY(ARRAY(...))``) or kept in a
    hash while the file-number order is walked (``CASE WHEN id IN (...)``), never a substring
    (``LIKE '%…'``) that reads every member."""
    manager = token_client("manager")
    gathered = r'(= ANY\(ARRAY\(\(?SELECT|CASE WHEN "?\w+"?\."id" IN \(\(?SELECT)'
    for kind, q in _searches(world).items():
        sql, body = _queries(manager, "get", "/api/v1/families/", {"q": q})
        page = next(s for s in sql if re.search(r'FROM "families_family"( \w+)?( INNER JOIN| WHERE)', s)
                    and not s.startswith("SELECT COUNT("))
        assert re.search(gathered, page) and "LIKE '%" not in page, kind
        assert world.families["own"].pk in {row["id"] for row in body["results"]}, kind
        assert world.families["outside"].pk not in {row["id"] for row in body["results"]}, kind


def test_search_kinds_match_what_they_say(world, client_for):
    own, colleague = world.families["own"], world.families["colleague"]
    FamilyMember.objects.create(family=colleague, name="赵丽华", relation="mother", phone="13912345678")
    client = client_for("manager")

    def found(q):
        response = client.get("/api/v1/families/", {"q": q})
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert found("赵丽华") == found("赵丽") == found("zhaoli") == found("ZLH") == found("zl") == {colleague.pk}
    assert found("丽华") == found("lihua") == set()  # beginnings only, not any part of a name
    assert found("zp-0001") == found("ZP-0001") == {own.pk}
    assert found("13912345678") == {colleague.pk}
    assert found("ZP-0") == {own.pk, colleague.pk}


def test_recording_a_check_in_costs_the_same_for_3_or_60_families(world, token_client):
    alice = token_client("alice")
    family = world.families["own"]
    body = {"family": family.pk, "channel": "phone", "physical_state": "fair", "mental_state": "stable"}
    _queries(alice, "post", "/api/v1/checkins/", body)  # the first contact also makes the case active
    small, created = _queries(alice, "post", "/api/v1/checkins/", body)
    _grow(world, 57)
    large, _ = _queries(alice, "post", "/api/v1/checkins/", body)
    assert len(small) == len(large) == CHECKIN_QUERIES, small
    family.refresh_from_db()
    assert created["family"] == family.pk and family.version == 4 and family.status == "active"


def test_a_break_the_glass_grant_read_with_the_token_still_opens_its_family(world, token_client, people):
    carol = token_client("carol")
    url = f"/api/v1/families/{world.families['own'].pk}/"
    assert carol.get(url).status_code == 404
    breakglass_open(actor=people["carol"], family=world.families["own"], reason="老人深夜来电，需查看紧急联系人")
    sql, body = _queries(carol, "get", url)
    assert body["id"] == world.families["own"].pk and len(sql) == DETAIL_QUERIES
    listed = {row["id"] for row in carol.get("/api/v1/families/").json()["results"]}
    assert listed == {world.families["own"].pk, world.families["outside"].pk}
    assert Family.objects.count() == 3


def test_column_reads_give_what_drf_gives(world, monkeypatch):
    """ColumnReadMixin is only a faster way to the same output: compare it with DRF's own, on a
    family with every kind of value (nulls, dates, times, choices, masked members, contacts)."""
    from rest_framework import serializers as drf
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from casemgmt.api.serializers import ColumnReadMixin
    from families import selectors
    from families.api import serializers as s
    from families.services import checkin_record

    alice = world.people["alice"]
    checkin = checkin_record(actor=alice, family=world.families["own"], channel="home_visit", mental_notes="想念孩子")
    Family.objects.filter(pk=world.families["colleague"].pk).update(next_checkin_due=None, notes="")
    request = Request(APIRequestFactory().get("/"))

    def render():
        outputs = []
        for user in (alice, world.people["manager"], world.people["coordinator"]):
            request.user = user
            rows = selectors.family_cards(user=user, member_fields=s.MemberBriefSerializer.Meta.fields, contacts=True)
            outputs.append(s.FamilySerializer(rows, many=True, context={"request": request}).data)
            outputs.append(s.FamilyListSerializer(rows, many=True, context={"request": request}).data)
        outputs.append(s.CheckInSerializer(checkin, context={"request": request}).data)
        return outputs

    fast = render()
    monkeypatch.setattr(ColumnReadMixin, "to_representation", drf.Serializer.to_representation)
    assert fast == render()
    assert fast[2] and fast[2][0]["members"] and fast[0][0]["contacts"] and "contacts" not in fast[1][0]


def test_the_token_lookup_makes_what_the_orm_makes(world, people):
    """casemgmt.api.authentication.TokenLookup runs a statement the ORM wrote once: the token, its
    user and the user's region come back as the ORM's own query gives them, the grant flag too."""
    from casemgmt.api.authentication import token_lookup
    from casemgmt.core.crypto import hash_token

    def columns(instance):
        return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}

    for user in (people["alice"], people["root"]):  # with a region and without one
        _, raw = ApiToken.issue(user=user, name="phone", expires_at=timezone.now() + datetime.timedelta(hours=1))
        made = token_lookup()(hash_token(raw))
        orm = ApiToken.objects.select_related("user", "user__region").get(key_hash=hash_token(raw))
        assert columns(made) == columns(orm) and columns(made.user) == columns(orm.user)
        assert (made.user.region and columns(made.user.region)) == (orm.user.region and columns(orm.user.region))
        assert made.holds_grant is False
    assert token_lookup()(hash_token("cmt_unknown")) is None
    breakglass_open(actor=people["alice"], family=world.families["outside"], reason="深夜来电，需查看紧急联系人")
    assert token_lookup()(hash_token(raw)).holds_grant is False  # root's token; alice's grant is hers
    _, raw = ApiToken.issue(user=people["alice"], name="phone2", expires_at=timezone.now() + datetime.timedelta(hours=1))
    assert token_lookup()(hash_token(raw)).holds_grant is True


def test_the_token_lookup_brings_the_permissions_djangos_backend_grants(people):
    """On PostgreSQL the user's permissions come with the token: the set Django's own ModelBackend
    reads (own and role group's, none for an inactive user), so a write checks one without a query."""
    from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
    from django.contrib.auth.models import Permission

    from casemgmt.api.authentication import token_lookup
    from casemgmt.core.crypto import hash_token
    from casemgmt.core.models import User

    people["contact"].user_permissions.add(Permission.objects.get(codename="add_careplan"))
    User.objects.filter(pk=people["bob"].pk).update(is_active=False)
    for name in ("alice", "contact", "coordinator", "volunteer_user", "bob", "root"):
        _, raw = ApiToken.issue(user=people[name], name="phone", expires_at=timezone.now() + datetime.timedelta(hours=1))
        user = token_lookup()(hash_token(raw)).user
        expected = DjangoModelBackend().get_all_permissions(User.objects.get(pk=user.pk))
        with CaptureQueriesContext(connection) as queries:
            granted = user.get_all_permissions()
        assert granted == expected, name
        if name not in ("root", "bob"):  # Django's own ways for a superuser and an inactive user
            assert queries.captured_queries == [], name
        if name == "contact":
            assert {"families.add_checkin", "families.add_careplan"} <= granted
        # A read's lookup leaves them out (a read checks none); asked anyway, the backend reads them.
        reader = token_lookup(False)(hash_token(raw)).user
        assert not hasattr(reader, "_perm_cache") and reader.get_all_permissions() == expected, name


def test_a_read_audit_row_is_what_audit_log_writes(world):
    """casemgmt.core.audit.record_read writes the row audit_log would, without an instance."""
    from casemgmt.core.audit import audit_log, record_read
    from casemgmt.core.models import AuditEvent

    alice, family = world.people["alice"], world.families["own"]
    kwargs = {"actor": alice, "event": "api.families.family.search", "family_id": family.pk,
              "region_path": family.region_path, "after": {"query": {"q": "***", "day": datetime.date(2026, 11, 29)}},
              "ip": "10.1.2.3"}
    audit_log(objects=[family], **kwargs)
    record_read(model=Family, ids=[family.pk], **kwargs)
    first, second = (AuditEvent.objects.filter(event=kwargs["event"]).order_by("id")
                     .values("actor_id", "actor_role", "event", "object_type", "object_ids", "family_id",
                             "region_path", "before", "after", "reason", "ip"))
    assert first == second and second["object_ids"] == [family.pk] and second["ip"] == "10.1.2.3"


def test_a_familys_page_is_read_with_its_audit_row_or_not_at_all(world, token_client):
    """On PostgreSQL the card and the record of reading it are one statement: the row is what the
    separate audit row was; a family out of reach, or no family, answers 404 and records nothing."""
    from casemgmt.core.models import AuditEvent

    alice, family = token_client("alice"), world.families["own"]
    reads = AuditEvent.objects.filter(event="api.families.family.retrieve")
    assert alice.get(f"/api/v1/families/{family.pk}/", {"q": "x"}).status_code == 200
    row = AuditEvent.objects.latest("id")
    assert reads.count() == 1
    assert (row.event, row.object_type, row.object_ids, row.family_id, row.region_path, row.actor_id,
            row.actor_role, row.after, row.ip) == (
        "api.families.family.retrieve", "families.family", [family.pk], family.pk, family.region_path,
        world.people["alice"].pk, "social_worker", {"query": {"q": "***"}}, "127.0.0.1")
    for missing in (world.families["outside"].pk, 999999, "abc"):
        assert alice.get(f"/api/v1/families/{missing}/").status_code == 404
    assert reads.count() == 1


def test_a_familys_page_statement_is_shared_by_a_shape_and_bound_to_each_reader(world, token_client, people):
    """casemgmt.core.reach.compiled_in_reach: the page's statement is written once for alice and bob
    (one role, one county), yet each reads only their own caseload; a break-the-glass grant is a
    shape of its own, and whether a grant is live is decided by the statement's own time."""
    from casemgmt.core.reach import compiled_in_reach
    from casemgmt.security.models import BreakGlassGrant

    compiled_in_reach.clear()
    alice, bob, carol = token_client("alice"), token_client("bob"), token_client("carol")
    own, colleague = (f"/api/v1/families/{world.families[name].pk}/" for name in ("own", "colleague"))
    assert alice.get(own).status_code == 200
    kept = compiled_in_reach.kept()
    assert bob.get(own).status_code == 404 and bob.get(colleague).status_code == 200
    assert alice.get(colleague).status_code == 404 and alice.get(own).status_code == 200
    assert compiled_in_reach.kept() == kept  # bob's reads used alice's statement
    assert len(kept) == 1
    for url in (own, colleague, "/api/v1/families/99999999999999999999/", "/api/v1/families/x1/"):
        assert carol.get(url).status_code == 404
    live = breakglass_open(actor=people["carol"], family=world.families["own"], reason="老人深夜来电，需查看紧急联系人")
    breakglass_open(actor=people["carol"], family=world.families["colleague"], reason="邻居报告老人两天未开门，电话无人接听",
                    now=timezone.now() - datetime.timedelta(hours=5))  # lapsed an hour ago
    assert carol.get(own).status_code == 200 and carol.get(colleague).status_code == 404
    BreakGlassGrant.objects.filter(pk=live.pk).update(revoked_at=timezone.now())
    assert carol.get(own).status_code == 404


def test_a_search_walked_in_file_number_order_finds_what_fetching_the_matches_finds(world, token_client, monkeypatch):
    """families.selectors: many matches are found by walking the file-number order with the matches
    in a hash, few by fetching each; either way every page, cursor and ordering gives the same rows."""
    _grow(world, 40)
    manager = token_client("manager")
    queries = [{"q": q} for q in ("王秀", "wxy", "wangx", "zp-0", "h-0")] + [
        {"q": "王秀", "page_size": 7}, {"q": "wxy", "ordering": "-file_number", "page_size": 9},
        {"q": "wxy", "ordering": "next_checkin_due", "page_size": 11}]

    def pages(params):
        body, seen, strategies = _queries(manager, "get", "/api/v1/families/", params), [], set()
        sql, body = body
        while True:
            seen.append([row["id"] for row in body["results"]])
            strategies.add("walk" if any(re.search(r'CASE WHEN "?\w+"?\."id" IN \(', s) for s in sql) else "fetch")
            if not body["next"]:
                return seen, strategies
            sql, body = _queries(manager, "get", body["next"])

    for params in queries:
        monkeypatch.setattr(selectors, "walk_threshold", lambda path: 1)
        walked, walked_by = pages(params)
        monkeypatch.setattr(selectors, "walk_threshold", lambda path: None)
        fetched, fetched_by = pages(params)
        assert walked == fetched and sum(map(len, walked)) > 1, params
        assert fetched_by == {"fetch"}
        assert walked_by == ({"walk"} if params.get("ordering") in (None, "file_number") else {"fetch"}), params


def test_a_familys_page_read_without_its_audit_row_is_the_same_card(world, token_client, monkeypatch):
    """A viewset with ``audit_reads = False`` reads the kept statement alone: the same card, no row."""
    from casemgmt.core.models import AuditEvent
    from families.api.views import FamilyViewSet

    alice = token_client("alice")
    own, colleague = (f"/api/v1/families/{world.families[name].pk}/" for name in ("own", "colleague"))
    audited = alice.get(own).json()
    monkeypatch.setattr(FamilyViewSet, "audit_reads", False)
    reads = AuditEvent.objects.filter(event="api.families.family.retrieve")
    before = reads.count()
    assert alice.get(own).json() == audited and alice.get(colleague).status_code == 404
    assert reads.count() == before


def test_a_first_page_is_read_with_the_audit_row_the_other_pages_write(world, token_client, monkeypatch):
    """The first page of a list or a search is one kept statement with its audit row
    (core.audit.page_read_recorded): the same page and the same row as the general path (cursor
    pages, other filters) gives, for a page with more after it, one family, and nothing found."""
    from casemgmt.core.models import AuditEvent
    from families.api.views import FamilyViewSet

    _grow(world, 5)
    manager, alice = token_client("manager"), token_client("alice")
    mother = world.families["own"].members.get(relation="mother")
    asks = [(alice, {"ordering": "next_checkin_due", "page_size": 3}), (manager, {"q": "H-00", "page_size": 2}),
            (manager, {"q": mother.id_number}), (manager, {"q": "查无此人"}), (alice, {})]
    columns = ("event", "actor_id", "actor_role", "object_type", "object_ids", "family_id", "region_path", "after", "ip")

    def read(client, params):
        start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        sql, body = _queries(client, "get", "/api/v1/families/", params)
        (row,) = AuditEvent.objects.filter(id__gt=start).values(*columns)
        return len(sql), body, row

    kept = [read(client, params) for client, params in asks]
    monkeypatch.setattr(FamilyViewSet, "FIRST_PAGE_PARAMETERS", frozenset())
    general = [read(client, params) for client, params in asks]
    for (params, (queries, body, row), (_, general_body, general_row)) in zip(
            [params for _, params in asks], kept, general, strict=True):
        assert (body, row) == (general_body, general_row), params
        assert row["object_ids"] == [card["id"] for card in body["results"]], params
        assert queries == FIRST_PAGE_QUERIES, params
    (_, more, more_row), (_, two, _), (_, one, one_row), (_, none, none_row), _ = kept
    assert len(more["results"]) == 3 and more["next"] and more_row["family_id"] is None
    assert len(two["results"]) == 2 and two["next"]
    assert one_row["family_id"] == world.families["own"].pk == one["results"][0]["id"]
    assert one_row["region_path"] == world.families["own"].region_path and one_row["after"] == {"query": {"q": "***"}}
    assert none["results"] == [] and none_row["object_ids"] == [] and none_row["object_type"] == ""
    assert none_row["region_path"] == world.people["manager"].reach_path


def test_a_first_page_chooses_walking_or_fetching_in_its_statement(world):
    """families.selectors.search_page: the branch whose one-time condition fails never runs, and
    both give the same page."""
    import json

    from django.db.models import F

    from casemgmt.core.statements import With

    _grow(world, 12)
    families = Family.objects.all()
    kind, values = selectors.search_terms(q="h-0")
    pages, runs = [], []
    for walk_after in (1, 10_000):
        ids, named = selectors.search_page(queryset=families, kind=kind, values=values,
                                           order_by=[F("file_number").asc()], limit=6, walk_after=walk_after)
        # The matches are gathered once, however many ways read them.
        assert list(named) == ["found"]
        sql, params = With(selectors.families_by_id(ids=ids).order_by("file_number").values("id"), **named).query \
            .sql_with_params()
        assert sql.count('FROM "families_familymember"') == 2, sql  # pinyin and initials, in found only
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            pages.append([row[0] for row in cursor.fetchall()])
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
            runs.append(_branch_loops((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]))
    assert pages[0] == pages[1] and len(pages[0]) == 6
    # The walk (CASE WHEN … IN) and the fetch (= ANY(ARRAY(…))), in that order: one ran, not the other.
    assert runs == [[1, 0], [0, 1]]


def _branch_loops(plan):
    """Whether each branch of the page's UNION ALL ran (1) or its one-time condition stopped it (0):
    a branch ran when anything below its top nodes read a row."""
    if plan["Node Type"] == "Append" and all(branch["Node Type"] == "Subquery Scan" for branch in plan["Plans"]):
        return [_ran(branch) for branch in plan["Plans"]]
    return next((found for child in plan.get("Plans", []) if (found := _branch_loops(child))), [])


def _ran(branch):
    def scans(node):  # the branch's own table scans, not those of the conditions it evaluates
        own = [node["Actual Loops"]] if node["Node Type"].endswith("Scan") and node["Node Type"] != "Subquery Scan" else []
        return own + [n for child in node.get("Plans", []) if child.get("Parent Relationship") not in ("InitPlan", "SubPlan")
                      for n in scans(child)]
    return int(any(scans(branch)))
