"""Every admin page shows each personal field as the privacy policy gives it to the reader's role,
writes one audit row per model when it showed audited plaintext (and none otherwise), and reveals
only through the reveal view, with a reason, under the one event name of the act.

The pages and fields come from the registry and ``privacy.FIELDS`` (``privacy_matrix``); the
stored values are markers planted in every governed row, searched for in the HTML."""
import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from casemgmt.core import privacy, reach
from casemgmt.core.admin_privacy import resolve
from casemgmt.core.audit import family_of, region_of
from casemgmt.core.models import AuditEvent
from families import services as family_services
from families.models import CheckIn, ContactAssignment, FamilyMember

from . import privacy_matrix as matrix

PAGES = matrix.pages()
# Numbers, typed on one line: ID numbers, phones, accounts.
SINGLE_LINE = {"id_number", "phone", "account"}
GOVERNED_PAGES = [(model, model_admin) for model, model_admin in PAGES if privacy.governs(model)]


@pytest.fixture
def planted(dataset, people, families):
    """The dataset, the contact person assigned to the family in alice's caseload with a check-in of
    their own there, and a marker in every personal text field of every governed row."""
    own = families["own"]
    ContactAssignment.objects.create(family=own, user=people["contact"], kind="village_contact")
    family_services.checkin_record(actor=people["contact"], family=own, channel="home_visit", mental_state="low",
                                   difficulties="x", needs="x")
    return matrix.plant()


