"""Families' part of the reach policy (``casemgmt.core.reach``): who sees which casework rows, and
which families make up a caseload. Declared from ``FamiliesConfig.ready``."""
from casemgmt.core.reach import CASEWORK, FIELDWORK, SELF, WITH_VOLUNTEERS, Scope, casework_scope

from .models import ContactAssignment

SCOPES = {
    # Coordinators see families and members to pair volunteers and take attendance (serializers
    # and the admin leave sensitive fields out for them); volunteers see the families paired with them.
    "families.family": casework_scope(SELF, roles=WITH_VOLUNTEERS, volunteer="pairings__volunteer"),
    "families.familymember": casework_scope("family", roles=FIELDWORK),
    "families.familystatuschange": casework_scope("family"),
    "families.risklevelchange": casework_scope("family"),
    "families.contactassignment": casework_scope("family"),
    "families.checkin": casework_scope("family"),
    "families.assessment": casework_scope("family"),
    "families.careplan": casework_scope("family"),
    "families.careplangoal": casework_scope("plan__family"),
    "families.caretask": casework_scope("family"),
    "families.assistanceenrollment": casework_scope("family"),
    "families.annualreview": casework_scope("enrollment__family"),
    "families.consentrecord": casework_scope("family"),
    "families.familytransfer": casework_scope("family", also_region="to_region__path"),
    "families.assessmentscale": Scope(roles=CASEWORK, is_reference=True),
    "families.assistancerate": Scope(roles=CASEWORK, is_reference=True),
    "families.cadencerule": Scope(roles=CASEWORK, is_reference=True),
}


def caseload(user, now=None):
    """The open assignments of ``user``: their caseload."""
    return ContactAssignment.objects.filter(user=user, ended_on__isnull=True)

