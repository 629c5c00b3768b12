"""Personal API tokens: ``Authorization: Bearer cmt_…`` (or ``Token cmt_…``)."""
import datetime
import functools

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Exists, OuterRef
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from casemgmt.core import reach
from casemgmt.core.backends import permission_names_sql, remember_permissions
from casemgmt.core.crypto import hash_token
from casemgmt.core.models import Region, User

from .models import ApiToken

# Where the key's hash goes among the statement's parameters (a string: the field prepares it as one).
_KEY = "(the key's hash)"

# A token's ``last_used_at`` is recorded to the hour: a use writes it only when the recorded one is
# this old. Recorded to the minute, a thousand staff taking turns made nearly every read a write
# (and a wait for the disk); to the hour, a token's first request of the hour is the only one.
LAST_USED_PRECISION = datetime.timedelta(hours=1)


class TokenLookup:
    """The token with a given hash, its user, the user's region, whether the user holds a live
    break-the-glass grant and (``with_permissions``) the user's permissions: one
    statement, which the ORM writes once per process. Every API request runs it, and compiling it
    (three models, a join, a subquery) cost more than running it. Every write checks a permission,
    which would be one statement more; a read checks none (``api.permissions``), and would only pay
    for reading the role's hundred permission names, so reads use a lookup without them.

    The statement selects every column of the three models in their field order and the rows come
    back as the ORM would make them (``Model.from_db``, with each field's own converters)."""

    parts = ((ApiToken, ""), (User, "user__"), (Region, "user__region__"))

    def __init__(self, using=DEFAULT_DB_ALIAS, with_permissions=True):
        self.using = using
        connection = connections[using]
        self.fields = [(model, list(model._meta.concrete_fields)) for model, _prefix in self.parts]
        names = [prefix + field.attname for (model, prefix), (_m, fields) in zip(self.parts, self.fields, strict=True)
                 for field in fields]
        grants = reach.live_grants_of(OuterRef("user_id"), now=Now())
        queryset = ApiToken.objects.filter(key_hash=_KEY).annotate(holds_grant=Exists(grants))
        extra = ["holds_grant"]
        self.with_permissions = with_permissions
        if self.with_permissions:
            quote = connection.ops.quote_name
            user_id = f"{quote(ApiToken._meta.db_table)}.{quote(ApiToken._meta.get_field('user').column)}"
            queryset = queryset.annotate(permissions=RawSQL(f"ARRAY({permission_names_sql(user_id)})", []))
            extra.append("permissions")
        queryset = queryset.values_list(*names, *extra).order_by()
        self.sql, params = queryset.query.sql_with_params()
        self.params = list(params)
        self.key_at = self.params.index(_KEY)
        self.converters = [[[converter for converter in (*connection.ops.get_db_converters(field.cached_col),
                                                          *field.get_db_converters(connection))]
                            for field in fields] for _model, fields in self.fields]

    def __call__(self, key_hash):
        """The token (``token.user``, ``token.user.region`` loaded, the user's permissions remembered;
        ``token.holds_grant``) or None."""
        connection = connections[self.using]
        params = list(self.params)
        params[self.key_at] = key_hash
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        made, start = [], 0
        for (model, fields), converters in zip(self.fields, self.converters, strict=True):
            values = list(row[start:start + len(fields)])
            start += len(fields)
            for i, field in enumerate(fields):
                for converter in converters[i]:
                    values[i] = converter(values[i], field.cached_col, connection)
            primary = values[fields.index(model._meta.pk)]
            made.append(None if primary is None else model.from_db(self.using, [f.attname for f in fields], values))
        token, user, region = made
        user.region = region
        token.user = user
        token.holds_grant = row[start]
        if self.with_permissions:
            remember_permissions(user, row[start + 1])
        return token


@functools.cache
def token_lookup(with_permissions=True):
    return TokenLookup(with_permissions=with_permissions)


def last_use_record(token, now):
    """Stamp the token's use. Outside a transaction the stamp is its own and does not wait for the
    disk: should PostgreSQL crash in the moment it takes to reach it anyway, the token's last use
    reads as an hour earlier until its next use. Inside one (a write's request) it commits with the
    request's work, as that does."""
    connection = connections[DEFAULT_DB_ALIAS]
    own = not connection.in_atomic_block
    with transaction.atomic():
        if own:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token header.")) from None
        # Whether the user holds a break-the-glass grant comes with the token, for reach.restrict.
        # A read checks no permission (api.permissions): if something does, the backend reads them.
        token = token_lookup(request.method not in permissions.SAFE_METHODS)(hash_token(raw))
        if token is None or not token.is_active or not token.user.is_active:
            # One message for unknown, expired and revoked tokens: nothing to learn by probing.
            raise exceptions.AuthenticationFailed(_("The token is invalid, expired or revoked."))
        reach.remember_live_grant(token.user, token.holds_grant)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
            last_use_record(token, now)
        return token.user, token

    def authenticate_header(self, request):
        return "Bearer"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "casemgmt.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Personal API token from /api/v1/tokens/."}
