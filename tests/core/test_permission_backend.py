"""casemgmt.core.backends.ModelBackend reads permissions with one statement; it must grant exactly
what Django's ModelBackend grants: own permissions, the role group's, none when inactive, all for a
superuser."""
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from casemgmt.core.backends import ModelBackend
from casemgmt.core.models import User


def _fresh(user):
    return User.objects.get(pk=user.pk)


def test_it_grants_what_djangos_model_backend_grants(people):
    ours, django = ModelBackend(), DjangoModelBackend()
    alice, contact = people["alice"], people["contact"]
    contact.user_permissions.add(Permission.objects.get(codename="add_careplan"))
    people["bob"].is_active = False
    people["bob"].save()
    for user in (alice, contact, people["coordinator"], people["volunteer_user"], people["bob"], people["root"]):
        assert ours.get_all_permissions(_fresh(user)) == django.get_all_permissions(_fresh(user)), user.username
    granted = ours.get_all_permissions(_fresh(contact))
    assert {"families.add_checkin", "families.add_careplan"} <= granted and "families.add_family" not in granted
    assert ours.get_all_permissions(_fresh(people["bob"])) == set()


def test_a_permission_check_is_one_query_and_then_none(people):
    user = _fresh(people["alice"])
    with CaptureQueriesContext(connection) as queries:
        assert user.has_perm("families.add_checkin") and not user.has_perm("core.delete_user")
    assert len(queries.captured_queries) == 1
