"""Who sees which personal field, in what form, and what seeing it leaves in the audit trail.

This is the one place that decides it (the table of who sees what, ``docs/privacy.md``). The API's
serializers, the admin's forms and lists, the workspace pages, the exports, the imports' messages,
the calendar feed, notifications and the audit trail's own before/after all ask this module; none
keeps a list of its own. ``manage.py privacy_table`` writes the table below into
``docs/privacy.md``, and tests/privacy builds its cross-surface test from it.

Reach (which rows) is ``reach.restrict``; this module decides which fields of a row in reach, and
how: shown, masked, revealable with a typed reason (masked until then), shown for one's own records
only, or left out. Every personal field of a registered model is classified (``FIELDS``): a field
nobody classified is left out for everybody but administrators, so a new column cannot leak
(tests/privacy checks that every concrete field is listed).
"""
from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .idcard import mask_id_number, mask_name, mask_phone
from .models import Role


class Kind(StrEnum):
    """The classes of field: the rows of the table of who sees what."""

    RECORD = "record"  # the record's own bookkeeping: ids, versions, times it was written
    NAME = "name"  # who and where: names, file number, the village
    PROFILE = "profile"  # category, risk level, status, dates of the casework
    ADDRESS = "address"
    PHONE = "phone"
    ID_NUMBER = "id_number"  # ID numbers and document numbers derived from them
    HEALTH = "health"  # health, mental state, diagnoses, assessment answers, risk reasons
    NOTES = "notes"  # check-in notes and difficulties, case notes
    BANK = "bank"
    VOLUNTEER_CONTACT = "volunteer_contact"  # a volunteer's phone
    VOLUNTEER_ID = "volunteer_id"  # a volunteer's ID number


class Access(StrEnum):
    SHOW = "show"  # plaintext
    REVEAL = "reveal"  # masked; plaintext on request with a typed reason, audited
    MASKED = "masked"  # masked, never plaintext
    OWN = "own"  # plaintext on the reader's own records (``OWNERS``), left out on the others
    HIDDEN = "hidden"  # left out


# Reads of these leave an audit row whenever a value is shown in plaintext, on every surface.
AUDITED_KINDS = frozenset({Kind.PHONE, Kind.ID_NUMBER, Kind.HEALTH, Kind.NOTES, Kind.BANK, Kind.VOLUNTEER_CONTACT,
                           Kind.VOLUNTEER_ID})
# Never written into the audit trail's before/after: the row says which field changed, not its value.
REDACTED_KINDS = AUDITED_KINDS | {Kind.ADDRESS}
REDACTED = "[redacted]"
# Whole identifiers: found by exact match only, which confirms a number the searcher already has.
IDENTIFIER_KINDS = frozenset({Kind.PHONE, Kind.ID_NUMBER, Kind.VOLUNTEER_CONTACT, Kind.VOLUNTEER_ID})

A, RM, SW, CP, VC, V, AU = (Role.ADMIN, Role.REGION_MANAGER, Role.SOCIAL_WORKER, Role.CONTACT_PERSON,
                            Role.VOLUNTEER_COORDINATOR, Role.VOLUNTEER, Role.AUDITOR)
S, R, M, OW, H = Access.SHOW, Access.REVEAL, Access.MASKED, Access.OWN, Access.HIDDEN
ROLES = (A, RM, SW, CP, VC, V, AU)

