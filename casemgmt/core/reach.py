"""Who may see which rows: one policy for the admin, the API and every selector.

Deny by default. Each scoped model is declared in ``SCOPES`` with the lookups that lead from it to
a region path, to a family (caseload roles see only their families) and to a volunteer (volunteers
see only their own rows). A region subtree is one ``path LIKE 'prefix%'`` on an indexed column.

The core declares its own models here; every other app declares its models, and the family ids
that widen or narrow a user's reach (caseload, pairings, emergency grants), from its
``AppConfig.ready`` with ``scopes_declare`` and ``family_ids_declare``: the policy is one, the
names of the models it covers belong to the apps above. A model nobody declared is seen by no one
but a superuser.

Break-the-glass grants (casemgmt.security) add their families to the condition only for a user who
holds a live grant: an ``OR family IN (grants)`` that is always there keeps PostgreSQL from using
the region or caseload index, a full scan of the families on every list at a million of them.
"""
import contextvars
import copy
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db.models import BooleanField, Case, F, Q, Value, When
from django.db.models.functions import Now
from django.db.models.lookups import StartsWith

from .models import Role
from .statements import CompiledStatements

CASELOAD_ROLES = frozenset({Role.SOCIAL_WORKER, Role.CONTACT_PERSON})
REGION_ROLES = frozenset({Role.ADMIN, Role.REGION_MANAGER})
BREAK_GLASS_ROLES = frozenset({Role.ADMIN, Role.REGION_MANAGER, Role.SOCIAL_WORKER})
SELF = "pk"  # the family or volunteer lookup of the Family / Volunteer model itself


@dataclass(frozen=True)
class Scope:
    # Roles allowed at all, besides administrators and region managers (who see their subtree).
    roles: frozenset = frozenset()
    region: str | None = None  # lookup to a region path string
    also_region: str | None = None  # a second region path that also grants sight (transfers)
    family: str | None = None  # lookup to a Family id, for caseload roles
    volunteer: str | None = None  # lookup to a Volunteer id, for volunteers
    owner: str | None = None  # lookup to the one user who owns the row (a notification)
    is_reference: bool = False  # reference data every allowed role may read whole
    # A catalogue (a course, a fund, an insurance product): defined once for a region and usable in
    # its whole subtree, so it is also read and picked by users below its region. It is still
    # changed only by users whose reach holds its region (``writable``).
    usable_below: bool = False


ALL = frozenset(Role.values)
CASEWORK = CASELOAD_ROLES
FIELDWORK = frozenset(CASELOAD_ROLES | {Role.VOLUNTEER_COORDINATOR})
WITH_VOLUNTEERS = frozenset(FIELDWORK | {Role.VOLUNTEER})


def casework_scope(family, roles=CASEWORK, **extra):
    """The scope of a record of a family's casework: the family's region, and for the caseload
    roles the families assigned to them. ``family`` is the lookup to the family (``SELF`` for it)."""
    region = f"{family}__region_path" if family != SELF else "region_path"
    return Scope(roles=roles, region=region, family=family, **extra)


SCOPES = {
    "core.region": Scope(roles=ALL, region="path"),
    "core.user": Scope(region="region__path"),
    "core.auditevent": Scope(roles=frozenset({Role.AUDITOR}), region="region_path"),
    "core.notification": Scope(roles=ALL, owner="recipient"),
}


def scopes_declare(scopes):
    """Add an app's models (``{"app.model": Scope}``) to the policy; called from its ``ready()``.
    A model declared twice is a mistake that would silently widen or narrow its reach."""
    for label, scope in scopes.items():
        if SCOPES.get(label, scope) != scope:
            raise ImproperlyConfigured(f"The reach of {label} is declared twice.")
        SCOPES[label] = scope


# Where the family ids come from that decide a user's reach: ``caseload`` (the families assigned to
# a caseload role), ``paired`` (a volunteer's) and ``granted`` (the live emergency grants): each a
# function of (user, now) giving a queryset of rows with a ``family_id``.
_FAMILY_IDS = {}


