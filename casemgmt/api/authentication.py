"""Personal API tokens: ``Authorization: Bearer cmt_…`` (or ``Token cmt_…``)."""
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from casemgmt.core import reach

from .models import ApiToken, hash_token


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
        token = (ApiToken.objects.select_related("user", "user__region")
                 .annotate(holds_grant=Exists(reach.live_grants_of(OuterRef("user_id"))))
                 .filter(key_hash=hash_token(raw)).first())
        if token is None or not token.is_active or not token.user.is_active:
            # One message for unknown, expired and revoked tokens: nothing to learn by probing.
            raise exceptions.AuthenticationFailed(_("The token is invalid, expired or revoked."))
        reach.remember_live_grant(token.user, token.holds_grant)
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return "Bearer"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "casemgmt.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Personal API token from /api/v1/tokens/."}