TABLE = {
    #                       admin  manager  social worker  contact  coordinator  volunteer  auditor
    Kind.RECORD:            dict(zip(ROLES, (S, S, S, S, S, S, S), strict=True)),
    Kind.NAME:              dict(zip(ROLES, (S, S, S, S, S, S, S), strict=True)),
    Kind.PROFILE:           dict(zip(ROLES, (S, S, S, S, S, H, S), strict=True)),
    # Coordinators and volunteers learn the village (the family's region, of kind NAME), not the address.
    Kind.ADDRESS:           dict(zip(ROLES, (S, S, S, S, H, H, M), strict=True)),
    Kind.PHONE:             dict(zip(ROLES, (R, R, R, R, H, H, M), strict=True)),
    # Contact persons phone the family; an ID number they need rarely: masked, and no reveal.
    Kind.ID_NUMBER:         dict(zip(ROLES, (R, R, R, M, H, H, M), strict=True)),
    # Contact persons see the risk level (PROFILE), not its reasons.
    Kind.HEALTH:            dict(zip(ROLES, (R, R, S, H, H, H, H), strict=True)),
    Kind.NOTES:             dict(zip(ROLES, (S, S, S, OW, H, H, H), strict=True)),
    Kind.BANK:              dict(zip(ROLES, (R, H, H, H, H, H, H), strict=True)),
    # A volunteer's own phone and training records are their coordinator's working data; above the
    # coordinator a volunteer's phone is revealed like a family's.
    Kind.VOLUNTEER_CONTACT: dict(zip(ROLES, (R, R, H, H, S, OW, M), strict=True)),
    # Needed for insurance and background checks at the association, never in the field.
    Kind.VOLUNTEER_ID:      dict(zip(ROLES, (R, R, H, H, H, H, M), strict=True)),
}


def _mask_text(value):
    return "***" if value else ""


def _mask_account(value):
    return "*" * max(len(value) - 4, 0) + value[-4:] if value else ""


def _mask_address(value):
    # The first few characters name the street or the compound; the rest (number, flat) go.
    return value[:4] + "***" if value else ""


MASKERS = {"id_number": mask_id_number, "phone": mask_phone, "name": mask_name, "text": _mask_text,
           "account": _mask_account, "address": _mask_address}
DEFAULT_MASKER = {Kind.ADDRESS: "address", Kind.PHONE: "phone", Kind.ID_NUMBER: "id_number", Kind.BANK: "account",
                  Kind.VOLUNTEER_CONTACT: "phone", Kind.VOLUNTEER_ID: "id_number"}


@dataclass(frozen=True)
class Field:
    kind: Kind
    masker: str = ""  # a key of MASKERS; default by kind, else "text"

    @property
    def mask(self):
        return MASKERS[self.masker or DEFAULT_MASKER.get(self.kind, "text")]


def _fields(**kinds):
    return {name: spec if isinstance(spec, Field) else Field(spec) for name, spec in kinds.items()}


_REC = dict(id=Kind.RECORD, created_at=Kind.RECORD, updated_at=Kind.RECORD, version=Kind.RECORD)
K = Kind

