"""The exact rows of the check-in sweep on a varied fixture, pinned.

Every rule shows up here: the due window and the overdue state, the two escalation steps to the
deepest active manager and administrator (country-wide when nobody is nearer), the recipients
(open assignments of active users, once per user), the title in the recipient's language, and one
outbox row per channel with the digest time and quiet hours. The expected rows were taken from the
row-by-row implementation before the sweep became a few INSERT ... SELECT statements; both must
write the same rows, and a rerun none.
"""
import datetime

import pytest
from django.utils import timezone

from casemgmt.core.models import Delivery, Notification, NotificationPreference, Region, Role, User
from families.models import ContactAssignment, Family
from families.reminders import checkin_sweep
from families.tasks import county_partitions
from tests.conftest import add_family, make_region, make_user

TODAY = datetime.date(2026, 6, 10)


def local(day, hour, minute=0):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def sweep(day, now):
    return sum(checkin_sweep(today=day, region_path=path, now=now) for path in county_partitions())


@pytest.fixture
def varied(regions, people, families):
    L = Region.Level
    xiamen = make_region("3502", "厦门市", L.CITY, regions["fujian"])
    siming = make_region("350203", "思明区", L.COUNTY, xiamen)
    xm_town = make_region("350203001", "厦港街道", L.TOWNSHIP, siming)
    xm_village = make_region("350203001001", "沙坡尾社区", L.VILLAGE, xm_town, "111")
    guangdong = make_region("44", "广东省", L.PROVINCE)
    shenzhen = make_region("4403", "深圳市", L.CITY, guangdong)
    luohu = make_region("440303", "罗湖区", L.COUNTY, shenzhen)
    gd_town = make_region("440303001", "桂园街道", L.TOWNSHIP, luohu)
    gd_village = make_region("440303001001", "松园社区", L.VILLAGE, gd_town, "111")

    def user(name, role, region, language="zh-hans", email="", phone="", pref=None, **extra):
        u = make_user(name, role, region, language=language, email=email, phone=phone, **extra)
        if pref is not None:
            NotificationPreference.objects.create(user=u, **pref)
        return u

    t = datetime.time
    user("town_mgr", Role.REGION_MANAGER, regions["suian"], "en", "town@example.org", "13900000011",
         {"quiet_start": t(22), "quiet_end": t(9)})
    user("village_mgr", Role.REGION_MANAGER, regions["village2"], phone="13900000012")
    user("idle_mgr", Role.REGION_MANAGER, regions["yx_town"], email="idle@example.org", is_active=False)
    user("national_mgr", Role.REGION_MANAGER, None, "en", "national@example.org", is_superuser=True)
    user("prov_admin", Role.ADMIN, regions["fujian"], "en", phone="13900000013", pref={"sms": False})
    user("city_admin2", Role.ADMIN, regions["zhangzhou"], email="admin2@example.org", phone="13900000014",
         pref={"quiet_start": t(23), "quiet_end": t(23)})
    vc_en = user("vc_en", Role.CONTACT_PERSON, regions["suian"], "en", "vc@example.org", "13900000015")
    tc_zh = user("tc_zh", Role.CONTACT_PERSON, regions["suian"], phone="13900000016",
                 pref={"quiet_start": t(8), "quiet_end": t(12)})
    sw_off = user("sw_off", Role.SOCIAL_WORKER, regions["zhangpu"], "en", "off@example.org", "13900000017",
                  pref={"email": False, "sms": False})
    night = user("night", Role.CONTACT_PERSON, regions["suian"], email="night@example.org", phone="13900000018",
                 pref={"quiet_start": t(23), "quiet_end": t(23)})
    gone = user("gone", Role.CONTACT_PERSON, regions["suian"], email="gone@example.org", is_active=False)
    User.objects.filter(username="alice").update(email="alice@example.org")
    User.objects.filter(username="bob").update(phone="13900000002")
    User.objects.filter(username="root").update(email="root@example.org", language="en")
    User.objects.filter(username="city_admin").update(email="city@example.org")

    seq = iter(range(40, 400, 2))

    def family(region, number, due_in, status="registered", contacts=()):
        f = add_family(region, number, mother_seq=next(seq), father_seq=next(seq))
        Family.objects.filter(pk=f.pk).update(
            status=status, next_checkin_due=None if due_in is None else TODAY + datetime.timedelta(days=due_in))
        for contact, kind, ended in contacts:
            ContactAssignment.objects.create(family=f, user=contact, kind=kind,
                                             ended_on=TODAY - datetime.timedelta(days=1) if ended else None,
                                             started_on=TODAY - datetime.timedelta(days=100))
        return f

    due = {"ZP-0001": 3, "ZP-0002": 4, "YX-0001": -7}
    for f in families.values():
        Family.objects.filter(pk=f.pk).update(next_checkin_due=TODAY + datetime.timedelta(days=due[f.file_number]))
    ContactAssignment.objects.create(family=families["own"], user=vc_en, kind="village_contact")
    ContactAssignment.objects.create(family=families["own"], user=tc_zh, kind="township_contact")
    family(regions["village"], "ZP-0003", -6, "active", [(vc_en, "village_contact", False)])
    family(regions["village2"], "ZP-0004", -21, "active",
           [(vc_en, "village_contact", False), (vc_en, "township_contact", False), (sw_off, "social_worker", False)])
    family(regions["village"], "ZP-0005", -20, contacts=[(tc_zh, "township_contact", False)])
    family(regions["village"], "ZP-0006", 0, "active",
           [(night, "village_contact", False), (gone, "social_worker", False), (tc_zh, "township_contact", True)])
    family(regions["village"], "ZP-0007", -30, "closed", [(vc_en, "village_contact", False)])
    family(regions["village"], "ZP-0008", -30, "moved", [(vc_en, "village_contact", False)])
    family(regions["village"], "ZP-0009", None, contacts=[(vc_en, "village_contact", False)])
    family(xm_village, "XM-0001", -25)
    family(gd_village, "GD-0001", -40, contacts=[(tc_zh, "village_contact", False)])
    family(regions["village2"], "ZP-0010", -1)
    family(regions["suian"], "ZP-0011", -8, contacts=[(night, "township_contact", False)])


