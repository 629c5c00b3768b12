"""Volunteers' part of the reach policy (``casemgmt.core.reach``): who sees volunteers, training and
pairings, and which families a volunteer is paired with. Declared from ``VolunteersConfig.ready``."""
from casemgmt.core.models import Role
from casemgmt.core.reach import ALL, SELF, WITH_VOLUNTEERS, Scope

from .models import Pairing

SCOPES = {
    "volunteers.skill": Scope(roles=ALL, is_reference=True),
    "volunteers.team": Scope(roles=WITH_VOLUNTEERS, region="region__path"),
    "volunteers.volunteer": Scope(roles=WITH_VOLUNTEERS, region="region__path", volunteer=SELF),
    "volunteers.trainingcourse": Scope(roles=WITH_VOLUNTEERS, region="region__path", usable_below=True),
    "volunteers.trainingsession": Scope(roles=WITH_VOLUNTEERS, region="region__path"),
    "volunteers.enrollment": Scope(roles=WITH_VOLUNTEERS, region="session__region__path", volunteer="volunteer"),
    "volunteers.qualification": Scope(roles=WITH_VOLUNTEERS, region="volunteer__region__path", volunteer="volunteer"),
    "volunteers.pairing": Scope(roles=WITH_VOLUNTEERS, region="family__region_path", family="family", volunteer="volunteer"),
    "volunteers.servicehours": Scope(
        roles=frozenset({Role.VOLUNTEER_COORDINATOR, Role.VOLUNTEER}), region="volunteer__region__path", volunteer="volunteer"
    ),
}


def paired(user, now=None):
    """The open pairings of the volunteer signed in as ``user``."""
    return Pairing.objects.filter(volunteer__user=user, ended_on__isnull=True)