def family_ids_declare(**sources):
    """Supply, from the app that owns them, the ``caseload``, ``paired`` or ``granted`` rows."""
    unknown = set(sources) - {"caseload", "paired", "granted"}
    if unknown:
        raise ImproperlyConfigured(f"Unknown sources of family ids: {sorted(unknown)}")
    _FAMILY_IDS.update(sources)


def _family_rows(source, user, now=None):
    try:
        rows = _FAMILY_IDS[source]
    except KeyError:
        raise ImproperlyConfigured(f"No installed app declares the {source} families (family_ids_declare).") from None
    return rows(user, now)


def caseload_family_ids(user):
    """Ids of the families currently assigned to ``user``, as a subquery."""
    return _family_rows("caseload", user).values("family_id")


def paired_family_ids(user):
    return _family_rows("paired", user).values("family_id")


def break_glass_family_ids(user):
    """Ids of the families ``user`` opened by break-the-glass and may still see, as a subquery
    (live as of the statement's own time: a compiled statement never carries a moment along)."""
    return live_grants_of(user, now=Now()).values("family_id")


# {user id: holds a live grant} for the request being answered (see ``grants_remembered``).
_grant_memo = contextvars.ContextVar("reach_grant_memo", default=None)


@contextmanager
def grants_remembered():
    """Within the block (one request), whether a user holds a live break-the-glass grant is looked
    up once, however many querysets are restricted. Outside it every call looks it up."""
    if _grant_memo.get() is not None:  # already inside one
        yield
        return
    token = _grant_memo.set({})
    try:
        yield
    finally:
        _grant_memo.reset(token)


