"""The policy itself: it says what the table of who sees what says, it classifies every column
of every model holding personal data, and docs/privacy.md is what it enforces."""
import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from casemgmt.core import privacy
from casemgmt.core.models import Role
from casemgmt.core.privacy import Access, Kind

# The table of who sees what, transcribed by hand (not read from privacy.py): kind -> the seven columns
# administrator, region manager, social worker, contact person, coordinator, volunteer, auditor.
COLUMNS = (Role.ADMIN, Role.REGION_MANAGER, Role.SOCIAL_WORKER, Role.CONTACT_PERSON, Role.VOLUNTEER_COORDINATOR,
           Role.VOLUNTEER, Role.AUDITOR)
DOMAIN_TABLE = {
    Kind.NAME: "show show show show show show show",
    Kind.PROFILE: "show show show show show hidden show",  # volunteers: name + village only
    Kind.ADDRESS: "show show show show hidden hidden masked",  # coordinators/volunteers: the village only
    Kind.PHONE: "reveal reveal reveal reveal hidden hidden masked",
    Kind.ID_NUMBER: "reveal reveal reveal masked hidden hidden masked",
    Kind.HEALTH: "reveal reveal show hidden hidden hidden hidden",
    Kind.NOTES: "show show show own hidden hidden hidden",
    Kind.BANK: "reveal hidden hidden hidden hidden hidden hidden",
}

# Models that point at a family, a member or a volunteer but hold nothing personal beyond the link;
# each says why, so a new model has to be placed on one side or the other.
NOT_PERSONAL = {
    "families.contactassignment": "who works with a family: staff, not family data",
    "families.caretask": "a task's description is written for staff; its family is the link",
    "families.consentrecord": "when consent was given; no content",
    "families.familytransfer": "a transfer between regions",
    "core.notification": "a staff member's notice; its text is built for the recipient by privacy.outbound",
    "volunteers.qualification": "a professional certificate's number, printed on the certificate itself",
    "volunteers.pairing": "why a pairing ended, in staff's words about the pairing",
    "volunteers.servicehours": "what a volunteer did, for their hours",
    "security.breakglassgrant": "the staff member's stated reason, read by auditors",
    "security.anonymisation": "the staff member's stated reason, read by auditors",
}


@pytest.mark.parametrize("kind", list(DOMAIN_TABLE))
def test_the_policy_says_what_the_domain_table_says(kind):
    expected = dict(zip(COLUMNS, (Access(word) for word in DOMAIN_TABLE[kind].split()), strict=True))
    assert privacy.TABLE[kind] == expected


def test_every_role_has_an_answer_for_every_kind():
    for kind in Kind:
        assert set(privacy.TABLE[kind]) == set(Role), kind


@pytest.mark.parametrize("label", sorted(privacy.FIELDS))
def test_every_column_of_a_governed_model_is_classified(label):
    model = apps.get_model(label)
    columns = {field.name for field in model._meta.concrete_fields}
    unclassified = columns - set(privacy.FIELDS[label])
    stale = set(privacy.FIELDS[label]) - columns
    assert not unclassified, f"{label}: classify {sorted(unclassified)} in casemgmt/core/privacy.py FIELDS"
    assert not stale, f"{label}: FIELDS names columns that do not exist: {sorted(stale)}"


def _personal_targets():
    return {apps.get_model(label) for label in ("families.family", "families.familymember", "volunteers.volunteer")}


def test_every_model_about_a_family_or_volunteer_is_governed_or_said_not_personal():
    targets = _personal_targets()
    undecided = []
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in privacy.FIELDS or label in NOT_PERSONAL or model in targets:
            continue
        links = [f for f in model._meta.concrete_fields if f.is_relation and f.related_model in targets]
        texts = [f for f in model._meta.concrete_fields if f.get_internal_type() in ("TextField", "CharField")
                 and not f.choices and f.name not in ("code", "name", "title", "token", "kind")]
        if links and texts:
            undecided.append(f"{label} ({', '.join(f.name for f in texts)})")
    assert not undecided, f"govern these in privacy.FIELDS or say why not in NOT_PERSONAL: {undecided}"


def test_an_unclassified_column_is_hidden_from_everyone_but_administrators():
    assert privacy.field_of("families.family", "a_new_column").kind == Kind.BANK


def test_the_docs_show_the_policy_that_is_enforced():
    call_command("privacy_table", "--check")


def test_the_check_fails_on_a_stale_doc(tmp_path, monkeypatch):
    from casemgmt.core.management.commands import privacy_table

    stale = tmp_path / "privacy.md"
    stale.write_text("# Who sees what\n\nold\n", encoding="utf-8")
    monkeypatch.setattr(privacy_table, "DOC", stale)
    with pytest.raises(CommandError):
        call_command("privacy_table", "--check")


def test_unmasked_exports_and_step_up():
    assert privacy.UNMASKED_EXPORT_ROLES == {Role.ADMIN, Role.REGION_MANAGER}
    assert {"api.token.issue", "export.unmasked", "breakglass.open"} <= privacy.STEP_UP_ACTS


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_every_api_serializer_of_a_governed_model_asks_the_policy():
    from rest_framework import serializers

    import casemgmt.api.urls  # noqa: F401 — imports every app's API, and with it every serializer
    from casemgmt.api.serializers import PolicyFieldsMixin

    unasked = sorted(
        f"{cls.__module__}.{cls.__name__}" for cls in _all_subclasses(serializers.ModelSerializer)
        if not cls.__module__.startswith("tests.")  # the tests' own probes of the machinery
        and privacy.governs(getattr(getattr(cls, "Meta", None), "model", None) or "-")
        and not issubclass(cls, PolicyFieldsMixin))
    assert not unasked, f"serializers of governed models without PolicyFieldsMixin: {unasked}"


@pytest.mark.parametrize("reader, label, name, found", [
    ("manager", "families.checkin", "mental_state", False),  # health is revealed with a reason, not filtered
    ("contact", "families.checkin", "difficulties", False),  # own notes only: a search would read the others'
    ("alice", "families.checkin", "mental_state", True),
    ("manager", "families.familymember", "id_number", True),  # the whole number, by its blind index
    ("contact", "families.familymember", "phone", True),
    ("coordinator", "families.familymember", "phone", False),
])
def test_searching_never_tells_a_value_the_reader_does_not_see(people, reader, label, name, found):
    assert privacy.searchable(people[reader], label, name) is found
