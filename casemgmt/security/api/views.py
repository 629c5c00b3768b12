"""API doors of the security app: break-the-glass access and messages to families."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from casemgmt.api.viewsets import client_ip
from casemgmt.core import reach
from families.models import Family, FamilyMember

from .. import services
from ..models import BreakGlassGrant, FamilyMessage


class BreakGlassGrantSerializer(serializers.ModelSerializer):
    is_live = serializers.BooleanField(read_only=True)

    class Meta:
        model = BreakGlassGrant
        fields = ["id", "family", "reason", "granted_at", "expires_at", "revoked_at", "is_live"]


class BreakGlassRequestSerializer(serializers.Serializer):
    family = serializers.IntegerField()
    reason = serializers.CharField(max_length=500)
    hours = serializers.IntegerField(required=False, min_value=1)


class BreakGlassView(APIView):
    """GET: the caller's grants. POST: open a family outside the caller's reach for an emergency."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=BreakGlassGrantSerializer(many=True))
    def get(self, request):
        grants = BreakGlassGrant.objects.filter(user=request.user).order_by("-granted_at")[:100]
        return Response(BreakGlassGrantSerializer(grants, many=True).data)

    @extend_schema(request=BreakGlassRequestSerializer, responses={201: BreakGlassGrantSerializer})
    def post(self, request):
        data = BreakGlassRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        family = get_object_or_404(Family, pk=data.validated_data["family"])
        grant = services.breakglass_open(actor=request.user, family=family, reason=data.validated_data["reason"],
                                         hours=data.validated_data.get("hours"), ip=client_ip(request))
        return Response(BreakGlassGrantSerializer(grant).data, status=status.HTTP_201_CREATED)


class BreakGlassRevokeView(APIView):
    """End a grant before it expires."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=BreakGlassGrantSerializer)
    def post(self, request, pk):
        grant = get_object_or_404(BreakGlassGrant.objects.select_related("family"), pk=pk)
        grant = services.breakglass_revoke(actor=request.user, grant=grant, ip=client_ip(request))
        return Response(BreakGlassGrantSerializer(grant).data)


class FamilyMessageSerializer(serializers.Serializer):
    family = serializers.IntegerField()
    member = serializers.IntegerField(required=False, allow_null=True)
    channel = serializers.ChoiceField(choices=FamilyMessage.Channel.choices)
    text = serializers.CharField(max_length=500)


class FamilyMessageView(APIView):
    """Send an SMS or WeChat message to a family in reach; refused (403) without their consent."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=FamilyMessageSerializer, responses={201: None})
    def post(self, request):
        data = FamilyMessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        family = get_object_or_404(reach.restrict(Family.objects.all(), request.user), pk=data.validated_data["family"])
        member = None
        if data.validated_data.get("member"):
            member = get_object_or_404(FamilyMember, pk=data.validated_data["member"], family=family)
        message = services.family_message_send(actor=request.user, family=family, member=member,
                                               channel=data.validated_data["channel"], text=data.validated_data["text"])
        return Response({"id": message.pk, "status": message.status}, status=status.HTTP_201_CREATED)