# Every concrete field of each model that holds personal data about a family or a volunteer.
FIELDS = {
    "families.family": _fields(
        **_REC, file_number=K.NAME, region=K.NAME, region_path=K.NAME, category=K.PROFILE, residence=K.PROFILE,
        status=K.PROFILE, status_changed_at=K.PROFILE, risk_level=K.PROFILE, risk_assessed_at=K.PROFILE,
        registered_on=K.PROFILE, last_checkin_at=K.PROFILE, next_checkin_due=K.PROFILE, last_home_visit_at=K.PROFILE,
        next_home_visit_due=K.PROFILE, address=K.ADDRESS, status_reason=K.NOTES, notes=K.NOTES, risk_reason=K.HEALTH,
    ),
    "families.familymember": _fields(
        **_REC, family=K.NAME, name=K.NAME, name_pinyin=K.NAME, name_initials=K.NAME, relation=K.PROFILE,
        birth_date=K.PROFILE, sex=K.PROFILE, birthday_calendar=K.PROFILE, lunar_birth_month=K.PROFILE,
        lunar_birth_day=K.PROFILE, is_deceased=K.PROFILE, death_date=K.PROFILE,
        id_number=K.ID_NUMBER, id_number_index=Field(K.ID_NUMBER, "text"), phone=K.PHONE,
        phone_index=Field(K.PHONE, "text"),
        # The certificate number is the ID number followed by the kind and grade: it is an ID number.
        disability_certificate_number=Field(K.ID_NUMBER, "account"), disability_grade=K.HEALTH,
        health_conditions=K.HEALTH, family_doctor=K.HEALTH, family_doctor_institution=K.HEALTH,
        family_doctor_signed_on=K.HEALTH, family_doctor_expires_on=K.HEALTH,
    ),
    "families.checkin": _fields(
        **_REC, family=K.NAME, occurred_at=K.PROFILE, recorded_by=K.PROFILE, channel=K.PROFILE,
        follow_up_due=K.PROFILE, physical_state=K.HEALTH, mental_state=K.HEALTH, mental_notes=K.HEALTH,
        difficulties=K.NOTES, needs=K.NOTES, help_given=K.NOTES, follow_up=K.NOTES,
    ),
    "families.assessment": _fields(
        **_REC, family=K.NAME, member=K.NAME, scale=K.PROFILE, assessed_by=K.PROFILE, assessed_at=K.PROFILE,
        score=K.HEALTH, resulting_risk=K.HEALTH, notes=K.HEALTH,
    ),
    "families.risklevelchange": _fields(
        id=K.RECORD, family=K.NAME, from_level=K.PROFILE, to_level=K.PROFILE, assessment=K.PROFILE,
        changed_by=K.PROFILE, changed_at=K.PROFILE, reason=K.HEALTH,
    ),
    "families.familystatuschange": _fields(
        id=K.RECORD, family=K.NAME, from_status=K.PROFILE, to_status=K.PROFILE, changed_by=K.PROFILE,
        changed_at=K.PROFILE, reason=K.NOTES,
    ),
    "families.careplangoal": _fields(
        id=K.RECORD, plan=K.NAME, status=K.PROFILE, target_date=K.PROFILE, description=K.NOTES,
    ),
    "families.careplan": _fields(
        **_REC, family=K.NAME, title=K.PROFILE, status=K.PROFILE, owner=K.PROFILE, starts_on=K.PROFILE,
        review_on=K.PROFILE, summary=K.NOTES,
    ),
    "families.assistanceenrollment": _fields(
        **_REC, member=K.NAME, family=K.NAME, status=K.PROFILE, applied_on=K.PROFILE, approved_on=K.PROFILE,
        ended_on=K.PROFILE, end_reason=K.PROFILE, bank_name=Field(K.BANK, "text"), bank_account=K.BANK,
    ),
    "families.annualreview": _fields(
        **_REC, enrollment=K.NAME, year=K.PROFILE, status=K.PROFILE, applied_on=K.PROFILE,
        village_reviewed_on=K.PROFILE, confirmed_on=K.PROFILE, reviewer=K.PROFILE, note=K.NOTES,
    ),
    "services.insuranceclaim": _fields(
        **_REC, policy=K.PROFILE, member=K.NAME, incident_date=K.PROFILE, hospital_days=K.PROFILE,
        amount_claimed=K.PROFILE, amount_settled=K.PROFILE, status=K.PROFILE, filed_on=K.PROFILE,
        settled_on=K.PROFILE, diagnosis=K.HEALTH,
    ),
    "services.healthcheckup": _fields(
        id=K.RECORD, member=K.NAME, date=K.PROFILE, provider=K.PROFILE, site=K.PROFILE, is_free=K.PROFILE,
        cost=K.PROFILE, findings=K.HEALTH,
    ),
    # Money and goods given to a family: figures the bulletin publishes, not a field to hide.
    "services.disbursement": _fields(
        id=K.RECORD, fund=K.PROFILE, kind=K.PROFILE, amount=K.PROFILE, goods=K.PROFILE, family=K.NAME, member=K.NAME,
        volunteer=K.NAME, recipient_name=K.NAME, paid_on=K.PROFILE, period=K.PROFILE, description=K.PROFILE,
        recorded_by=K.PROFILE, outcome=K.PROFILE, outcome_amount=K.PROFILE,
    ),
    "services.consolationvisit": _fields(
        **_REC, family=K.NAME, member=K.NAME, visited_on=K.PROFILE, visitor=K.PROFILE, visiting_party=K.PROFILE,
        occasion=K.PROFILE, cash=K.PROFILE, goods=K.PROFILE, goods_value=K.PROFILE, fund=K.PROFILE, notes=K.PROFILE,
        recorded_by=K.PROFILE,
    ),
    "services.premiumpayment": _fields(
        id=K.RECORD, policy=K.PROFILE, member=K.NAME, paid_on=K.PROFILE, amount=K.PROFILE, reference=K.PROFILE,
        recorded_by=K.PROFILE,
    ),
    "security.familymessage": _fields(
        id=K.RECORD, created_at=K.RECORD, family=K.NAME, member=K.NAME, channel=K.PROFILE, status=K.PROFILE,
        sent_by=K.PROFILE, error=K.PROFILE, text=K.NOTES,
    ),
    "volunteers.volunteer": _fields(
        **_REC, name=K.NAME, name_initials=K.NAME, region=K.NAME, team=K.NAME, professional_title=K.PROFILE,
        availability=K.PROFILE, status=K.PROFILE, joined_on=K.PROFILE, user=K.PROFILE,
        phone=K.VOLUNTEER_CONTACT, phone_index=Field(K.VOLUNTEER_CONTACT, "text"),
        id_number=K.VOLUNTEER_ID, id_number_index=Field(K.VOLUNTEER_ID, "text"),
    ),
}
# The field naming the user whose own record it is, for Access.OWN.
OWNERS = {"families.checkin": "recorded_by_id", "volunteers.volunteer": "user_id"}


