"""Each role is a Django group carrying the model permissions the admin checks.

Reach (which rows) is decided by ``reach.restrict``; these permissions decide which actions a role
may take on the rows it can reach. ``sync_role_groups`` runs after every migrate.
"""
from django.apps import apps

from .models import Role

VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"
ALL_ACTIONS = (VIEW, ADD, CHANGE, DELETE)
WORK = (VIEW, ADD, CHANGE)

CASEWORK_MODELS = [
    "families.family", "families.familymember", "families.contactassignment", "families.checkin",
    "families.assessment", "families.careplan", "families.careplangoal", "families.caretask",
    "families.assistanceenrollment", "families.annualreview", "families.consentrecord", "families.familytransfer",
]
HISTORY_MODELS = ["families.familystatuschange", "families.risklevelchange"]
VOLUNTEER_MODELS = [
    "volunteers.team", "volunteers.volunteer", "volunteers.trainingcourse", "volunteers.trainingsession",
    "volunteers.enrollment", "volunteers.qualification", "volunteers.pairing", "volunteers.servicehours",
]
SERVICE_MODELS = [
    "services.servicesite", "services.activity", "services.activityattendance", "services.activityinvitation",
    "services.fund",
    "services.insurancepolicy", "services.insuredperson", "services.insuranceclaim", "services.disbursement",
    "services.healthcheckup", "services.consolationvisit", "services.premiumpayment",
]
REFERENCE_MODELS = ["families.assessmentscale", "families.assistancerate", "families.cadencerule", "volunteers.skill"]

# The Celery beat schedule runs the nightly jobs of the whole country, whoever's region they serve.
BEAT_MODELS = ["django_celery_beat.periodictask", "django_celery_beat.crontabschedule",
               "django_celery_beat.intervalschedule"]


def may_edit_beat_schedule(user):
    """Whether ``user`` may add, change, delete, enable, disable or run the beat schedule's entries:
    superusers and the administrators whose reach is the whole country (no region), never an
    administrator of one city or county, whose model permissions (the role's group) are read-only."""
    if user is None or not user.is_active or not user.is_authenticated:
        return False
    return bool(user.is_superuser or (user.role == Role.ADMIN and user.region_id is None))


PERMISSIONS = {
    Role.ADMIN: {
        **{m: ALL_ACTIONS for m in CASEWORK_MODELS + VOLUNTEER_MODELS + SERVICE_MODELS + REFERENCE_MODELS},
        **{m: (VIEW,) for m in HISTORY_MODELS},
        "core.region": ALL_ACTIONS, "core.user": ALL_ACTIONS, "core.auditevent": (VIEW,),
        "core.notification": (VIEW,),
        # Every administrator may read the schedule; only national ones change it (may_edit_beat_schedule).
        **{m: (VIEW,) for m in BEAT_MODELS},
    },
    Role.REGION_MANAGER: {
        **{m: WORK for m in CASEWORK_MODELS + VOLUNTEER_MODELS + SERVICE_MODELS},
        **{m: (VIEW,) for m in HISTORY_MODELS + REFERENCE_MODELS},
        "core.region": (VIEW,), "core.user": (VIEW,), "core.notification": (VIEW,),
    },
    Role.SOCIAL_WORKER: {
        **{m: WORK for m in CASEWORK_MODELS},
        **{m: (VIEW,) for m in HISTORY_MODELS + ["families.assessmentscale", "families.cadencerule"]},
        "services.insurancepolicy": (VIEW,), "services.insuredperson": (VIEW,), "services.insuranceclaim": WORK,
        "services.healthcheckup": WORK, "services.disbursement": (VIEW,), "services.activity": (VIEW,),
        "services.consolationvisit": WORK, "services.premiumpayment": (VIEW,),
        "services.servicesite": (VIEW,), "volunteers.pairing": (VIEW,), "volunteers.volunteer": (VIEW,),
        "core.region": (VIEW,), "core.notification": (VIEW,),
    },
    Role.CONTACT_PERSON: {
        "families.family": (VIEW,), "families.familymember": (VIEW, CHANGE), "families.contactassignment": (VIEW,),
        "families.checkin": WORK, "families.caretask": (VIEW, CHANGE), "families.consentrecord": (VIEW, ADD),
        **{m: (VIEW,) for m in HISTORY_MODELS},
        "services.activity": (VIEW,), "services.servicesite": (VIEW,), "services.consolationvisit": WORK,
        "core.region": (VIEW,), "core.notification": (VIEW,),
    },
    Role.VOLUNTEER_COORDINATOR: {
        **{m: ALL_ACTIONS for m in VOLUNTEER_MODELS},
        "volunteers.skill": WORK, "families.family": (VIEW,), "families.familymember": (VIEW,),
        "services.servicesite": (VIEW,), "services.activity": WORK, "services.activityattendance": ALL_ACTIONS,
        "services.activityinvitation": ALL_ACTIONS, "services.fund": (VIEW,),
        "core.region": (VIEW,), "core.notification": (VIEW,),
    },
    Role.VOLUNTEER: {"core.notification": (VIEW,)},
    Role.AUDITOR: {"core.auditevent": (VIEW,), "core.region": (VIEW,), "core.notification": (VIEW,)},
}


def sync_role_groups(**kwargs):
    """Create or update one group per role with exactly the permissions listed above."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    by_key = {
        f"{app}.{action}_{model}": pk
        for pk, app, action, model in (
            (p.pk, p.content_type.app_label, p.codename.split("_", 1)[0], p.codename.split("_", 1)[1])
            for p in Permission.objects.select_related("content_type")
        )
    }
    for role, grants in PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = set()
        for label, actions in grants.items():
            app, model = label.split(".")
            wanted.update(by_key[f"{app}.{action}_{model}"] for action in actions if f"{app}.{action}_{model}" in by_key)
        group.permissions.set(wanted)


def group_for(role):
    from django.contrib.auth.models import Group

    return Group.objects.get_or_create(name=role)[0]
