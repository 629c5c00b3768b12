"""Every role × every surface × every sensitive field, against the policy.

The family of ``privacy_world`` holds a unique plaintext in each sensitive field of every governed
model. Each surface is read the way its users read it (the API's lists, details and their GET
actions; the workspace's pages; the admin's changelists and change pages; the exports; an import's
answer; the calendar feed; the audit trail). What came back is searched for every plaintext:

- a plaintext the role may not see unrevealed (``privacy.access`` is not SHOW, or OWN on another's
  record) must not be there;
- a plaintext of an audited kind that is there must have left an audit row of that read, by that
  reader, about that family, in a region the family's county auditor sees;
- the audit trail itself holds no plaintext of any sensitive field, whoever reads it.

The surfaces are enumerated from the router and the admin registry, so a new route or admin page
is tried without anyone adding it here.
"""
import io
import re
import zipfile

import openpyxl
import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import NoReverseMatch, reverse

from casemgmt.api.urls import router
from casemgmt.core import privacy
from casemgmt.core.models import AuditEvent
from tests.privacy.conftest import READERS

pytestmark = pytest.mark.django_db


def _text_of(response):
    """Everything a response showed, as text (workbooks unpacked, iCalendar lines unfolded)."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if content[:2] == b"PK":
        try:
            book = openpyxl.load_workbook(io.BytesIO(content))
        except (zipfile.BadZipFile, KeyError, ValueError):
            return content.decode("latin-1")
        return "\n".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                         for cell in row if cell is not None)
    return content.decode("utf-8", errors="replace").replace("\r\n ", "").replace("\r\n\t", "")


def _api_routes():
    """(basename, viewset, model label) of every route whose model the policy governs."""
    for _prefix, viewset, basename in router.registry:
        queryset = getattr(viewset, "queryset", None)
        if queryset is not None and privacy.governs(queryset.model):
            yield basename, viewset, queryset.model._meta.label_lower


def read_api(client, world):
    texts = []
    for basename, viewset, label in _api_routes():
        texts.append(_text_of(client.get(reverse(f"api:{basename}-list"), {"page_size": 200})))
        for obj in world.objects.get(label, []):
            texts.append(_text_of(client.get(reverse(f"api:{basename}-detail", args=[obj.pk]))))
            for extra in viewset.get_extra_actions():
                if extra.detail and list(extra.mapping) == ["get"]:
                    texts.append(_text_of(client.get(reverse(f"api:{basename}-{extra.url_name}", args=[obj.pk]))))
    return texts


def read_workspace(client, world):
    family = world.family
    urls = [reverse("workspace:today"), reverse("workspace:families"),
            reverse("workspace:families") + f"?q={family.file_number}", reverse("workspace:family", args=[family.pk]),
            reverse("workspace:checkin", args=[family.pk]), reverse("workspace:volunteers"), reverse("workspace:me"),
            reverse("workspace:coverage")]
    return [_text_of(client.get(url)) for url in urls]


def _admin_urls(world):
    for model, _model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        if not privacy.governs(label):
            continue
        info = (model._meta.app_label, model._meta.model_name)
        yield reverse(f"admin:{info[0]}_{info[1]}_changelist")
        for obj in world.objects.get(label, []):
            try:
                yield reverse(f"admin:{info[0]}_{info[1]}_change", args=[obj.pk])
            except NoReverseMatch:
                continue


def read_admin(client, world):
    return [_text_of(client.get(url)) for url in _admin_urls(world)]


EXPORT_KINDS = ("families", "volunteers", "public_posting")


def read_exports(client, world):
    return [_text_of(client.get(reverse("api:reports-export", args=[kind]))) for kind in EXPORT_KINDS]


def read_import(client, world):
    """An import file naming the family's members by ID number: what does the answer give away?"""
    from tests.reports.test_exports_imports import workbook

    texts = []
    for member in world.family.members.all():
        row = ["PV-1", "失独", world.family.region.code, "", "张三", "母亲", member.id_number, "", "否"]
        with transaction.atomic():
            response = client.post(reverse("api:reports-import", args=["families"]), {"file": workbook([row])})
            transaction.set_rollback(True)
        texts.append(_text_of(response))
    return texts


def read_calendar(client, world):
    from workspace import services as workspace_services

    user = client.reader
    token = workspace_services.calendar_feed_create(actor=user)
    return [_text_of(client.get(reverse("workspace:calendar_feed", args=[token])))]


SURFACES = {"api": read_api, "workspace": read_workspace, "admin": read_admin, "export": read_exports,
            "import": read_import, "calendar": read_calendar}


def _signed_in(user):
    client = Client()
    client.force_login(user)
    client.reader = user
    return client


