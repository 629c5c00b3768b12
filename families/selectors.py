"""Reads about families, already scoped to the reader (``reach.restrict``): views never see more."""
import json
import math
import re
import time

from django.db import connection
from django.db.models import BooleanField, F, Prefetch, Q
from django.db.models.expressions import RawSQL
from django.db.models.lookups import In, PatternLookup, StartsWith

from casemgmt.core.crypto import blind_index
from casemgmt.core.idcard import normalize_id_number
from casemgmt.core.models import Role
from casemgmt.core.reach import CASELOAD_ROLES, caseload_family_ids, restrict

from .models import (
    AnnualReview,
    Assessment,
    AssistanceEnrollment,
    CarePlan,
    CarePlanGoal,
    CareTask,
    CheckIn,
    ConsentRecord,
    ContactAssignment,
    Family,
    FamilyMember,
    FamilyStatusChange,
    FamilyTransfer,
    RiskLevelChange,
)

ID_NUMBER_RE = re.compile(r"^\d{17}[\dXx]$")
PHONE_RE = re.compile(r"^\+?\d{7,15}$")
# What a contact card shows of the user: id, username, role and name (str(user)).
CONTACT_USER_COLUMNS = ["id", "username", "role", "display_name", "first_name", "last_name"]


class _InArray(In):
    """``pk IN (subquery)`` that PostgreSQL runs as ``pk = ANY(ARRAY(subquery))``: the matches are
    collected first, then fetched by primary key. As a semi-join, the planner would hash-join them
    against a scan of every family in reach whenever it guesses more than a few thousand matches
    (a region manager's reach is the whole city); the array is never larger than the matches."""

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


class _HashedIn(In):
    """``pk IN (subquery)`` as a condition PostgreSQL cannot turn into a join: it keeps the matches in a
    hash and tests each row it walks. With a list in file-number order and a LIMIT, it walks the
    file-number index and stops at the page's last row; for a prefix matching thousands of families
    that reads a few thousand index entries instead of fetching every match (``family_search``)."""

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"CASE WHEN {lhs} IN {rhs} THEN true END", (*lhs_params, *rhs_params)


def active_assignments():
    """The open assignments of each family (``family.active_assignments``), with the columns of the
    API's contact cards only: the user rows repeat on every family of a caseload."""
    user_columns = [f"user__{name}" for name in CONTACT_USER_COLUMNS]
    return Prefetch(
        "assignments", to_attr="active_assignments",
        # One open assignment per kind; ordering by kind alone spares a join to order by file number.
        queryset=ContactAssignment.objects.filter(ended_on__isnull=True).select_related("user").order_by("kind")
        .only("family", "kind", "started_on", "user", *user_columns),
    )


def family_list(*, user):
    """Families in reach with their region and members (``family.members.all()``)."""
    members = Prefetch("members", queryset=FamilyMember.objects.order_by("relation", "id"))
    return restrict(Family.objects.select_related("region").prefetch_related(members), user)


def families_in_reach(*, user):
    """The families in reach, nothing loaded along (the API's cards are built by the database)."""
    return restrict(Family.objects.all(), user)


def family_cards(*, user, member_fields, contacts=False):
    """Families in reach as the API shows them: the region, the members' ``member_fields`` only in
    ``family.member_cards`` (every encrypted column loaded is decrypted, up to 4 a member, whether
    shown or not; a plain list costs less than a queryset per family) and, with ``contacts``, the open
    assignments in ``family.active_assignments``."""
    members = FamilyMember.objects.order_by("relation", "id").only("family", *member_fields)
    queryset = Family.objects.select_related("region").prefetch_related(
        Prefetch("members", queryset=members, to_attr="member_cards"))
    if contacts:
        queryset = queryset.prefetch_related(active_assignments())
    return restrict(queryset, user)


EXACT_KINDS = ("id_number", "phone")  # one person (or a file number), fetched by id
ID_SUFFIX_RE = re.compile(r"^\d{3,5}[\dXx]$")  # the last 4 to 6 characters of an ID number


def id_suffix_family_ids(*, user, suffix):
    """Ids of the families of ``user``'s own caseload with a member whose ID number ends in
    ``suffix`` (``privacy.searchable_by_suffix`` says who may ask and why it is safe). The numbers
    are encrypted, so the caseload's are decrypted and compared here: a few hundred at ~15 µs each."""
    suffix = suffix.upper()
    members = restrict(FamilyMember.objects.filter(family__in=caseload_family_ids(user)), user).exclude(
        id_number_index="").only("id", "family_id", "id_number")
    return sorted({m.family_id for m in members.iterator(chunk_size=1000) if m.id_number.upper().endswith(suffix)})


