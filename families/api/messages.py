"""API door of messages to a family (``families.messages``): ``POST /api/v1/family-messages/``."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from casemgmt.core import reach
from casemgmt.security.models import FamilyMessage

from .. import messages
from ..models import Family, FamilyMember


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
        message = messages.family_message_send(actor=request.user, family=family, member=member,
                                               channel=data.validated_data["channel"], text=data.validated_data["text"])
        return Response({"id": message.pk, "status": message.status}, status=status.HTTP_201_CREATED)
