"""The permission-matrix vocabulary: who should see what, written independently of reach.py.

See casemgmt/api/README.md for the entry format. Each route's policy says, per role, which of the
three scope objects it may read (or DENY = 403 for the whole model), which roles may perform each
write operation, and how to build the object of each scope.
"""
from dataclasses import dataclass, field

ROLES = ("anonymous", "alice", "bob", "carol", "manager", "coordinator", "volunteer", "auditor", "contact")
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
SCOPES = ("own", "colleague", "outside")
DENY = "deny"


def Sees(**by_role):  # noqa: N802 — reads like a declaration in the tables
    missing = SIGNED_IN - set(by_role)
    assert not missing, f"no read expectation for {sorted(missing)}"
    return {role: DENY if value == DENY else frozenset(value) for role, value in by_role.items()}


# Families and everything hanging off them: the caseload decides for social workers and contacts.
CASEWORK = Sees(alice={"own"}, bob={"colleague"}, carol={"outside"}, manager={"own", "colleague"}, coordinator=DENY,
                volunteer=DENY, auditor=DENY, contact={"own"})
# Coordinators see families and members in their region (without sensitive fields); volunteers see
# the families paired with them.
FAMILY = {**CASEWORK, "coordinator": frozenset({"own", "colleague"}), "volunteer": frozenset({"own"})}
MEMBER = {**FAMILY, "volunteer": DENY}
# Reference data every casework role reads whole.
CASEWORK_REFERENCE = Sees(alice=SCOPES, bob=SCOPES, carol=SCOPES, manager=SCOPES, coordinator=DENY, volunteer=DENY,
                          auditor=DENY, contact=SCOPES)

SOCIAL_WORKERS = {"alice", "bob", "carol"}
CASE_WRITERS = SOCIAL_WORKERS | {"manager"}


@dataclass
class RoutePolicy:
    read: dict
    make: object  # (world, scope) -> object of this route in that scope
    write: dict = field(default_factory=dict)  # op ("create", "update", "destroy", action) -> roles
    rows: object = None  # (world, scope) -> every row of that scope the list may return (default: [make])
    list_exact: bool = True  # False: the list is compared within the scope rows only


@dataclass
class World:
    people: dict  # role -> user (no "anonymous")
    families: dict  # scope -> family
    regions: dict
    region_of: dict  # scope -> the family's village
    owner_of: dict  # scope -> the social worker owning that scope's family
