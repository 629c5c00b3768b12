"""Matrix expectations for the routes of casemgmt.api itself."""
import datetime

from django.utils import timezone

from casemgmt.api.models import ApiToken
from casemgmt.core.models import AuditEvent, Notification
from tests.api.matrix import DENY, SCOPES, SIGNED_IN, RoutePolicy, Sees

ROUTE_POLICIES = {
    # The region tree: everybody reads their own subtree.
    "region": RoutePolicy(
        read=Sees(alice={"own", "colleague"}, bob={"own", "colleague"}, carol={"outside"},
                  manager={"own", "colleague"}, coordinator={"own", "colleague"}, volunteer={"own", "colleague"},
                  auditor=SCOPES, contact={"own", "colleague"}),
        make=lambda world, scope: world.region_of[scope],
        list_exact=False,
    ),
    # The audit trail: auditors only (region managers may not read it), within their subtree.
    "auditevent": RoutePolicy(
        read=Sees(alice=DENY, bob=DENY, carol=DENY, manager=DENY, coordinator=DENY, volunteer=DENY, auditor=SCOPES,
                  contact=DENY),
        make=lambda world, scope: AuditEvent.objects.create(
            event="test.matrix", region_path=world.families[scope].region_path, family_id=world.families[scope].pk),
        list_exact=False,
    ),
    # Notifications: each person reads and marks only their own.
    "notification": RoutePolicy(
        read=Sees(alice={"own"}, bob={"colleague"}, carol={"outside"}, manager=set(), coordinator=set(),
                  volunteer=set(), auditor=set(), contact=set()),
        make=lambda world, scope: Notification.objects.create(
            recipient=world.owner_of[scope], kind="test", title=f"n-{scope}", dedup_key=f"matrix-{scope}"),
        write={"read": SIGNED_IN, "read_all": SIGNED_IN},
    ),
    # Personal tokens: each person sees and revokes only their own.
    "apitoken": RoutePolicy(
        read=Sees(alice={"own"}, bob={"colleague"}, carol={"outside"}, manager=set(), coordinator=set(),
                  volunteer=set(), auditor=set(), contact=set()),
        make=lambda world, scope: ApiToken.issue(user=world.owner_of[scope], name=f"t-{scope}",
                                                 expires_at=timezone.now() + datetime.timedelta(days=1))[0],
        # Minting needs a signed-in session with a fresh second factor, which the matrix's callers lack
        # (tests/security/test_tokens.py mints with one).
        write={"create": frozenset(), "destroy": SIGNED_IN},
    ),
}