def search_terms(*, q):
    """What the search ``q`` looks for, as ``(kind, values)`` (``matching_families``), or None when
    it is empty. The values are the statement's parameters as they are, LIKE patterns included, so
    that a kept statement (``casemgmt.core.statements``) rebinds them:

    - an ID number or a phone number: its blind index, exactly (phone numbers also as file numbers);
    - Chinese characters: the beginning of a member's name (the full name is the commonest search);
    - Latin letters and digits: the beginning of a member's pinyin (``zhaolihua``, ``zhao``) or of its
      initials (``zlh``), or of a file number (mostly written in capitals, ZP-0001, but typed in
      lower case as often).
    """
    q = (q or "").strip()
    if not q:
        return None
    if ID_NUMBER_RE.match(q):
        return "id_number", {"digest": blind_index(normalize_id_number(q), "id_number")}
    if PHONE_RE.match(q):
        return "phone", {"digest": blind_index(q, "phone"), "number": q}
    if not q.isascii():
        return "name", {"prefix": _prefix(q)}
    return "latin", {"prefix": _prefix(q.lower().replace(" ", "")), "file_number": _prefix(q),
                     "file_number_upper": _prefix(q.upper())}


def matching_families(*, kind, **values):
    """The ids of the families that ``search_terms`` found, each kind of match one index range scan
    (never a scan of every member, which at a million families takes seconds)."""
    if kind == "id_number":
        return _member_families(id_number_index=values["digest"])
    if kind == "phone":
        return _member_families(phone_index=values["digest"]).union(
            Family.objects.filter(file_number=values["number"]).order_by().values("id"))
    if kind == "name":
        return _member_families(_Prefixed(F("name"), values["prefix"]))
    # One branch per index (an OR would read the member rows; each branch is an index-only scan).
    file_numbers = Q(_Prefixed(F("file_number"), values["file_number"])) | Q(
        _Prefixed(F("file_number"), values["file_number_upper"]))
    return _member_families(_Prefixed(F("name_pinyin"), values["prefix"])).union(
        _member_families(_Prefixed(F("name_initials"), values["prefix"])),
        Family.objects.filter(file_numbers).order_by().values("id"))


def family_search(*, queryset, q, reader=None, file_number_order=False):
    """Families of ``queryset`` that the search ``q`` finds (``search_terms``). The matches are
    fetched by id, unless ``reader`` lists them in file-number order (``file_number_order``) and they
    are so many that walking that order is cheaper (``_walks``)."""
    terms = search_terms(q=q)
    if terms is None:
        return queryset
    kind, values = terms
    found = matching_families(kind=kind, **values)
    if kind not in EXACT_KINDS and file_number_order and _walks(found, reader):
        return queryset.filter(_HashedIn(F("pk"), found))
    return queryset.filter(_InArray(F("pk"), found))


def search_page(*, queryset, kind, values, order_by, limit, walk_after=None):
    """``(ids, named)``: the ids of the first ``limit`` families of ``queryset`` in the order
    ``order_by`` that the search (``search_terms``) finds, and the querysets the statement reading
    them must name (``core.statements.With(statement, **named)``). The matches are fetched by id,
    or — when ``walk_after`` is given (``walk_threshold_for``, a list in file-number order) and
    the matches reach that many — found by walking the order. The statement makes the choice
    itself: the matches are gathered once (``found``) and each way runs only if its one-time
    condition on their number holds, so no count goes before it."""
    found = matching_families(kind=kind, **values)
    if walk_after is None:
        return queryset.filter(_InArray(F("pk"), found)).order_by(*order_by).values("pk")[:limit], {}
    matches = RawSQL("SELECT * FROM found", [])
    # The threshold is a parameter: it differs from region to region, the statement does not.
    enough = RawSQL("EXISTS(SELECT 1 FROM found LIMIT 1 OFFSET %s - 1)", [walk_after], output_field=BooleanField())
    walk = queryset.filter(enough, _HashedIn(F("pk"), matches)).order_by(*order_by).values("pk")[:limit]
    fetch = queryset.filter(~enough, _InArray(F("pk"), matches)).order_by(*order_by).values("pk")[:limit]
    return walk.union(fetch, all=True), {"found": found}


def families_by_id(*, ids):
    """The families whose ids the subquery ``ids`` gives (a page's), each fetched by primary key."""
    return Family.objects.filter(_InArray(F("pk"), ids))