def notifications():
    return sorted(
        (n.recipient.username, n.kind, n.level, n.family.file_number, n.title,
         n.dedup_key.replace(f":{n.family_id}:", ":F:").removesuffix(f":{n.recipient_id}") + ":U",
         n.created_at, n.body, n.link, n.read_at)
        for n in Notification.objects.select_related("recipient", "family")
    )


def deliveries():
    return sorted(
        (d.recipient.username, d.notification.kind, d.notification.family.file_number, d.channel,
         timezone.localtime(d.due_at).strftime("%m-%d %H:%M"), d.status, d.attempts)
        for d in Delivery.objects.select_related("recipient", "notification__family")
    )


TITLES = {
    "en": {
        "due": "Check-in with family {file} is due on {due}.",
        "overdue": "Check-in with family {file} is overdue since {due}.",
        "escalated": "Escalation: family {file} has had no check-in since it was due on {due}.",
    },
    "zh": {
        "due": "家庭 {file} 应于 {due} 前联系。",
        "overdue": "家庭 {file} 的联系已于 {due} 逾期。",
        "escalated": "升级上报：家庭 {file} 应于 {due} 联系，至今仍未联系。",
    },
}
LEVELS = {"due": "reminder", "overdue": "warning", "escalated": "escalation"}


def expected(rows, created_at):
    """Full notification rows from (recipient, kind, family, due date, language of the title)."""
    full = []
    for user, kind, file, due, language in rows:
        state = kind.split(".")[0]
        full.append((user, f"checkin.{kind}", LEVELS[state], file, TITLES[language][state].format(file=file, due=due),
                     f"checkin:{kind.replace('.', ':')}:F:{due}:U", created_at, "", "", None))
    return full


@pytest.mark.django_db
def test_sweep_writes_exactly_these_rows_and_a_rerun_none(varied, sms, eager, django_capture_on_commit_callbacks):
    first = local(TODAY, 6, 0)  # before the digest time: everything is due at 08:30 or after the quiet hours
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(TODAY, first) == len(FIRST)
    assert notifications() == sorted(expected(FIRST, first))
    assert deliveries() == sorted(FIRST_DELIVERIES)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert sweep(TODAY, local(TODAY, 7, 0)) == 0
    assert callbacks == []
    assert len(notifications()) == len(FIRST) and deliveries() == sorted(FIRST_DELIVERIES)

    # The next evening, after the digest time: due at once, SMS after the quiet hours.
    tomorrow, late = TODAY + datetime.timedelta(days=1), local(TODAY + datetime.timedelta(days=1), 23, 15)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(tomorrow, late) == len(SECOND)
    assert notifications() == sorted(expected(FIRST, first) + expected(SECOND, late))
    assert deliveries() == sorted(FIRST_DELIVERIES + SECOND_DELIVERIES)