def _url(model, name, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{name}", args=args)


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _rows(model, family_ids, *, unlinked=True):
    """Rows of ``model`` belonging to the families ``family_ids``; for a model of no family, its
    first row (``unlinked``) or none."""
    rows = list(model._base_manager.all())
    linked = [row for row in rows if family_of(row) is not None]
    if not linked:
        return rows[:1] if unlinked else []
    return [row for row in linked if family_of(row) in family_ids]


def _in_reach(model, pk, user):
    """The row is one the user's admin lists (the admin's reach), else one ``reach`` gives them."""
    model_admin = admin.site._registry.get(model)
    if model_admin is not None:
        return model_admin.get_queryset(_request(user)).filter(pk=pk).exists()
    return reach.restrict(model._default_manager.filter(pk=pk), user).exists()


def _check_page(response, user, planted, label, since):
    """The page shows no marker beyond the policy or the reach, and its audit rows match the audited
    plaintext it showed: one row per model, naming the fields and objects shown."""
    html = response.content.decode()
    found = {planted[m] for m in planted if m in html}
    for model_label, pk, name in found:
        model = matrix.apps.get_model(model_label)
        obj = model._base_manager.get(pk=pk)
        assert matrix.allows_plaintext(user, obj, name), f"{label}: {user} sees {model_label}.{name} of {pk}"
        assert _in_reach(model, pk, user), \
            f"{label}: {user} sees {model_label} {pk} outside their reach"
    rows = list(AuditEvent.objects.filter(pk__gt=since, event__startswith="admin.", event__endswith=".viewed"))
    events = [row.event for row in rows]
    assert len(events) == len(set(events)), f"{label}: more than one row per model: {events}"
    claimed = {(row.object_type, pk, name) for row in rows for pk in row.object_ids for name in row.after["fields"]}
    for model_label, pk, name in found:
        model = matrix.apps.get_model(model_label)
        if privacy.audited_fields(model, [name]):
            assert (model_label, pk, name) in claimed, f"{label}: {user} saw {model_label}.{name} of {pk} unaudited"
    for row in rows:
        model = matrix.apps.get_model(row.object_type)
        assert row.region_path is not None and row.actor_id == user.pk
        for name in row.after["fields"]:
            field = model._meta.get_field(name)
            objects = list(model._base_manager.filter(pk__in=row.object_ids))
            assert any(matrix.allows_plaintext(user, obj, name) for obj in objects), f"{label}: {row.event} {name}"
            if matrix.is_text(field):
                assert any((row.object_type, pk, name) in found for pk in row.object_ids), \
                    f"{label}: {row.event} claims {name}, which the page did not show"
    return html


def _check_layout(html, user, obj, label):
    """On the record's own page: a field left out has no element; a masked one shows its mask."""
    model = type(obj)
    for field, _spec in matrix.personal_fields(model):
        shown = privacy.present(user, obj, field.name)
        if shown.hidden:
            assert not matrix.field_class(html, field.name), f"{label}: {user} gets an element of {field.name}"
        elif not shown.plaintext and shown.value and matrix.is_text(field) and matrix.field_class(html, field.name):
            assert str(shown.value) in html, f"{label}: {field.name} is not shown masked to {user}"


@pytest.mark.django_db
@pytest.mark.parametrize("username", matrix.ROLE_USERS)
def test_every_admin_page_shows_each_field_as_the_policy_says(client, people, families, planted, username):
    user = people[username]
    client.force_login(user)
    request = _request(user)
    caseload = {families["own"].pk, families["colleague"].pk}
    checked = 0
    for model, model_admin in PAGES:
        label = f"{username} {model._meta.label_lower}"
        since = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        response = client.get(_url(model, "changelist"))
        if response.status_code != 200:
            assert response.status_code in (302, 403), f"{label} changelist: {response.status_code}"
            assert not any(m in response.content.decode() for m in planted)
            continue
        html = _check_page(response, user, planted, f"{label} list", since)
        for name in model_admin.get_list_display(request):
            if isinstance(name, str) and privacy.governs(model) and "__" not in name:
                if privacy.access(user, model, name) == privacy.Access.HIDDEN:
                    assert not matrix.field_class(html, name), f"{label} list shows {name}"
        for lookup in [*model_admin.get_search_fields(request),
                       *(f if isinstance(f, str) else f[0] for f in model_admin.get_list_filter(request)
                         if not isinstance(f, type))]:
            found = resolve(model, lookup)
            if found is not None:
                assert privacy.searchable(user, found[0], found[1].name), f"{label}: searchable by {lookup}"
        for obj in _rows(model, caseload):
            since = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            response = client.get(_url(model, "change", obj.pk))
            if response.status_code != 200:
                assert response.status_code in (302, 403, 404), f"{label} change: {response.status_code}"
                assert not any(m in response.content.decode() for m in planted)
                continue
            html = _check_page(response, user, planted, f"{label} {obj.pk}", since)
            _check_layout(html, user, obj, f"{label} {obj.pk}")
            checked += 1
        # Rows of the other county: absent, whoever asks from inside Zhangpu.
        for obj in _rows(model, {families["outside"].pk}, unlinked=False):
            if user.is_superuser or username in ("city_admin", "auditor"):
                continue
            response = client.get(_url(model, "change", obj.pk))
            assert response.status_code in (302, 403, 404), f"{label}: opened another county's row"
            assert not any(m in response.content.decode() for m in planted)
    if username in ("root", "city_admin", "manager", "alice", "contact"):
        assert checked, f"{username} opened no change page"


@pytest.mark.django_db
@pytest.mark.parametrize("username", matrix.ROLE_USERS)
def test_reveal_view_reveals_with_a_reason_under_the_acts_event(client, people, families, planted, username):
    user = people[username]
    client.force_login(user)
    request = _request(user)
    revealed = 0
    for model, model_admin in GOVERNED_PAGES:
        label = f"{username} {model._meta.label_lower}"
        names = [n for n in privacy.revealable_fields(user, model, privacy.audited_fields(
            model, [f.name for f in model._meta.concrete_fields])) if not n.endswith("_index")]
        may_view = user.is_staff and model_admin.has_view_or_change_permission(request)
        for obj in _rows(model, {families["own"].pk, families["outside"].pk}):
            url = _url(model, "reveal", obj.pk)
            in_reach = _in_reach(model, obj.pk, user)
            response = client.get(url)
            if not user.is_staff:
                assert response.status_code == 302
                continue
            if not may_view or not names:
                assert response.status_code == 403, f"{label}: {response.status_code}"
                assert client.post(url, {"names": names or ["id"], "reason": "核对"}).status_code == 403
                continue
            if not in_reach:
                assert response.status_code == 404, f"{label}: {response.status_code}"
                assert client.post(url, {"names": names, "reason": "核对"}).status_code == 404
                continue
            assert response.status_code == 200
            event = privacy.reveal_event(model)
            earlier = AuditEvent.objects.filter(event=event).count()
            # No reason, no plaintext and no row.
            refused = client.post(url, {"names": names, "reason": " "})
            assert refused.status_code == 200 and AuditEvent.objects.filter(event=event).count() == earlier
            assert not any(m in refused.content.decode() for m in planted)
            response = client.post(url, {"names": names, "reason": "核对身份以办理理赔"})
            assert response.status_code == 200
            assert "no-store" in response["Cache-Control"]
            html = response.content.decode()
            for name in names:
                value = getattr(obj.__class__._base_manager.get(pk=obj.pk), name)
                if value and matrix.is_text(model._meta.get_field(name)):
                    assert value in html, f"{label}: {name} not revealed"
            row = AuditEvent.objects.filter(event=event).latest("pk")
            revealed += 1
            assert row.actor_id == user.pk and row.reason == "核对身份以办理理赔"
            assert row.object_ids == [obj.pk] and row.region_path == region_of(obj)
            assert row.after == {"fields": names, "surface": "admin"}
            # A field the role may not reveal is refused.
            others = [f.name for f in model._meta.concrete_fields if f.name not in names]
            hidden = [n for n in others if privacy.access(user, model, n) == privacy.Access.HIDDEN]
            if hidden:
                response = client.post(url, {"names": hidden[:1], "reason": "核对"})
                assert response.status_code == 200 and AuditEvent.objects.filter(event=event).count() == earlier + 1
    if username in ("root", "city_admin", "manager", "alice"):
        assert revealed, f"{username} revealed nothing"


@pytest.mark.django_db
def test_masked_input_keeps_the_stored_value_unless_a_new_one_is_typed(client, people, families):
    from .helpers import post_data

    client.force_login(people["contact"])
    ContactAssignment.objects.create(family=families["own"], user=people["contact"], kind="village_contact")
    member = families["own"].members.get(relation="mother")
    url = _url(FamilyMember, "change", member.pk)
    page = client.get(url)
    html = page.content.decode()
    # A contact person phones the family: the number is revealable, the ID number masked only.
    assert member.phone not in html and "138****0001" in html
    assert member.id_number not in html and member.id_number[:6] + "********" in html
    assert "health_conditions" not in page.context["adminform"].form.fields
    data = post_data(page)
    assert data["phone"] == "" and data["id_number"] == ""
    data["name"] = "王秀兰"
    assert client.post(url, data).status_code == 302
    member.refresh_from_db()
    assert member.name == "王秀兰" and member.phone == "13800000001" and member.id_number
    event = AuditEvent.objects.filter(event="admin.families.familymember.changed").latest("pk")
    assert "encrypted_fields_changed" not in event.after

    data = post_data(client.get(url))
    data["phone"] = "13911112222"
    assert client.post(url, data).status_code == 302
    member.refresh_from_db()
    assert member.phone == "13911112222"


@pytest.mark.django_db
def test_id_numbers_and_phones_are_single_line_inputs(client, people, dataset):
    client.force_login(people["root"])
    for model, _model_admin in GOVERNED_PAGES:
        html = client.get(_url(model, "add")).content.decode()
        for field in model._meta.concrete_fields:
            spec = privacy.field_of(model, field.name)
            if field.editable and (spec.masker or privacy.DEFAULT_MASKER.get(spec.kind)) in SINGLE_LINE:
                assert f'<textarea name="{field.name}"' not in html, f"{model._meta.label_lower}.{field.name}"
                assert f'<input type="text" name="{field.name}"' in html, f"{model._meta.label_lower}.{field.name}"


@pytest.mark.django_db
def test_a_changelist_writes_one_row_whatever_its_length(client, people, families, django_assert_max_num_queries):
    client.force_login(people["alice"])
    url = _url(CheckIn, "changelist")
    family_services.checkin_record(actor=people["alice"], family=families["own"], channel="phone", mental_state="low")
    with django_assert_max_num_queries(40) as few:
        assert client.get(url).status_code == 200
    for _ in range(6):
        family_services.checkin_record(actor=people["alice"], family=families["own"], channel="phone",
                                       mental_state="low")
    since = AuditEvent.objects.latest("pk").pk
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200
    row = AuditEvent.objects.get(pk__gt=since)
    assert row.event == "admin.families.checkin.viewed" and len(row.object_ids) == 7
    assert row.after["fields"] == ["mental_state"]  # the physical state was left empty
    assert row.region_path == families["own"].region_path and row.family_id == families["own"].pk


@pytest.mark.django_db
def test_coordinator_cannot_find_a_member_by_id_number(client, people, families):
    mother = families["own"].members.get(relation="mother")
    url = _url(FamilyMember, "changelist")
    client.force_login(people["manager"])
    assert list(client.get(url, {"q": mother.id_number}).context["cl"].result_list) == [mother]
    client.force_login(people["coordinator"])
    assert list(client.get(url, {"q": mother.id_number}).context["cl"].result_list) == []


def test_no_admin_exports_around_the_policy():
    """Exports go through ``reports.exports``, which masks by the policy; an admin export button
    would be a second door, so none exists."""
    from import_export.admin import ExportMixin

    for model, model_admin in admin.site._registry.items():
        assert not isinstance(model_admin, ExportMixin), model._meta.label_lower
        assert not any("export" in name for name in (model_admin.actions or ()) if isinstance(name, str))


@pytest.mark.django_db
def test_a_rows_name_carries_no_personal_value(client, people, families, planted):
    """Titles, breadcrumbs, links and choices show ``str(obj)`` to everybody who reaches the row."""
    from families.models import Assessment

    for model in matrix.governed_models():
        for obj in model._base_manager.all():
            assert not any(marker in str(obj) for marker in planted), model._meta.label_lower
    assessment = Assessment.objects.get()
    Assessment.objects.filter(pk=assessment.pk).update(score=987)  # no date holds these digits
    client.force_login(people["manager"])
    response = client.get(_url(Assessment, "change", assessment.pk))
    assert "987" not in str(response.context["original"]) and "987" not in response.context["subtitle"]


@pytest.mark.django_db
def test_a_query_string_cannot_filter_by_a_field_left_out(client, people, families):
    family_services.checkin_record(actor=people["alice"], family=families["own"], channel="phone", mental_state="low")
    ContactAssignment.objects.create(family=families["own"], user=people["contact"], kind="village_contact")
    url = _url(CheckIn, "changelist")
    client.force_login(people["alice"])
    assert len(client.get(url, {"mental_state": "low"}).context["cl"].result_list) == 1
    # The contact person gets no mental state: a filter by it would tell it row by row.
    client.force_login(people["contact"])
    assert client.get(url).status_code == 200
    assert client.get(url, {"mental_state": "low"}).status_code == 400
    assert client.get(url, {"mental_notes__isnull": "False"}).status_code == 400