def label_of(model):
    """``"app.model"`` of a model class, an instance or a label."""
    return model if isinstance(model, str) else model._meta.label_lower


def role_of(user):
    if not (user is not None and user.is_authenticated and user.is_active):
        return None
    return Role.ADMIN if user.is_superuser else user.role


def field_of(model, name):
    """The ``Field`` of ``name`` on a registered model (a ``_id`` attname names its field), or None
    for a model this policy does not govern."""
    fields = FIELDS.get(label_of(model))
    if fields is None:
        return None
    spec = fields.get(name) or (fields.get(name[:-3]) if name.endswith("_id") else None)
    # Unclassified: treated as the most restricted kind (tests/privacy keeps the list complete).
    return spec or Field(Kind.BANK)


def governs(model):
    return label_of(model) in FIELDS


def access(user, model, name):
    """How ``user`` gets field ``name`` of ``model``: an ``Access``. Fields of models this policy
    does not govern are shown; an anonymous or inactive user gets nothing."""
    role = role_of(user)
    if role is None:
        return Access.HIDDEN
    spec = field_of(model, name)
    if spec is None:
        return Access.SHOW
    return TABLE[spec.kind].get(role, Access.HIDDEN)


def view_of(user, model, names):
    """``{name: Access}`` for several fields: what a serializer or a form asks once per request."""
    return {name: access(user, model, name) for name in names}


def is_own(user, obj):
    owner = OWNERS.get(label_of(obj))
    return bool(owner) and getattr(obj, owner, None) == user.pk


@dataclass(frozen=True)
class Shown:
    """One field as ``user`` sees it: ``value`` (plaintext, masked or None when left out), how
    (``access``), whether it can be revealed, and whether showing it must be audited."""

    value: object
    access: Access
    plaintext: bool

    @property
    def hidden(self):
        return self.access == Access.HIDDEN or (self.access == Access.OWN and not self.plaintext)

    @property
    def revealable(self):
        return self.access == Access.REVEAL


