"""``manage.py demo_users``: one login per role for trying the system (development only)."""
import logging
import operator
import secrets
from functools import reduce
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.utils import timezone

from casemgmt.core.models import Region, Role, User
from casemgmt.security.otp import display_code, recovery_codes_create
from casemgmt.security.totp import totp_device_create, totp_secret
from demo.story import story_stage
from families.models import ContactAssignment, Family
from families.services import assignment_set
from volunteers.models import Pairing, TrainingSession, Volunteer

CITY = "350600000000"
COUNTY = "350623000000"  # 漳浦县

# The demo volunteer's name: the login's header and the volunteer record behind /me/ are one person.
VOLUNTEER_NAME = "黄丽华"
# username, role, region code (None: the first county/township that has demo families), display name
LOGINS = [
    ("demo-admin", Role.ADMIN, CITY, "市计生协管理员"),
    ("demo-manager", Role.REGION_MANAGER, "county", "县计生协主管"),
    ("demo-socialworker", Role.SOCIAL_WORKER, "county", "社工 林晓"),
    ("demo-contact", Role.CONTACT_PERSON, "township", "镇联系人 陈国平"),
    ("demo-coordinator", Role.VOLUNTEER_COORDINATOR, "county", "志愿服务协调员"),
    ("demo-volunteer", Role.VOLUNTEER, "county", f"志愿者 {VOLUNTEER_NAME}"),
    ("demo-auditor", Role.AUDITOR, CITY, "审计员"),
]
CASELOAD = 25


class Command(BaseCommand):
    help = "Create or reset one demo login per role plus a superuser and print their password (DEBUG only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_users creates logins with a printed password; it runs only with DEBUG=true.")
        password = demo_password()
        with transaction.atomic():
            rows, regions = demo_users_create(password=password)
        # Today's part of the day and the morning's reminders, sent now rather than at dawn; the
        # ledger's lines for each county are left out of this summary.
        jobs_log = logging.getLogger("casemgmt.core.jobs")
        level = jobs_log.level
        jobs_log.setLevel(logging.WARNING)
        try:
            sent = story_stage(users={u.username: u for u, _ in rows}, regions=regions)
        finally:
            jobs_log.setLevel(level)
        self.stdout.write("Today's reminders, as the morning's sweeps send them: "
                          + (", ".join(f"{name} {n}" for name, n in sent.items()) or "none new"))
        width = max(len(u.username) for u, _ in rows)
        self.stdout.write("Demo logins (development only) — password for all: " + self.style.WARNING(password)
                          + f" (kept in {Path(settings.VAR_DIR) / 'demo-password'})")
        for user, region in rows:
            self.stdout.write(f"  {user.username:<{width}}  {user.get_role_display()}  {region or '—'}")
        # Every staff sign-in asks for a second factor: one authenticator per login, kept across
        # runs (add the URI to an authenticator app once, or type the secret), and three fresh
        # recovery codes each, for trying the system without an app (each works once).
        self.stdout.write("Second factor at sign-in: the code of an authenticator app set up with the secret (or URI),")
        self.stdout.write("or one of the recovery codes shown (each works once; new ones at every run):")
        for user, _region in rows:
            if user.is_staff:
                device = totp_device_create(user=user)
                codes = recovery_codes_create(user=user)[:3]
                self.stdout.write(f"  {user.username:<{width}}  secret {totp_secret(device)}  "
                                  f"recovery {' '.join(display_code(c) for c in codes)}")
                self.stdout.write(f"  {'':<{width}}  {device.config_url}")


def demo_password():
    """The one password of the demo logins: made once and kept under VAR_DIR (like the development
    secrets), so that a login written down or saved in a browser keeps working after ``make run``."""
    path = Path(settings.VAR_DIR) / "demo-password"
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(9)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


def _regions():
    """The county and township holding the most demo families, among the counties whose trainings
    ran before today and are planned after it, so that every login sees data."""
    city = Region.objects.filter(code=CITY).first()
    if city is None:
        raise CommandError("Zhangzhou is not loaded: run load_regions and seed_demo first.")
    now = timezone.now()
    trained = set(TrainingSession.objects.filter(starts_at__lt=now).values_list("region__path", flat=True)) & set(
        TrainingSession.objects.filter(starts_at__gt=now).values_list("region__path", flat=True))
    families = Family.objects.filter(region_path__startswith=city.path)
    if trained:
        families = families.filter(reduce(operator.or_, (Q(region_path__startswith=p) for p in sorted(trained))))
    busiest = (families.values("region__parent__path")
               .annotate(n=Count("id")).order_by("-n", "region__parent__path").first())
    if busiest:
        township = Region.objects.get(path=busiest["region__parent__path"], level=Region.Level.TOWNSHIP)
        county = township.parent
    else:
        county = Region.objects.filter(code=COUNTY).first() or city
        township = county
    return {"city": city, "county": county, "township": township}


def demo_users_create(*, password):
    """Create or update the demo logins; the caseload roles get families to work on. Idempotent.
    Returns [(user, region)] and the regions the logins work in."""
    regions = _regions()
    rows = []
    for username, role, where, display in LOGINS:
        region = regions["city"] if where == CITY else regions[where]
        user = User.objects.filter(username=username).first() or User(username=username)
        user.role, user.region, user.display_name, user.is_staff, user.is_active = role, region, display, True, True
        user.set_password(password)
        user.save()
        rows.append((user, region))
    root = User.objects.filter(username="demo-superuser").first() or User(username="demo-superuser")
    root.role, root.region, root.is_staff, root.is_superuser, root.display_name = Role.ADMIN, None, True, True, "超级管理员"
    root.set_password(password)
    root.save()
    rows.append((root, None))
    users = {u.username: u for u, _ in rows}

    # Caseloads: the worker and the contact take over families of their region, the township's
    # first, which they share (the previous holder's assignment is ended, as assignment_set does,
    # so history stays).
    township = regions["township"].path
    for username, kind in (("demo-socialworker", "social_worker"), ("demo-contact", "township_contact")):
        user = users[username]
        have = ContactAssignment.objects.filter(user=user, ended_on__isnull=True).count()
        if have >= CASELOAD:
            continue
        families = Family.objects.filter(region_path__startswith=user.region.path,
                                         status__in=("registered", "active")).exclude(
            assignments__user=user, assignments__ended_on__isnull=True).annotate(
            elsewhere=Case(When(region_path__startswith=township, then=Value(0)), default=Value(1),
                           output_field=IntegerField())).order_by("elsewhere", "id")[: CASELOAD - have]
        for family in families:
            assignment_set(actor=users["demo-manager"], family=family, kind=kind, user=user, reason="演示账号接管")

    volunteer = Volunteer.objects.filter(user=users["demo-volunteer"]).first()
    if volunteer is None:
        volunteer = Volunteer.objects.filter(user__isnull=True, region=regions["county"], status="active").order_by("id").first()
        if volunteer is None:
            volunteer = Volunteer.objects.create(name=VOLUNTEER_NAME, region=regions["county"], availability="周末")
        volunteer.user = users["demo-volunteer"]
    volunteer.name = VOLUNTEER_NAME
    volunteer.save(update_fields=["user", "name"])
    if not Pairing.objects.filter(volunteer=volunteer, ended_on__isnull=True).exists():
        family = Family.objects.filter(region_path__startswith=regions["township"].path, status="active").exclude(
            pairings__volunteer=volunteer).order_by("id").first()
        if family:
            Pairing.objects.create(volunteer=volunteer, family=family)
    return rows, regions