def _audited_by(rows, world, plain):
    """An audit row of this read that an auditor of the family's county can find about this plaintext."""
    family_path = world.family.region_path
    for row in rows:
        about = row.family_id == world.family.pk or (
            row.object_type == plain.label and plain.obj.pk in (row.object_ids or []))
        if about and row.region_path and family_path.startswith(row.region_path):
            return True
    return False


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize("reader", list(READERS))
def test_a_surface_shows_no_more_than_the_policy_and_records_what_it_showed(privacy_world, reader, surface):
    world = privacy_world
    user = world.people[reader]
    assert privacy.role_of(user) == READERS[reader]
    client = _signed_in(user)
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    text = "\n".join(SURFACES[surface](client, world))
    rows = list(AuditEvent.objects.filter(pk__gt=last, actor=user))
    leaks, unaudited = [], []
    for plain in world.plains:
        if plain.value not in text:
            continue
        if not world.allowed(user, plain):
            leaks.append(f"{plain.label}.{plain.name}")
        elif plain.kind in privacy.AUDITED_KINDS and not _audited_by(rows, world, plain):
            unaudited.append(f"{plain.label}.{plain.name}")
    assert not leaks, f"{surface} showed {reader} ({user.role}) beyond the policy: {sorted(set(leaks))}"
    assert not unaudited, f"{surface} showed {reader} plaintext without an audit row: {sorted(set(unaudited))}"


def test_the_api_shows_each_role_what_the_policy_allows(privacy_world):
    """The upper bound alone would pass for a surface that shows nothing: the API shows all of it."""
    world = privacy_world
    routed = {label for _basename, _viewset, label in _api_routes()}
    for reader in ("alice", "contact", "manager", "city_admin"):
        user = world.people[reader]
        text = "\n".join(read_api(_signed_in(user), world))
        missing = [f"{p.label}.{p.name}" for p in world.plains if p.label in routed and world.allowed(user, p)
                   and p.value not in text and not p.name.endswith("_index")]
        assert not missing, f"the API withheld from {reader} what the policy shows: {sorted(set(missing))}"


def test_the_audit_trail_holds_no_sensitive_value(privacy_world):
    """After reads, reveals and edits of every sensitive field, no reader of the trail finds a value."""
    world = privacy_world
    for reader in ("alice", "contact", "manager", "city_admin"):
        read_api(_signed_in(world.people[reader]), world)
    manager = _signed_in(world.people["manager"])
    mother = world.family.members.get(relation="mother")
    revealed = manager.post(reverse("api:familymember-reveal", args=[mother.pk]),
                            {"names": ["phone", "id_number"], "reason": "核实身份"}, content_type="application/json")
    assert revealed.status_code == 200
    alice = _signed_in(world.people["alice"])
    etag = alice.get(reverse("api:familymember-detail", args=[mother.pk]))["ETag"]
    edited = alice.patch(reverse("api:familymember-detail", args=[mother.pk]),
                         {"phone": "13911112222", "health_conditions": "PvNewHealth"},
                         content_type="application/json", HTTP_IF_MATCH=etag)
    assert edited.status_code == 200, edited.content
    values = [p.value for p in world.plains] + ["13911112222", "PvNewHealth"]
    stored = " ".join(str(row) for row in AuditEvent.objects.values_list("before", "after", "reason"))
    assert not [v for v in values if v in stored], "the audit table holds a sensitive value"
    for reader in ("city_admin", "auditor", "manager"):
        client = _signed_in(world.people[reader])
        text = _text_of(client.get(reverse("api:auditevent-list"), {"page_size": 500}))
        assert not [v for v in values if v in text], f"the audit trail showed {reader} a sensitive value"
    # The county auditor sees the reveal and the edit: the trail is for them.
    auditor_view = _signed_in(world.people["auditor"]).get(reverse("api:auditevent-list"), {"page_size": 500}).json()
    events = {row["event"] for row in auditor_view["results"]}
    assert {"families.familymember.revealed"} <= events, events


def test_every_governed_model_has_plaintexts_in_the_world(privacy_world):
    covered = {p.label for p in privacy_world.plains}
    guarded = {label for label, fields in privacy.FIELDS.items()
               if any(spec.kind in privacy.AUDITED_KINDS for name, spec in fields.items() if not name.endswith("_index"))}
    assert guarded <= covered, f"give these models plaintexts in tests/privacy/conftest.py: {sorted(guarded - covered)}"


def test_plaintexts_are_unique_and_findable(privacy_world):
    values = [p.value for p in privacy_world.plains]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[0-9A-Za-z]+", v) for v in values)