def present(user, obj, name, value=None):
    """Field ``name`` of ``obj`` as ``user`` may see it (``value``: the plaintext, if already read)."""
    how = access(user, obj, name)
    if value is None:
        value = getattr(obj, name, None)
    return present_value(obj, name, value, how, own=how == Access.OWN and is_own(user, obj))


def present_value(model, name, value, how, *, own=False):
    """``value`` of field ``name`` of ``model`` for a reader who gets it as ``how``."""
    if how == Access.SHOW or (how == Access.OWN and own):
        return Shown(value, how, True)
    if how in (Access.REVEAL, Access.MASKED):
        spec = field_of(model, name)
        masked = spec.mask(value) if value and isinstance(value, str) else (value if not value else "***")
        return Shown(masked, how, False)
    return Shown(None, how, False)


def audited_fields(model, names):
    """Of ``names``, the fields of ``model`` whose plaintext reads are audited."""
    fields = FIELDS.get(label_of(model))
    if fields is None:
        return []
    return [name for name in names if field_of(model, name).kind in AUDITED_KINDS]


def searchable(user, model, name):
    """Whether ``user`` may find rows of ``model`` by the value of ``name``. A search or filter
    tells the value of the rows it finds, so only by a field they see in plaintext, or by a whole
    identifier they already hold (an exact phone or ID number, matched by its blind index) when
    the field is theirs to reveal or see masked. Never by a masked health note or someone else's notes."""
    how = access(user, model, name)
    if how == Access.SHOW:
        return True
    return how in (Access.REVEAL, Access.MASKED) and field_of(model, name).kind in IDENTIFIER_KINDS


# Searching by the last digits of an ID number: who may, and how many digits.
SUFFIX_SEARCH_ROLES = frozenset({Role.SOCIAL_WORKER, Role.CONTACT_PERSON})
ID_SUFFIX_LENGTHS = range(4, 7)


def searchable_by_suffix(user, model, name):
    """Whether ``user`` may find rows of ``model`` by the last 4 to 6 characters of ``name`` (an ID
    number): people on the phone give "the one ending in 0423", not 18 digits.

    Safe enough because it tells nothing new, to nobody outside a caseload:
    - only caseload roles, and the search looks at their own caseload only (a few hundred people),
      never at a region where thousands share any four digits: it picks out one of the reader's own
      families, it cannot list strangers or enumerate a region;
    - the last four characters are already in the masked number every such reader sees
      (``350624********0423``); five and six add the day of birth, which the reader sees anyway
      (a member's birth date is of kind PROFILE);
    - nothing is stored for it: no index of suffixes whose small key space (10⁴–10⁶) a stolen
      database could be matched against; the caseload's numbers are decrypted and compared in memory."""
    spec = field_of(model, name)
    return (role_of(user) in SUFFIX_SEARCH_ROLES and spec is not None and spec.kind == Kind.ID_NUMBER
            and access(user, model, name) in (Access.SHOW, Access.REVEAL, Access.MASKED))


def hidden_for(user, model, names):
    """Of ``names``, the fields ``user`` never gets (not even masked) on any row of ``model``."""
    return [name for name in names if access(user, model, name) == Access.HIDDEN]


# ---- acts the policy decides --------------------------------------------------------------------

REVEAL_SECONDS = 60  # how long a surface shows a revealed value before masking it again
MIN_REASON_LENGTH = 2
# Acts that need a second factor entered in the last STEP_UP_SECONDS (casemgmt.security.stepup).
STEP_UP_ACTS = frozenset({"api.token.issue", "export.unmasked", "breakglass.open"})
UNMASKED_EXPORT_ROLES = frozenset({Role.ADMIN, Role.REGION_MANAGER})
# Signing in needs a second factor for every role that works with families' data; a volunteer
# (name and village of the families paired with them) needs one only when they are also staff.
SECOND_FACTOR_ROLES = frozenset(ROLES) - {Role.VOLUNTEER}


def needs_second_factor(user):
    return bool(user.is_staff or user.is_superuser or getattr(user, "role", "") in SECOND_FACTOR_ROLES)