class GrantMemoMiddleware:
    """One ``grants_remembered`` block around each request: pages, admin and API alike."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with grants_remembered():
            return self.get_response(request)


def grant_saved(sender, instance, **kwargs):
    """Connected by the app that keeps the grants: a grant opened or ended during the request is
    looked up again at the next ``restrict()``."""
    memo = _grant_memo.get()
    if memo is not None:
        memo.pop(instance.user_id, None)


def live_grants_of(user, now=None):
    """The live break-the-glass grants of ``user`` (a user or an ``OuterRef`` to one's id) at
    ``now`` (a time or an expression such as ``Now()``; default: this moment)."""
    return _family_rows("granted", user, now)


def remember_live_grant(user, held):
    """Record, for the current request, whether ``user`` holds a live grant (read along with the
    user, e.g. by the API's token authentication, so that ``holds_live_grant`` needs no query)."""
    memo = _grant_memo.get()
    if memo is not None:
        memo[user.pk] = held


def holds_live_grant(user):
    """Whether ``user`` holds any live break-the-glass grant: one indexed query, once per request
    (a grant saved meanwhile makes it look again). Remembering can never widen reach: which
    grants are live is decided again by the grant subquery whenever rows are read."""
    memo = _grant_memo.get()
    if memo is not None and user.pk in memo:
        return memo[user.pk]
    held = live_grants_of(user).exists()
    remember_live_grant(user, held)
    return held


def scope_for(model):
    return SCOPES.get(model._meta.label_lower)


def can_use(user, model):
    """Whether the user's role may see any row of ``model`` at all."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    scope = scope_for(model)
    return scope is not None and (user.role in REGION_ROLES or user.role in scope.roles)


def restrict(queryset, user):
    """``queryset`` narrowed to the rows ``user`` may see; nothing for an unknown model or role."""
    model = queryset.model
    if not can_use(user, model):
        return queryset.none()
    if user.is_superuser:
        return queryset
    scope = scope_for(model)
    if scope.owner:
        return queryset.filter(**{scope.owner: user})
    if scope.is_reference:
        return queryset
    condition = Q()
    if scope.region and user.reach_path:
        condition = Q(**{f"{scope.region}__startswith": user.reach_path})
        if scope.also_region:
            condition |= Q(**{f"{scope.also_region}__startswith": user.reach_path})
        if scope.usable_below:  # or defined for a region above the user's: the user's path extends it
            condition |= Q(StartsWith(Value(user.reach_path), F(scope.region)))
    role = user.role
    if role in CASELOAD_ROLES and scope.family:
        condition = _unestimated(condition) & Q(**{f"{scope.family}__in": caseload_family_ids(user)})
    if role == Role.VOLUNTEER and scope.volunteer:
        if scope.volunteer == "pairings__volunteer":
            condition &= Q(pk__in=paired_family_ids(user))
        elif scope.volunteer == SELF:
            condition &= Q(user=user)
        else:
            condition &= Q(**{f"{scope.volunteer}__user": user})
    # An emergency grant (casemgmt.security) opens one family for a few hours, with a reason. (An
    # empty condition already sees everything.)
    if scope.family and role in BREAK_GLASS_ROLES and condition and holds_live_grant(user):
        condition |= Q(**{f"{scope.family}__in": break_glass_family_ids(user)})
    return queryset.filter(condition)


def _unestimated(condition):
    """``condition`` in a form PostgreSQL does not estimate (it assumes half the rows pass).

    A caseload lies inside the worker's region, but the planner multiplies the two selectivities
    as if they were independent: 21,900 families of a million times 2% of the city makes ~500, so
    it fetches all 21,900 and sorts them instead of walking the due-date index for the first 50
    (the bare limit's plan). Left opaque, the caseload estimate decides."""
    if not condition:
        return condition
    return Q(Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()))


def reach_shape(user):
    """Everything about ``user`` that shapes ``restrict``'s condition, except the user's id and
    region: two users of one role get the same statement with their own id and region path in it
    (``compiled_in_reach``), so the statements kept grow with roles, never with people or places."""
    if not (user and user.is_authenticated):
        return None
    return (user.is_active, user.is_superuser, user.role, bool(user.reach_path),
            user.role in BREAK_GLASS_ROLES and holds_live_grant(user))


class _ReachStatements:
    """Reads in reach whose SQL the ORM writes once per reach shape (``casemgmt.core.statements``).

    ``get(user, key, build, **values)`` gives ``build(user, **values)``'s statement: compiled the
    first time ``key`` meets the user's ``reach_shape``, with a stand-in for the user (a copy whose
    id and region path are parameters no id or path can be), and afterwards only the user's id,
    region path and ``values`` rebound. Compiling a restricted queryset (reach condition, caseload
    subquery, projection) cost a family's page more than running it."""

    def __init__(self):
        self.statements = CompiledStatements()

    def get(self, user, key, build, **values):
        shape = reach_shape(user)
        held = bool(shape and shape[-1])

        def build_for(user_id, region_id=None, region_path=None, **values):
            stand_in = copy.copy(user)
            stand_in.pk = user_id
            if region_id is not None:  # the region whose path ``restrict`` reads: a copy of its own
                region = copy.copy(user.region)
                region.pk, region.path = region_id, region_path
                stand_in.region = region
            with grants_remembered():
                remember_live_grant(stand_in, held)
                return build(stand_in, **values)

        if shape is not None and user.region_id is not None:
            values = {"region_id": user.region_id, "region_path": user.reach_path, **values}
        return self.statements.get((key, shape), build_for, user_id=user.pk, **values)

    def kept(self):
        return self.statements.kept()

    @property
    def hits(self):
        return self.statements.hits

    @property
    def misses(self):
        return self.statements.misses

    def clear(self):
        self.statements.clear()


compiled_in_reach = _ReachStatements()


def writable(user, obj):
    """Whether ``user`` may change or delete ``obj``, a row they can read: a catalogue defined above
    the user's region is used there, never rewritten there."""
    scope = scope_for(type(obj))
    if scope is None or not scope.usable_below or user.is_superuser:
        return True
    path = obj
    for step in scope.region.split("__"):
        path = getattr(path, step, None)
    return region_within_reach(user, path or "")


def region_within_reach(user, path):
    """Whether a region path lies inside the user's subtree (used when writing)."""
    if user.is_superuser or (user.role == Role.ADMIN and not user.region_id):
        return True
    return bool(path) and path.startswith(user.reach_path)