# Taken from the row-by-row implementation (see the module docstring).
FIRST = [
    ("alice", "due", "ZP-0001", "2026-06-13", "zh"),
    ("carol", "overdue", "YX-0001", "2026-06-03", "zh"),
    ("city_admin", "escalated.admin", "ZP-0004", "2026-05-20", "zh"),
    ("city_admin2", "escalated.admin", "ZP-0004", "2026-05-20", "zh"),
    ("national_mgr", "escalated.manager", "GD-0001", "2026-05-01", "en"),
    ("national_mgr", "escalated.manager", "XM-0001", "2026-05-16", "en"),
    ("night", "due", "ZP-0006", "2026-06-10", "zh"),
    ("night", "overdue", "ZP-0011", "2026-06-02", "zh"),
    ("other_manager", "escalated.manager", "YX-0001", "2026-06-03", "zh"),
    ("prov_admin", "escalated.admin", "XM-0001", "2026-05-16", "en"),
    ("root", "escalated.admin", "GD-0001", "2026-05-01", "en"),
    ("sw_off", "overdue", "ZP-0004", "2026-05-20", "en"),
    ("tc_zh", "due", "ZP-0001", "2026-06-13", "zh"),
    ("tc_zh", "overdue", "GD-0001", "2026-05-01", "zh"),
    ("tc_zh", "overdue", "ZP-0005", "2026-05-21", "zh"),
    ("town_mgr", "escalated.manager", "ZP-0005", "2026-05-21", "en"),
    ("town_mgr", "escalated.manager", "ZP-0011", "2026-06-02", "en"),
    ("vc_en", "due", "ZP-0001", "2026-06-13", "en"),
    ("vc_en", "overdue", "ZP-0003", "2026-06-04", "en"),
    ("vc_en", "overdue", "ZP-0004", "2026-05-20", "en"),
    ("village_mgr", "escalated.manager", "ZP-0004", "2026-05-20", "zh"),
]
SECOND = [
    ("bob", "due", "ZP-0002", "2026-06-14", "zh"),
    ("city_admin", "escalated.admin", "ZP-0005", "2026-05-21", "zh"),
    ("city_admin2", "escalated.admin", "ZP-0005", "2026-05-21", "zh"),
    ("night", "overdue", "ZP-0006", "2026-06-10", "zh"),
    ("town_mgr", "escalated.manager", "ZP-0003", "2026-06-04", "en"),
]
FIRST_DELIVERIES = [
    ("alice", "checkin.due", "ZP-0001", "email", "06-10 08:30", "sent", 1),
    ("city_admin", "checkin.escalated.admin", "ZP-0004", "email", "06-10 08:30", "sent", 1),
    ("city_admin2", "checkin.escalated.admin", "ZP-0004", "email", "06-10 08:30", "sent", 1),
    ("city_admin2", "checkin.escalated.admin", "ZP-0004", "sms", "06-10 08:30", "sent", 1),
    ("national_mgr", "checkin.escalated.manager", "GD-0001", "email", "06-10 08:30", "sent", 1),
    ("national_mgr", "checkin.escalated.manager", "XM-0001", "email", "06-10 08:30", "sent", 1),
    ("night", "checkin.due", "ZP-0006", "email", "06-10 08:30", "sent", 1),
    ("night", "checkin.due", "ZP-0006", "sms", "06-10 08:30", "sent", 1),
    ("night", "checkin.overdue", "ZP-0011", "email", "06-10 08:30", "sent", 1),
    ("night", "checkin.overdue", "ZP-0011", "sms", "06-10 08:30", "sent", 1),
    ("root", "checkin.escalated.admin", "GD-0001", "email", "06-10 08:30", "sent", 1),
    ("tc_zh", "checkin.due", "ZP-0001", "sms", "06-10 12:00", "sent", 1),
    ("tc_zh", "checkin.overdue", "GD-0001", "sms", "06-10 12:00", "sent", 1),
    ("tc_zh", "checkin.overdue", "ZP-0005", "sms", "06-10 12:00", "sent", 1),
    ("town_mgr", "checkin.escalated.manager", "ZP-0005", "email", "06-10 08:30", "sent", 1),
    ("town_mgr", "checkin.escalated.manager", "ZP-0005", "sms", "06-10 09:00", "sent", 1),
    ("town_mgr", "checkin.escalated.manager", "ZP-0011", "email", "06-10 08:30", "sent", 1),
    ("town_mgr", "checkin.escalated.manager", "ZP-0011", "sms", "06-10 09:00", "sent", 1),
    ("vc_en", "checkin.due", "ZP-0001", "email", "06-10 08:30", "sent", 1),
    ("vc_en", "checkin.due", "ZP-0001", "sms", "06-10 08:30", "sent", 1),
    ("vc_en", "checkin.overdue", "ZP-0003", "email", "06-10 08:30", "sent", 1),
    ("vc_en", "checkin.overdue", "ZP-0003", "sms", "06-10 08:30", "sent", 1),
    ("vc_en", "checkin.overdue", "ZP-0004", "email", "06-10 08:30", "sent", 1),
    ("vc_en", "checkin.overdue", "ZP-0004", "sms", "06-10 08:30", "sent", 1),
    ("village_mgr", "checkin.escalated.manager", "ZP-0004", "sms", "06-10 08:30", "sent", 1),
]
SECOND_DELIVERIES = [
    ("bob", "checkin.due", "ZP-0002", "sms", "06-12 08:00", "sent", 1),
    ("city_admin", "checkin.escalated.admin", "ZP-0005", "email", "06-11 23:15", "sent", 1),
    ("city_admin2", "checkin.escalated.admin", "ZP-0005", "email", "06-11 23:15", "sent", 1),
    ("city_admin2", "checkin.escalated.admin", "ZP-0005", "sms", "06-11 23:15", "sent", 1),
    ("night", "checkin.overdue", "ZP-0006", "email", "06-11 23:15", "sent", 1),
    ("night", "checkin.overdue", "ZP-0006", "sms", "06-11 23:15", "sent", 1),
    ("town_mgr", "checkin.escalated.manager", "ZP-0003", "email", "06-11 23:15", "sent", 1),
    ("town_mgr", "checkin.escalated.manager", "ZP-0003", "sms", "06-12 09:00", "sent", 1),
]
