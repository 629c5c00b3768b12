"""Endpoints of the API app itself: the caller (``users/me``), personal tokens, regions, audit trail."""
import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from casemgmt.core import privacy
from casemgmt.core.models import AuditEvent, Notification, Region
from casemgmt.core.notifications import notifications_mark_read
from casemgmt.security.stepup import require_step_up

from . import services as token_services
from .models import ApiToken
from .permissions import HasViewPerm, ScopedPermission
from .viewsets import ScopedReadOnlyModelViewSet, client_ip


class RegionBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["id", "code", "name", "full_name", "level", "path"]


class RegionSerializer(serializers.ModelSerializer):
    parent_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Region
        fields = ["id", "code", "name", "full_name", "level", "parent_id", "path", "urban_rural_code", "is_active"]


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    role = serializers.CharField()
    role_display = serializers.CharField(source="get_role_display")
    region = RegionBriefSerializer(allow_null=True)
    reach_path = serializers.CharField()
    language = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField())


class MeView(APIView):
    """The caller: role, region of responsibility and model permissions."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        user.permissions = sorted(user.get_all_permissions())
        return Response(MeSerializer(user).data)


class RegionFilter(django_filters.FilterSet):
    parent = django_filters.NumberFilter(field_name="parent_id")
    within = django_filters.CharFilter(method="filter_within", label=_("region code (its whole subtree)"))
    q = django_filters.CharFilter(method="filter_q", label=_("name or code"))

    class Meta:
        model = Region
        fields = ["level", "parent", "code", "is_active"]

    def filter_within(self, queryset, name, value):
        region = Region.objects.filter(code=Region.normalize_code(value)).only("path").first()
        return queryset.filter(path__startswith=region.path) if region else queryset.none()

    def filter_q(self, queryset, name, value):
        return queryset.filter(name__contains=value) | queryset.filter(code__startswith=value)


class RegionViewSet(ScopedReadOnlyModelViewSet):
    """The region tree, limited to the caller's subtree. Regions are managed in the admin."""

    queryset = Region.objects.all()
    serializer_class = RegionSerializer
    filterset_class = RegionFilter
    audit_reads = False  # public administrative data

    @extend_schema(responses=RegionSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def children(self, request, pk=None):
        """The regions directly under this one, a page at a time (a city has thousands of villages
        two levels down, a province hundreds of townships)."""
        region = self.get_object()
        children = self.get_queryset().filter(parent=region).order_by("code")
        page = self.paginate_queryset(children)
        return self.get_paginated_response(RegionSerializer(page, many=True).data)

    # Five regions at most (province to village): one unpaginated list, as the schema says.
    @extend_schema(responses=RegionSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=None)
    def ancestors(self, request, pk=None):
        """From the top of the tree down to the region itself (names only, for breadcrumbs)."""
        region = self.get_object()
        prefixes = [region.path[:n] for n in (2, 4, 6, 9, 12) if n <= len(region.path)]
        codes = [p.ljust(12, "0") for p in prefixes]
        return Response(RegionSerializer(Region.objects.filter(code__in=codes).order_by("level"), many=True).data)


class AuditEventSerializer(serializers.ModelSerializer):
    """An audit row as served: before/after through the privacy policy's ``redact`` again, for rows
    written before the trail redacted on writing (which field changed, never its value)."""

    actor_username = serializers.CharField(source="actor.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "actor_username", "actor_role", "event", "object_type", "object_ids",
                  "family_id", "region_path", "before", "after", "reason", "ip"]

    def to_representation(self, event):
        data = super().to_representation(event)
        data["before"] = privacy.redact(event.object_type, data["before"])
        data["after"] = privacy.redact(event.object_type, data["after"])
        return data


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.NumberFilter(field_name="actor_id")
    family = django_filters.NumberFilter(field_name="family_id")
    event = django_filters.CharFilter(field_name="event", lookup_expr="startswith")
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["actor", "family", "event", "since", "until"]


class AuditEventViewSet(ScopedReadOnlyModelViewSet):
    """The audit trail, read-only for everybody; auditors (and administrators) see their subtree."""

    queryset = AuditEvent.objects.select_related("actor")
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    permission_classes = [ScopedPermission, HasViewPerm]
    required_view_perm = "core.view_auditevent"
    audit_reads = True  # reading the trail is itself recorded


class NotificationSerializer(serializers.ModelSerializer):
    """A notification as Today shows it. Its text was written for the recipient (only what may
    leave the system: ``privacy.outbound``), so it needs no field-by-field policy here."""

    is_read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "level", "title", "body", "link", "family", "created_at", "read_at", "is_read"]
        read_only_fields = fields

    def get_is_read(self, notification) -> bool:
        return notification.read_at is not None


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", label=_("unread only"))
    level = django_filters.MultipleChoiceFilter(choices=Notification.Level.choices)

    class Meta:
        model = Notification
        fields = ["unread", "level"]


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class MarkedReadSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text=_("How many notifications were unread and are now read."))