def needs_step_up(act):
    return act in STEP_UP_ACTS


def may_export_unmasked(user):
    return role_of(user) in UNMASKED_EXPORT_ROLES


def may_reveal(user, model, name):
    return access(user, model, name) in (Access.REVEAL, Access.SHOW)


def revealable_fields(user, model, names):
    return [name for name in names if access(user, model, name) == Access.REVEAL]


def clean_reason(reason):
    reason = " ".join((reason or "").split())
    if len(reason) < MIN_REASON_LENGTH:
        raise ValidationError({"reason": _("Say why you need to see it.")}, code="required")
    return reason[:500]


# ---- what leaves the system: list exports, calendar feeds, e-mail, SMS, notifications -------------

# A person's name, as opposed to the other fields of kind NAME (a file number, a village): it leaves
# the system masked (王*英); its spellings (pinyin, initials) would give it away, so they do not leave.
PERSON_NAMES = {
    "families.familymember": {"name": Access.MASKED, "name_pinyin": Access.HIDDEN, "name_initials": Access.HIDDEN},
    "volunteers.volunteer": {"name": Access.MASKED, "name_initials": Access.HIDDEN},
}
# Text sent out of the system (a calendar app, a mail box, a phone's SMS inbox: read on a lock screen,
# forwarded, synced to other clouds) carries at most these; the family's file number names the case
# to whoever may open it. A notification is mailed and texted as it is stored, so it counts too.
OUTBOUND = {kind: Access.SHOW if kind in (Kind.RECORD, Kind.NAME, Kind.PROFILE) else Access.HIDDEN for kind in Kind}
_STRICTNESS = {Access.SHOW: 0, Access.OWN: 1, Access.REVEAL: 2, Access.MASKED: 3, Access.HIDDEN: 4}


def _stricter(first, second):
    return first if _STRICTNESS[first] >= _STRICTNESS[second] else second


def outbound_access(model, name, user=None):
    """How field ``name`` of ``model`` may appear in text that leaves the system: SHOW, MASKED or
    HIDDEN. ``user``: the recipient (the text carries no more than they may see); None when the
    caller sends it only to people entitled to the record (a family's own contacts)."""
    spec = field_of(model, name)
    if spec is None:
        return Access.SHOW
    how = PERSON_NAMES.get(label_of(model), {}).get(name, OUTBOUND[spec.kind])
    if user is not None:
        how = _stricter(how, access(user, model, name))
    # Nothing is revealed in a text nobody can ask again, and a text is not one of the recipient's records.
    return {Access.REVEAL: Access.MASKED, Access.OWN: Access.HIDDEN}.get(how, how)


def outbound(model, name, value, user=None):
    """``value`` of field ``name`` of ``model`` as text that leaves the system may carry it: the
    value, masked, or "" (``outbound_access``)."""
    how = outbound_access(model, name, user)
    if how == Access.SHOW:
        return "" if value is None else str(value)
    if how == Access.MASKED and value:
        return str(_masked(model, name, value))
    return ""


def _masked(model, name, value):
    if name in PERSON_NAMES.get(label_of(model), {}):
        return mask_name(value)
    return present_value(model, name, value, Access.MASKED).value


def export_access(user, model, name, *, unmasked=False):
    """How field ``name`` of ``model`` goes into a list export (a file that leaves the system) for
    ``user``: a column in plaintext (SHOW), masked (MASKED), or no column at all (HIDDEN).

    A masked list (the default, and always the public posting list) carries personal values masked:
    names, addresses, phones, ID numbers, whatever the user may otherwise see of them. An unmasked
    list (``may_export_unmasked``: a reason and a fresh second factor besides) carries in plaintext
    what the user may see or reveal. A field the user never gets is no column in either, and a list
    is nobody's own record."""
    how = access(user, model, name)
    if how in (Access.HIDDEN, Access.OWN):
        return Access.HIDDEN
    if unmasked and may_export_unmasked(user):
        return Access.SHOW if how == Access.REVEAL else how
    spec = field_of(model, name)
    personal = spec is not None and (spec.kind in REDACTED_KINDS or name in PERSON_NAMES.get(label_of(model), {}))
    if how == Access.REVEAL or (how == Access.SHOW and personal):
        return Access.MASKED
    return how


