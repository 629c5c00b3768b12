"""Services' part of the reach policy (``casemgmt.core.reach``): sites, activities, insurance, funds
and check-ups. Declared from ``ServicesConfig.ready``."""
from casemgmt.core.models import Role
from casemgmt.core.reach import CASEWORK, FIELDWORK, WITH_VOLUNTEERS, Scope, casework_scope

SCOPES = {
    "services.servicesite": Scope(roles=WITH_VOLUNTEERS, region="region__path"),
    "services.activity": Scope(roles=WITH_VOLUNTEERS, region="region__path"),
    "services.activityattendance": Scope(roles=FIELDWORK, region="activity__region__path"),
    "services.activityinvitation": Scope(roles=FIELDWORK, region="activity__region__path"),
    "services.fund": Scope(roles=frozenset({Role.VOLUNTEER_COORDINATOR}), region="region__path", usable_below=True),
    "services.insurancepolicy": Scope(roles=CASEWORK, region="region__path", usable_below=True),
    "services.insuredperson": casework_scope("member__family"),
    "services.insuranceclaim": casework_scope("member__family"),
    "services.disbursement": Scope(roles=CASEWORK, region="fund__region__path", family="family"),
    "services.healthcheckup": casework_scope("member__family"),
    "services.consolationvisit": casework_scope("family"),
    # Paid for a policy of a region; a payment for one person belongs to that person's family too.
    "services.premiumpayment": Scope(roles=CASEWORK, region="policy__region__path", family="member__family"),
}