class NotificationViewSet(ScopedReadOnlyModelViewSet):
    """The caller's own notifications (``reach``: a notification is its recipient's alone), newest
    first, so a phone app shows what Today shows; mark one or all read."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    # Reading one's own inbox is not a read of a family's personal data: it carries only what may
    # be mailed or texted to the recipient anyway.
    audit_reads = False
    # Marking one's own notification read is part of reading it.
    action_perms = {"read": "view", "read_all": "view"}

    @extend_schema(responses=UnreadCountSerializer, filters=False)
    @action(detail=False, methods=["get"], url_path="unread-count", pagination_class=None)
    def unread_count(self, request):
        return Response({"unread": self.get_queryset().filter(read_at__isnull=True).count()})

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = self.get_object()
        notifications_mark_read(actor=request.user, ids=[notification.pk])
        notification.refresh_from_db(fields=["read_at"])
        return Response(self.get_serializer(notification).data)

    @extend_schema(request=None, responses=MarkedReadSerializer, filters=False)
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"marked": notifications_mark_read(actor=request.user)})


class TokenSerializer(serializers.ModelSerializer):
    expires_in_days = serializers.IntegerField(
        write_only=True, min_value=1, required=False,
        help_text=_("Days until the token expires; at most the configured maximum (API_TOKEN_MAX_DAYS), "
                    "which is also the default."))
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at", "is_active",
                  "expires_in_days"]
        read_only_fields = ["prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]
        extra_kwargs = {"last_used_at": {"help_text": _(
            "When the token was last used, to the hour: a use is recorded when the last recorded one is "
            "an hour old or more.")}}

    def validate_expires_in_days(self, value):
        limit = token_services.token_max_days()
        if value > limit:
            raise serializers.ValidationError(
                _("A token lives at most %(days)d days.") % {"days": limit}, code="max_value")
        return value


class IssuedTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text=_("Shown only now; store it safely."))

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


class TokenViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                   mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """The caller's own personal API tokens. DELETE revokes (the row stays for the record).

    Minting one needs a signed-in session (a token never mints another: it would outlive its own
    revocation) and a fresh second factor (step-up: a code entered in the last few minutes, or the
    current code in the ``X-OTP`` header); else 403 ``step_up_required``."""

    serializer_class = TokenSerializer
    permission_classes = [IsAuthenticated]
    queryset = ApiToken.objects.all()

    def get_queryset(self):
        user = self.request.user
        return ApiToken.objects.filter(user=user) if user.is_authenticated else ApiToken.objects.none()

    @extend_schema(responses={201: IssuedTokenSerializer})
    def create(self, request, *args, **kwargs):
        if request.auth is not None:
            raise PermissionDenied(_("A token cannot create tokens: sign in to create one."), code="token_not_allowed")
        require_step_up(request, "api.token.issue")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        days = serializer.validated_data.get("expires_in_days") or token_services.token_max_days()
        token, raw = token_services.token_issue(actor=request.user, name=serializer.validated_data["name"], days=days,
                                                ip=client_ip(request))
        data = IssuedTokenSerializer(token).data
        data["token"] = raw
        return Response(data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        token_services.token_revoke(actor=self.request.user, token=instance, ip=client_ip(self.request))
