"""API doors of the security app: break-the-glass access (opened, asked for, approved, overseen)."""
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from casemgmt.api.viewsets import client_ip
from casemgmt.core import reach

from .. import services, stepup
from ..models import BreakGlassGrant


class StepUpRequired(exceptions.PermissionDenied):
    default_detail = _("Confirm it is you: enter a fresh code from your authenticator, then try again.")
    default_code = "step_up_required"


class BreakGlassGrantSerializer(serializers.ModelSerializer):
    is_live = serializers.BooleanField(read_only=True)

    class Meta:
        model = BreakGlassGrant
        fields = ["id", "family", "reason", "status", "hours", "requested_at", "granted_at", "expires_at",
                  "decided_at", "revoked_at", "is_live"]


class OverseenGrantSerializer(BreakGlassGrantSerializer):
    """A grant as its overseers read it: who asked, for which family (by region), who decided."""

    user_username = serializers.CharField(source="user.username", read_only=True)
    family_file_number = serializers.CharField(source="family.file_number", read_only=True)
    region_path = serializers.CharField(source="family.region_path", read_only=True)
    decided_by = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta(BreakGlassGrantSerializer.Meta):
        fields = [*BreakGlassGrantSerializer.Meta.fields, "user", "user_username", "family_file_number", "region_path",
                  "decided_by", "revoked_by"]


class BreakGlassRequestSerializer(serializers.Serializer):
    family = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    reason = serializers.CharField(max_length=500)
    hours = serializers.IntegerField(required=False, min_value=1, max_value=10_000)


class BreakGlassView(APIView):
    """GET: the caller's grants. POST: open a family outside the caller's reach for an emergency
    (201), or, beyond the day's cap, ask a region manager to (202, status ``pending``). Needs a
    fresh second factor. A family that cannot be opened is answered 404 whether it exists or not."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=BreakGlassGrantSerializer(many=True))
    def get(self, request):
        grants = BreakGlassGrant.objects.filter(user=request.user).order_by("-requested_at", "-id")[:100]
        return Response(BreakGlassGrantSerializer(grants, many=True).data)

    @extend_schema(request=BreakGlassRequestSerializer,
                   responses={201: BreakGlassGrantSerializer, 202: BreakGlassGrantSerializer})
    def post(self, request):
        if not stepup.step_up_ok(request, "breakglass.open"):
            raise StepUpRequired()
        data = BreakGlassRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        grant = services.breakglass_request(actor=request.user, family_id=data.validated_data["family"],
                                            reason=data.validated_data["reason"],
                                            hours=data.validated_data.get("hours"), ip=client_ip(request))
        answer = status.HTTP_202_ACCEPTED if grant.status == BreakGlassGrant.Status.PENDING else status.HTTP_201_CREATED
        return Response(BreakGlassGrantSerializer(grant).data, status=answer)


class BreakGlassRevokeView(APIView):
    """End a grant before it expires."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=BreakGlassGrantSerializer)
    def post(self, request, pk):
        grant = get_object_or_404(BreakGlassGrant.objects.select_related("family"), pk=pk)
        grant = services.breakglass_revoke(actor=request.user, grant=grant, ip=client_ip(request))
        return Response(BreakGlassGrantSerializer(grant).data)


class OverseenGrantsView(generics.ListAPIView):
    """Every grant on families in the caller's reach, for administrators, region managers and
    auditors (``?status=pending``: the requests waiting for a decision)."""

    permission_classes = [IsAuthenticated]
    serializer_class = OverseenGrantSerializer

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=BreakGlassGrant.Status.values)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        grants = reach.restrict(BreakGlassGrant.objects.select_related("user", "family"), self.request.user)
        wanted = self.request.query_params.get("status")
        if wanted in BreakGlassGrant.Status.values:
            grants = grants.filter(status=wanted)
        return grants.order_by("-requested_at", "-id")


class BreakGlassDecideView(APIView):
    """A region manager (or administrator) over the family approves or denies a pending request."""

    permission_classes = [IsAuthenticated]
    approve = True

    @extend_schema(request=None, responses=OverseenGrantSerializer)
    def post(self, request, pk):
        grants = reach.restrict(BreakGlassGrant.objects.select_related("family", "user"), request.user)
        grant = get_object_or_404(grants, pk=pk)
        grant = services.breakglass_decide(actor=request.user, grant=grant, approve=self.approve, ip=client_ip(request))
        return Response(OverseenGrantSerializer(grant).data)