def export_value(model, name, value, how):
    """``value`` as an export column of access ``how`` (``export_access``) carries it."""
    if how == Access.SHOW:
        return value
    if how == Access.MASKED:
        return _masked(model, name, value) if value else value
    return None


# ---- the audit trail ----------------------------------------------------------------------------

def read_event(surface, model, kind="viewed"):
    """The event name of a read on a surface: ``admin.families.family.viewed``,
    ``api.families.family.retrieve``."""
    meta = model._meta
    return f"{surface}.{meta.app_label}.{meta.model_name}.{kind}"


def reveal_event(model):
    """One act, one name, whatever the surface: ``families.familymember.revealed``."""
    meta = model._meta
    return f"{meta.app_label}.{meta.model_name}.revealed"


def _sensitive_names():
    return frozenset(name for fields in FIELDS.values() for name, spec in fields.items() if spec.kind in REDACTED_KINDS)


SENSITIVE_NAMES = _sensitive_names()


def redact(object_type, data):
    """``data`` (an audit row's before or after) without the values of sensitive fields: the key
    stays, so the row still says which field changed. Fields of ``object_type`` are judged by the
    table; keys of any other object are judged by name (a ``phone`` is a phone wherever it is)."""
    if not isinstance(data, dict):
        return data
    fields = FIELDS.get(object_type or "")
    cleaned = {}
    for key, value in data.items():
        if fields is not None and key in fields:
            sensitive = fields[key].kind in REDACTED_KINDS
        else:
            sensitive = key in SENSITIVE_NAMES
        if sensitive and value not in (None, "", [], {}):
            cleaned[key] = REDACTED
        elif isinstance(value, dict):
            cleaned[key] = redact(object_type, value)
        else:
            cleaned[key] = value
    return cleaned


def reveal(*, actor, obj, names, reason, surface, ip=None):
    """The plaintext of fields ``names`` of ``obj`` for ``actor``, and the audit row of it (event
    ``reveal_event``, the reason, the field names, never the values). ``obj`` must be in the
    actor's reach already (the caller found it through a restricted selector)."""
    from .audit import audit_log, family_of, region_of

    names = list(dict.fromkeys(names))
    refused = [name for name in names if not may_reveal(actor, obj, name)]
    if not names or refused:
        raise PermissionDenied(_("Your role may not see these fields: %(names)s.") % {"names": ", ".join(refused)})
    reason = clean_reason(reason)
    audit_log(actor=actor, event=reveal_event(obj), obj=obj, family_id=family_of(obj), region_path=region_of(obj),
              after={"fields": names, "surface": surface}, reason=reason, ip=ip)
    return {name: getattr(obj, name) or "" for name in names}


def record_view(*, actor, surface, objects, names, ip=None, kind="viewed"):
    """The audit row of a page that showed ``actor`` the plaintext of audited fields ``names`` of
    ``objects`` (one model); nothing when no such field was shown."""
    from .audit import audit_log, family_of, region_of

    objects = [obj for obj in objects if obj is not None]
    shown = audited_fields(objects[0], names) if objects else []
    if not shown:
        return None
    families = {family_of(obj) for obj in objects} - {None}
    regions = {region_of(obj) for obj in objects}
    return audit_log(actor=actor, event=read_event(surface, type(objects[0]), kind), objects=objects,
                     family_id=families.pop() if len(families) == 1 else None,
                     region_path=_common_prefix(regions) if regions else None, after={"fields": sorted(shown)}, ip=ip)


