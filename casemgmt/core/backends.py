"""Authentication backends."""
import functools

from django.contrib.auth import backends, get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, connections


class ModelBackend(backends.ModelBackend):
    """Django's ModelBackend, reading a user's permissions (their own and their role groups') with
    one statement written once per process. Every API write checks a permission on a user loaded
    for that request, and Django's two queries, compiled by the ORM each time, would be a large part
    of its cost (bench/README.md).
    Superusers, inactive users and object permissions are Django's own cases, unchanged."""

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None or user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = permissions_of(user_obj.pk)
        return user_obj._perm_cache


@functools.cache
def _statement(user="%s", joined=False):
    """The permissions of the user whose id is ``user`` (SQL: a parameter by default, or a column of
    an outer query, as the API's token lookup reads them along with the token): app label and
    codename, or with ``joined`` one column ``app_label.codename``."""
    user_model = get_user_model()
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    columns = f"ct.{quote('app_label')}, p.{quote('codename')}"
    if joined:
        columns = f"ct.{quote('app_label')} || '.' || p.{quote('codename')}"
    own = user_model._meta.get_field("user_permissions")
    groups = user_model._meta.get_field("groups")
    granted = Group._meta.get_field("permissions")
    return (
        f"SELECT {columns} FROM {quote(Permission._meta.db_table)} p"
        f" JOIN {quote(ContentType._meta.db_table)} ct ON ct.{quote('id')} = p.{quote('content_type_id')}"
        f" WHERE p.{quote('id')} IN ("
        f"SELECT o.{quote(own.m2m_reverse_name())} FROM {quote(own.m2m_db_table())} o"
        f" WHERE o.{quote(own.m2m_column_name())} = {user}"
        f" UNION ALL SELECT g.{quote(granted.m2m_reverse_name())} FROM {quote(granted.m2m_db_table())} g"
        f" JOIN {quote(groups.m2m_db_table())} m ON m.{quote(groups.m2m_reverse_name())} = g.{quote(granted.m2m_column_name())}"
        f" WHERE m.{quote(groups.m2m_column_name())} = {user})"
    )


def permission_names_sql(user):
    """One column of ``app_label.codename`` names: the permissions of the user whose id is the SQL
    ``user`` (an outer column), for a statement that reads them along with the user."""
    return _statement(user, joined=True)


def remember_permissions(user, names):
    """Give ``user`` the permissions read along with it (``permission_names_sql``), so that checking
    one needs no query; only where this backend would read them itself."""
    if user.is_active and not user.is_anonymous and not user.is_superuser:
        user._perm_cache = set(names)


def permissions_of(user_id):
    """``{"app_label.codename", ...}`` granted to the user directly or through a group."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(_statement(), [user_id, user_id])
        return {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}
