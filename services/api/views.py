"""Services API: thin doors to the selectors (reads) and the services (workflow steps)."""
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from casemgmt.api.viewsets import AuditedWritesMixin, RevealMixin, ScopedModelViewSet, ScopedReadOnlyModelViewSet, answer_with
from volunteers.api.views import CreateListRetrieveViewSet, SelfServicePermission

from .. import selectors, services
from ..models import (
    Activity,
    ActivityAttendance,
    ActivityInvitation,
    ConsolationVisit,
    Disbursement,
    Fund,
    HealthCheckup,
    InsuranceClaim,
    InsurancePolicy,
    InsuredPerson,
    PremiumPayment,
    ServiceSite,
)
from . import filters
from .serializers import (
    ActivityAttendanceSerializer,
    ActivityAttendanceSetSerializer,
    ActivityCheckinSerializer,
    ActivityInvitationSerializer,
    ActivityInviteSerializer,
    ActivitySerializer,
    ActivityTokenCheckinSerializer,
    ClaimRejectSerializer,
    ClaimSettleSerializer,
    ConsolationVisitSerializer,
    DisbursementSerializer,
    FundSerializer,
    HealthCheckupSerializer,
    InsuranceClaimSerializer,
    InsurancePolicySerializer,
    InsuredPersonSerializer,
    PremiumPaymentSerializer,
    ServiceSiteSerializer,
)


def _reload(viewset, instance):
    """The row again through the selector, so annotations (counts, sums) are current."""
    return viewset.get_queryset().get(pk=instance.pk)


class ServiceSiteViewSet(AuditedWritesMixin, ScopedModelViewSet):
    """Warm Heart Homes, psychological aid centres and the other service platforms."""

    queryset = ServiceSite.objects.all()
    selector = staticmethod(selectors.site_list)
    serializer_class = ServiceSiteSerializer
    filterset_class = filters.ServiceSiteFilter
    ordering_fields = ["name", "opened_on"]
    audit_reads = False  # public facilities, no personal data