# Fetching a match by id costs about fifteen times walking one row of the file-number index (EXPLAIN
# ANALYZE at a million families, bench/README.md). A page of 50 walks 50·N/(m·s) rows (N families,
# m matches, s the reader's share of N), so the walk is cheaper once m² > 3·N/s.
_WALK_FACTOR = 3
_estimates = {}  # {region path: (families estimated, until)}


def walk_threshold_for(*, reader):
    """How many matches make walking the file-number order cheaper for ``reader`` (``walk_threshold``
    of their region), or None when their searches are never walked: caseload and volunteer reach is
    a few families of many, anywhere in the order."""
    if reader is None or not reader.is_authenticated:
        return None
    if not reader.is_superuser and (reader.role in CASELOAD_ROLES or reader.role == Role.VOLUNTEER):
        return None
    return walk_threshold(path="" if reader.is_superuser else reader.reach_path)


def _walks(found, reader):
    """Whether the ``found`` families are so many, for the share of all families ``reader`` sees,
    that walking the file-number order beats fetching every match."""
    threshold = walk_threshold_for(reader=reader)
    # Counted, up to the threshold (an index-only scan of at most that many entries): the planner's
    # estimate of a Chinese name's matches can be ten times the count (2,953 for ~250), and a walk
    # for a few matches would read the whole order.
    return threshold is not None and found[:threshold].count() >= threshold


def walk_threshold(*, path):
    """How many matches make walking the file-number order of the families under ``path`` cheaper
    than fetching each match (see above); None when there are no families to tell."""
    everyone, reach = _families_estimate(""), _families_estimate(path)
    if not everyone or not reach:
        return None
    return math.ceil(math.sqrt(_WALK_FACTOR * everyone * everyone / reach))


def _families_estimate(path, ttl=600):
    """The planner's estimate of the families under ``path`` (no count: a statistic, kept 10 minutes)."""
    now = time.monotonic()
    known = _estimates.get(path)
    if known is None or known[1] < now:
        known = _estimates[path] = (_planned_rows(Family.objects.filter(region_path__startswith=path)), now + ttl)
    return known[0]


def _planned_rows(queryset):
    return json.loads(queryset.explain(format="json"))[0]["Plan"]["Plan Rows"]


def _member_families(*conditions, **lookups):
    return FamilyMember.objects.filter(*conditions, **lookups).order_by().values("family_id")


def _prefix(value):
    """The LIKE pattern of what begins with ``value``, its wildcards escaped."""
    return connection.ops.prep_for_like_query(value) + "%"


class _Prefixed(StartsWith):
    """``startswith`` given its LIKE pattern (``_prefix``), the very SQL of ``__startswith``: the
    pattern is the statement's parameter as it is, not made from the value when the SQL is
    written, so a kept statement rebinds it."""

    param_pattern = "%s"

    def process_rhs(self, compiler, connection):
        return super(PatternLookup, self).process_rhs(compiler, connection)  # not escaped again


def member_list(*, user):
    return restrict(FamilyMember.objects.select_related("family"), user)


def assignment_list(*, user):
    return restrict(ContactAssignment.objects.select_related("user", "assigned_by", "family"), user)


def checkin_list(*, user):
    return restrict(CheckIn.objects.select_related("recorded_by", "family"), user)


def assessment_list(*, user):
    return restrict(Assessment.objects.select_related("scale", "assessed_by", "member", "family"), user)


def careplan_list(*, user):
    return restrict(CarePlan.objects.select_related("owner", "family").prefetch_related("goals"), user)


def goal_list(*, user):
    return restrict(CarePlanGoal.objects.select_related("plan"), user)


def task_list(*, user):
    return restrict(CareTask.objects.select_related("assignee", "family"), user)


def enrollment_list(*, user):
    return restrict(AssistanceEnrollment.objects.select_related("member", "family"), user)


def review_list(*, user):
    return restrict(AnnualReview.objects.select_related("enrollment", "reviewer"), user)


def consent_list(*, user):
    return restrict(ConsentRecord.objects.select_related("member", "recorded_by", "family"), user)


def transfer_list(*, user):
    return restrict(FamilyTransfer.objects.select_related("from_region", "to_region", "requested_by", "decided_by",
                                                          "family"), user)


def status_history(*, user, family):
    return restrict(FamilyStatusChange.objects.filter(family=family).select_related("changed_by"), user)


def risk_history(*, user, family):
    return restrict(RiskLevelChange.objects.filter(family=family).select_related("changed_by"), user)
