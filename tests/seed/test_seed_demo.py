"""seed_demo: every kind of record, valid and consistent data, determinism, bulk writes."""
import datetime

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction

import demo.generator as demo
from casemgmt.core.crypto import blind_index, decrypt
from casemgmt.core.idcard import parse_id_number
from casemgmt.core.models import Region
from demo.generator import seed_demo
from families import services as family_services
from families.models import CheckIn, Family, FamilyMember

# seed_demo loads in bulk with the tallies' triggers off, and may drop and rebuild indexes: the
# owner's work (docs/deploy.md).
pytestmark = pytest.mark.db_owner

TODAY = datetime.date(2026, 5, 20)
# Notifications and their deliveries are made by the reminder jobs, not by demo data.
NOT_SEEDED = {"core.notification", "core.notificationpreference", "core.delivery", "core.jobrun"}


def key_values():
    return {
        "families": list(Family.objects.order_by("file_number").values_list(
            "file_number", "category", "region__code", "status", "risk_level", "registered_on", "next_checkin_due")),
        "members": sorted((m.family.file_number, m.name, m.id_number, m.phone) for m in
                          FamilyMember.objects.select_related("family")),
        "checkins": CheckIn.objects.count(),
        "regions": list(Region.objects.filter(level__gte=Region.Level.TOWNSHIP).order_by("code").values_list("code", "name")),
    }


@pytest.fixture
def seeded(db):
    seed_demo(seed=7, families=30, today=TODAY)


def test_every_model_has_rows(seeded):
    empty = [
        model._meta.label for app in ("core", "families", "volunteers", "services")
        for model in apps.get_app_config(app).get_models()
        if model._meta.label_lower not in NOT_SEEDED and not model.objects.exists()
    ]
    assert empty == []
    assert Family.objects.count() == 30 and FamilyMember.objects.count() == 90


def test_every_village_has_a_contact_person_of_its_own(seeded):
    """Staff in as many places as there are villages: each family's open village contact is the
    contact person of its own village, and no two villages share one."""
    from casemgmt.core.models import Role, User
    from families.models import ContactAssignment

    villages = Region.objects.filter(level=Region.Level.VILLAGE, path__startswith="3506", is_active=True)
    contacts = User.objects.filter(role=Role.CONTACT_PERSON, region__level=Region.Level.VILLAGE)
    assert sorted(contacts.values_list("region_id", flat=True)) == sorted(villages.values_list("id", flat=True))
    open_ones = ContactAssignment.objects.filter(kind="village_contact", ended_on__isnull=True).select_related(
        "family", "user")
    assert open_ones.count() == Family.objects.count()
    assert all(a.user.region_id == a.family.region_id for a in open_ones)
    assert all(a.user.region.level == Region.Level.VILLAGE for a in ContactAssignment.objects.filter(
        kind="village_contact").select_related("user__region"))


def test_people_are_believable_and_id_numbers_valid(seeded):
    zhangzhou_counties = set(Region.objects.filter(parent__code="350600000000").values_list("code", flat=True))
    for member in FamilyMember.objects.select_related("family__region"):
        info = parse_id_number(member.id_number)
        assert (info.birth_date, info.sex) == (member.birth_date, member.sex)
        assert info.address_code.ljust(12, "0") in zhangzhou_counties
        assert member.family.region_path.startswith(info.address_code)
        assert member.id_number_index == blind_index(member.id_number, "id_number")
        if member.relation == "child":
            assert 1965 <= member.birth_date.year <= 2005
            assert (member.is_deceased and member.death_date) or member.disability_grade in (1, 2, 3)
            if member.disability_grade:
                assert member.disability_certificate_number.startswith(member.id_number)
        else:
            assert 1940 <= member.birth_date.year <= 1975
    assert set(Family.objects.values_list("category", flat=True)) == {"bereaved", "disabled"}
    assert Family.objects.filter(category="bereaved").count() > Family.objects.filter(category="disabled").count()
    villages = Region.objects.filter(level=Region.Level.VILLAGE, path__startswith="3506")
    assert villages.exists() and all(len(v.code) == 12 and v.urban_rural_code for v in villages)


def test_sensitive_columns_hold_ciphertext(seeded):
    member = FamilyMember.objects.exclude(phone_index="").first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, phone FROM families_familymember WHERE id = %s", [member.pk])
        raw_id, raw_phone = cursor.fetchone()
    assert raw_id.startswith("enc:") and member.id_number not in raw_id
    assert decrypt(raw_id) == member.id_number and decrypt(raw_phone) == member.phone
    # Exact lookup through the blind index still works.
    assert FamilyMember.objects.get(id_number_index=blind_index(member.id_number, "id_number")) == member
    # Volunteers go through bulk_create: EncryptedTextField.get_prep_value encrypts there too.
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM volunteers_volunteer LIMIT 1")
        assert cursor.fetchone()[0].startswith("enc:")


def test_due_dates_are_what_the_family_services_compute(seeded):
    families = list(Family.objects.all())
    assert any(f.last_checkin_at for f in families)
    for family in families:
        assert family_services._due_dates(family) == (family.next_checkin_due, family.next_home_visit_due), family
        last = family.checkins.order_by("-occurred_at").first()
        assert (last.occurred_at if last else None) == family.last_checkin_at


