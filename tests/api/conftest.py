"""Fixtures for API tests: the matrix world (people, three scoped families, a volunteer pairing and a
village contact) and API clients signed in as each role."""
import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from families.models import AssessmentScale, ContactAssignment
from tests.api.matrix import World
from volunteers.models import Pairing, Volunteer

ROLE_USERS = {"alice": "alice", "bob": "bob", "carol": "carol", "manager": "manager", "coordinator": "coordinator",
              "volunteer": "volunteer_user", "auditor": "auditor", "contact": "contact"}


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Eleven users per test: the production hasher would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counters live in the cache, which outlives a test.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(regions, people, families):
    own = families["own"]
    ContactAssignment.objects.create(family=own, user=people["contact"], kind="village_contact")
    volunteer = Volunteer.objects.create(name="志愿者甲", region=regions["zhangpu"], user=people["volunteer_user"])
    Pairing.objects.create(volunteer=volunteer, family=own)
    return World(
        people={role: people[username] for role, username in ROLE_USERS.items()},
        families=dict(families),
        regions=regions,
        region_of={"own": regions["village"], "colleague": regions["village2"], "outside": regions["yx_village"]},
        owner_of={"own": people["alice"], "colleague": people["bob"], "outside": people["carol"]},
    )


@pytest.fixture
def scale(db):
    return AssessmentScale.objects.create(code="gds15", name="GDS-15", max_score=15,
                                          bands=[[0, "green"], [5, "yellow"], [9, "orange"], [12, "red"]])


@pytest.fixture
def client_for(world):
    def make(role, language=None):
        client = APIClient()
        if language:
            client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
        if role != "anonymous":
            client.force_authenticate(world.people[role])
        return client
    return make