class ActivityViewSet(AuditedWritesMixin, ScopedModelViewSet):
    """"5+N" activities. POST plans one (at a site or in a region, in the future); ``invite`` invites
    family members and volunteers (again is harmless); ``checkin`` checks a member or a volunteer in
    (staff) and ``attendance`` sets who came, both from the start on; ``checkin_by_token`` takes the
    activity's QR token (volunteers check themselves in with it)."""

    queryset = Activity.objects.all()
    selector = staticmethod(selectors.activity_list)
    serializer_class = ActivitySerializer
    filterset_class = filters.ActivityFilter
    ordering_fields = ["starts_at", "title"]
    permission_classes = [SelfServicePermission]
    self_service_actions = ("checkin_by_token",)
    action_perms = {"checkin_by_token": "change"}
    audit_reads = False  # the programme itself; who came is in attendance (audited)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        activity = services.activity_plan(actor=request.user, **{
            name: data[name] for name in ("title", "category", "starts_at", "ends_at", "site", "region", "capacity",
                                          "description", "local_name") if name in data})
        return answer_with(self, _reload(self, activity), status.HTTP_201_CREATED)

    @extend_schema(request=ActivityInviteSerializer, responses={201: ActivityInvitationSerializer(many=True)})
    @action(detail=True, methods=["post"])
    def invite(self, request, pk=None):
        activity = self.get_object()
        body = ActivityInviteSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        created = services.activity_invite(actor=request.user, activity=activity, **body.validated_data)
        return Response(ActivityInvitationSerializer(created, many=True, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=ActivityAttendanceSetSerializer, responses=ActivityAttendanceSerializer(many=True))
    @action(detail=True, methods=["post"])
    def attendance(self, request, pk=None):
        activity = self.get_object()
        body = ActivityAttendanceSetSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        services.activity_attendance_set(actor=request.user, activity=activity, **body.validated_data)
        rows = selectors.attendance_list(user=request.user).filter(activity=activity).order_by("checked_in_at", "id")
        return Response(ActivityAttendanceSerializer(rows, many=True, context=self.get_serializer_context()).data)

    @extend_schema(request=ActivityCheckinSerializer, responses={201: ActivityAttendanceSerializer})
    @action(detail=True, methods=["post"])
    def checkin(self, request, pk=None):
        activity = self.get_object()
        body = ActivityCheckinSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        attendance = services.activity_checkin(actor=request.user, activity=activity, **body.validated_data)
        return answer_with(self, attendance, status.HTTP_201_CREATED, ActivityAttendanceSerializer)

    @extend_schema(request=ActivityTokenCheckinSerializer, responses={201: ActivityAttendanceSerializer})
    @action(detail=False, methods=["post"], url_path="checkin-by-token")
    def checkin_by_token(self, request):
        body = ActivityTokenCheckinSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        attendance = services.activity_checkin_by_token(actor=request.user, **body.validated_data)
        return answer_with(self, attendance, status.HTTP_201_CREATED, ActivityAttendanceSerializer)


class ActivityAttendanceViewSet(ScopedReadOnlyModelViewSet):
    """Who came to which activity (written by the check-in actions)."""

    queryset = ActivityAttendance.objects.all()
    selector = staticmethod(selectors.attendance_list)
    serializer_class = ActivityAttendanceSerializer
    filterset_class = filters.ActivityAttendanceFilter
    ordering_fields = ["checked_in_at"]
    audit_family_field = "family_id"


class ActivityInvitationViewSet(ScopedReadOnlyModelViewSet):
    """Who is invited to which activity, and their answer (written by the ``invite`` action)."""

    queryset = ActivityInvitation.objects.all()
    selector = staticmethod(selectors.invitation_list)
    serializer_class = ActivityInvitationSerializer
    filterset_class = filters.ActivityInvitationFilter
    ordering_fields = ["invited_at"]
    audit_family_field = "family_id"


class FundViewSet(AuditedWritesMixin, ScopedModelViewSet):
    """Funds with what has been paid out of them (``spent``)."""

    queryset = Fund.objects.all()
    selector = staticmethod(selectors.fund_list)
    serializer_class = FundSerializer
    filterset_class = filters.FundFilter
    ordering_fields = ["year", "name", "budget"]
    audit_reads = False  # budgets, no personal data


class InsurancePolicyViewSet(AuditedWritesMixin, ScopedModelViewSet):
    """Insurance policies. ``renew`` drafts next year's policy with the members still eligible;
    ``activate`` puts a draft in force."""

    queryset = InsurancePolicy.objects.all()
    selector = staticmethod(selectors.policy_list)
    serializer_class = InsurancePolicySerializer
    filterset_class = filters.InsurancePolicyFilter
    ordering_fields = ["starts_on", "ends_on"]
    audit_reads = False  # contracts; the insured people are in the roster (audited)

    def perform_create(self, serializer):
        serializer.save(responsible=self.request.user)
        self.audit_write("created", serializer.instance, serializer.validated_data)

    @extend_schema(request=None, responses={201: InsurancePolicySerializer})
    @action(detail=True, methods=["post"])
    def renew(self, request, pk=None):
        renewal = services.policy_renew(actor=request.user, policy=self.get_object())
        return answer_with(self, _reload(self, renewal), status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=InsurancePolicySerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        policy = services.policy_activate(actor=request.user, policy=self.get_object())
        return answer_with(self, _reload(self, policy))


class InsuredPersonViewSet(CreateListRetrieveViewSet, mixins.DestroyModelMixin):
    """A policy's roster. People are added while the policy is a draft or active, removed only from drafts."""

    queryset = InsuredPerson.objects.all()
    selector = staticmethod(selectors.roster_list)
    serializer_class = InsuredPersonSerializer
    filterset_class = filters.InsuredPersonFilter
    ordering_fields = ["added_on"]
    audit_family_field = "family_id"

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        insured = services.roster_add(actor=request.user, **serializer.validated_data)
        return answer_with(self, insured, status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.roster_remove(actor=self.request.user, insured=instance)


class InsuranceClaimViewSet(RevealMixin, CreateListRetrieveViewSet):
    """Claims: POST files one (checked against the roster, the period and the daily-allowance cap);
    ``settle`` and ``reject`` decide it once."""

    queryset = InsuranceClaim.objects.all()
    selector = staticmethod(selectors.claim_list)
    serializer_class = InsuranceClaimSerializer
    filterset_class = filters.InsuranceClaimFilter
    ordering_fields = ["filed_on", "incident_date", "amount_claimed"]
    audit_family_field = "family_id"
    action_perms = {"reveal": "view"}

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        claim = services.claim_file(actor=request.user, **serializer.validated_data)
        return answer_with(self, _reload(self, claim), status.HTTP_201_CREATED)

    @extend_schema(request=ClaimSettleSerializer, responses=InsuranceClaimSerializer)
    @action(detail=True, methods=["post"])
    def settle(self, request, pk=None):
        claim = self.get_object()
        body = ClaimSettleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        claim = services.claim_settle(actor=request.user, claim=claim, **body.validated_data)
        return answer_with(self, _reload(self, claim))

    @extend_schema(request=ClaimRejectSerializer, responses=InsuranceClaimSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        claim = self.get_object()
        body = ClaimRejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        claim = services.claim_reject(actor=request.user, claim=claim, **body.validated_data)
        return answer_with(self, _reload(self, claim))


class DisbursementViewSet(CreateListRetrieveViewSet):
    """Money and goods paid out of funds. Records are not edited: a correction is a new record."""

    queryset = Disbursement.objects.all()
    selector = staticmethod(selectors.disbursement_list)
    serializer_class = DisbursementSerializer
    filterset_class = filters.DisbursementFilter
    ordering_fields = ["paid_on", "amount"]
    audit_family_field = "family_id"

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        disbursement = services.disbursement_record(actor=request.user, **serializer.validated_data)
        return answer_with(self, disbursement, status.HTTP_201_CREATED)


class PremiumPaymentViewSet(CreateListRetrieveViewSet):
    """Premiums paid for policies, by date: the figures count a premium in the period it was paid."""

    queryset = PremiumPayment.objects.all()
    selector = staticmethod(selectors.premium_payment_list)
    serializer_class = PremiumPaymentSerializer
    filterset_class = filters.PremiumPaymentFilter
    ordering_fields = ["paid_on", "amount"]
    audit_family_field = "family_id"

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = services.premium_payment_record(actor=request.user, **serializer.validated_data)
        return answer_with(self, payment, status.HTTP_201_CREATED)


class ConsolationVisitViewSet(ScopedModelViewSet):
    """Consolation visits (慰问) with the cash and goods given, if any; corrected with PATCH (If-Match)."""

    queryset = ConsolationVisit.objects.all()
    selector = staticmethod(selectors.consolation_visit_list)
    serializer_class = ConsolationVisitSerializer
    filterset_class = filters.ConsolationVisitFilter
    ordering_fields = ["visited_on"]
    audit_family_field = "family_id"

    def perform_create(self, serializer):
        values = serializer.validated_data
        if values.get("visitor") is None and not values.get("visiting_party"):
            # Named by nobody: the visit was made by whoever records it (staff outside the caller's
            # reach of users cannot be named, so a worker could not name herself otherwise).
            values = {**values, "visitor": self.request.user}
        serializer.instance = services.consolation_visit_record(actor=self.request.user, **values)

    def perform_update(self, serializer):
        visit = serializer.instance
        visit.version += 1  # the row is locked by the conditional update
        serializer.instance = services.consolation_visit_change(actor=self.request.user, visit=visit,
                                                                **serializer.validated_data)


class HealthCheckupViewSet(RevealMixin, AuditedWritesMixin, ScopedModelViewSet):
    """Free health check-ups of family members; findings are masked (``reveal`` is audited)."""

    queryset = HealthCheckup.objects.all()
    selector = staticmethod(selectors.checkup_list)
    serializer_class = HealthCheckupSerializer
    filterset_class = filters.HealthCheckupFilter
    ordering_fields = ["date"]
    audit_family_field = "family_id"
    action_perms = {"reveal": "view"}