def seeded_values(**options):
    """Seed into the current state, read the key values, roll everything back."""
    with transaction.atomic():
        seed_demo(today=TODAY, **options)
        values = key_values()
        transaction.set_rollback(True)
    return values


def test_same_seed_same_data(db):
    first = seeded_values(seed=3, families=12)
    assert len(first["families"]) == 12 and first["regions"]
    assert seeded_values(seed=3, families=12) == first
    assert seeded_values(seed=4, families=12)["members"] != first["members"]


def test_query_count_does_not_grow_with_families(db, django_assert_max_num_queries):
    from django.test.utils import CaptureQueriesContext

    seed_demo(seed=1, families=5, today=TODAY)  # regions, staff and reference data exist afterwards
    counts = []
    for families in (10, 200):
        with CaptureQueriesContext(connection) as ctx:
            seed_demo(seed=1, families=families, today=TODAY)
        counts.append(len(ctx.captured_queries))
    assert counts[1] <= counts[0] + 5, counts
    assert Family.objects.count() == 215


def test_if_empty_does_nothing_when_families_exist(db):
    call_command("seed_demo", "--families", "3", "--seed", "2", "--today", "2026-05-20", verbosity=0)
    call_command("seed_demo", "--families", "3", "--if-empty", verbosity=0)
    assert Family.objects.count() == 3


@pytest.mark.django_db(transaction=True)  # forked workers need committed data and their own connections
def test_parallel_workers_write_the_same_data_as_one_process(monkeypatch):
    monkeypatch.setattr(demo, "CHUNK", 40)  # three chunks over two processes
    single = seeded_values(seed=5, families=110, workers=1)
    seed_demo(seed=5, families=110, today=TODAY, workers=2)
    assert key_values() == single
    assert len(single["families"]) == 110


def test_demo_people_never_share_an_id_number():
    # Births and sequence numbers of 400,000 families (1,600 groups of every slot), with either
    # sex for the child: all distinct, so the unique index on living people's numbers holds at
    # any size (a son of slot s once took the sequence of a daughter of slot s + 1).
    seen = set()
    for index in range(400_000):
        (father, f_seq), (mother, m_seq), (child, c_seq) = demo._people_dates(index)
        seen.update(((father, f_seq), (mother, m_seq), (child, c_seq), (child, c_seq + 1)))
        assert f_seq < 500 and m_seq < 500 and 500 <= c_seq < c_seq + 1 <= 999
    assert len(seen) == 4 * 400_000


def _schema():
    tables = [table.model._meta.db_table for table in demo._tables().values()]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                       "WHERE indrelid = ANY(%s::regclass[])", [tables])
        indexes = set(cursor.fetchall())
        cursor.execute("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated "
                       "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])", [tables])
        constraints = set(cursor.fetchall())
    return indexes, constraints


def test_bulk_load_builds_every_index_and_constraint_again(db, monkeypatch):
    seed_demo(seed=8, families=20, today=TODAY)
    before = _schema()
    assert len(before[0]) > 60 and any("FOREIGN KEY" in c[2] for c in before[1])
    monkeypatch.setattr(demo, "BULK_FAMILIES", 40)
    monkeypatch.setattr(demo, "CHUNK", 20)
    dropped = []
    real_copy_in = demo.copy_in

    def copy_in(data):
        dropped.append(_schema())
        real_copy_in(data)

    monkeypatch.setattr(demo, "copy_in", copy_in)
    seed_demo(seed=8, families=60, today=TODAY)  # (forked workers: test_parallel_workers_...)
    assert len(dropped) == 3
    # During the load only primary keys and checks remain; afterwards the schema is the same, validated.
    assert all(definition.startswith("CREATE UNIQUE INDEX") and name.endswith("_pkey") for name, definition in dropped[0][0])
    assert not any("FOREIGN KEY" in c[2] or c[2].startswith("UNIQUE") for c in dropped[0][1])
    assert _schema() == before
    assert Family.objects.count() == 80
    assert FamilyMember.objects.filter(is_deceased=False).values("id_number_index").distinct().count() == \
        FamilyMember.objects.filter(is_deceased=False).count()


def test_an_interrupted_bulk_load_leaves_schema_and_data_as_they_were(db, monkeypatch):
    seed_demo(seed=9, families=10, today=TODAY)
    before, counts = _schema(), (Family.objects.count(), CheckIn.objects.count())
    monkeypatch.setattr(demo, "BULK_FAMILIES", 20)
    monkeypatch.setattr(demo, "CHUNK", 10)
    calls = []
    real_copy_in = demo.copy_in

    def copy_in(data):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the load
        real_copy_in(data)

    monkeypatch.setattr(demo, "copy_in", copy_in)
    with pytest.raises(KeyboardInterrupt):
        seed_demo(seed=9, families=30, today=TODAY, workers=1)
    assert _schema() == before
    assert (Family.objects.count(), CheckIn.objects.count()) == counts