def _common_prefix(paths):
    """The deepest region containing all ``paths`` (an auditor of it sees the row)."""
    paths = [p for p in paths if p is not None]
    if not paths:
        return None
    shortest = min(paths, key=len)
    for length in (12, 9, 6, 4, 2, 0):
        if length <= len(shortest) and all(p.startswith(shortest[:length]) for p in paths):
            return shortest[:length]
    return ""


# ---- the table, for people ------------------------------------------------------------------------

KIND_LABELS = {
    Kind.RECORD: gettext_lazy("record keeping (ids, versions, times)"),
    Kind.NAME: gettext_lazy("name, file number, village"),
    Kind.PROFILE: gettext_lazy("category, risk level, status, casework dates"),
    Kind.ADDRESS: gettext_lazy("address"),
    Kind.PHONE: gettext_lazy("phone"),
    Kind.ID_NUMBER: gettext_lazy("ID number"),
    Kind.HEALTH: gettext_lazy("health, mental state, diagnoses, assessment answers, risk reasons"),
    Kind.NOTES: gettext_lazy("check-in notes and difficulties, case notes"),
    Kind.BANK: gettext_lazy("bank accounts"),
    Kind.VOLUNTEER_CONTACT: gettext_lazy("a volunteer's phone"),
    Kind.VOLUNTEER_ID: gettext_lazy("a volunteer's ID number"),
}


def table_markdown():
    """The policy as the Markdown of docs/privacy.md."""
    lines = ["# Who sees what", "",
             "Generated from `casemgmt/core/privacy.py` by `manage.py privacy_table`; do not edit by hand.", "",
             "show = plaintext; reveal = masked, plaintext on request with a typed reason (audited); masked = "
             "masked only; own = plaintext on one's own records; hidden = left out. Plaintext reads of the kinds "
             "marked * leave an audit row on every surface.", "",
             "| kind | " + " | ".join(str(role) for role in ROLES) + " |",
             "|---|" + "---|" * len(ROLES)]
    for kind, row in TABLE.items():
        star = " *" if kind in AUDITED_KINDS else ""
        lines.append(f"| {kind}{star} | " + " | ".join(str(row[role]) for role in ROLES) + " |")
    lines += ["", "## Fields", ""]
    for label, fields in FIELDS.items():
        by_kind = {}
        for name, spec in fields.items():
            by_kind.setdefault(spec.kind, []).append(name)
        parts = [f"{kind}: {', '.join(sorted(names))}" for kind, names in by_kind.items() if kind != Kind.RECORD]
        lines.append(f"- `{label}` — " + "; ".join(parts))
    owners = ", ".join(f"`{label}` by `{field}`" for label, field in OWNERS.items())
    outbound_kinds = ", ".join(str(kind) for kind, how in OUTBOUND.items() if how == Access.SHOW)
    lines += ["", f"Own records: {owners}.", "",
              "Searches and filters: by fields shown in plaintext, or by a whole "
              f"{', '.join(sorted(str(kind) for kind in IDENTIFIER_KINDS))} the user may reveal or see masked; "
              f"by the last {ID_SUFFIX_LENGTHS.start}–{ID_SUFFIX_LENGTHS.stop - 1} characters of an ID number within "
              f"the caseload of: {', '.join(sorted(str(role) for role in SUFFIX_SEARCH_ROLES))}.",
              f"Text that leaves the system (calendar feeds, e-mail, SMS, notifications): {outbound_kinds} only, "
              "and people's names masked.",
              "Sign-in with a second factor: " + ", ".join(sorted(str(role) for role in SECOND_FACTOR_ROLES))
              + " (and any staff account).",
              f"Second factor no older than a few minutes before: {', '.join(sorted(STEP_UP_ACTS))}.",
              f"Unmasked exports: {', '.join(str(r) for r in sorted(UNMASKED_EXPORT_ROLES))}; public lists are always "
              "masked.", ""]
    return "\n".join(lines)
