"""Volunteers API: thin doors to the selectors (reads) and the services (workflow steps)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from casemgmt.api.permissions import ScopedPermission
from casemgmt.api.viewsets import AuditedWritesMixin, ScopedModelViewSet, ScopedViewSetMixin, answer_with
from casemgmt.core import reach
from casemgmt.core.models import Role

from .. import selectors, services
from ..models import Enrollment, Pairing, Qualification, ServiceHours, Skill, Team, TrainingCourse, TrainingSession, Volunteer
from . import filters
from .serializers import (
    AttendanceMarkSerializer,
    PairingEndSerializer,
    PairingSerializer,
    QualificationSerializer,
    ServiceHoursSerializer,
    SessionCheckinSerializer,
    SkillSerializer,
    TeamSerializer,
    TrainingCourseSerializer,
    TrainingEnrollmentSerializer,
    TrainingSessionSerializer,
    VolunteerSerializer,
)


class SelfServicePermission(ScopedPermission):
    """Volunteers hold no model permissions, yet enrol, cancel, check in and log hours for
    themselves: the actions in ``self_service_actions`` let them through, and the service then
    refuses anything that is not their own."""

    def has_permission(self, request, view):
        user = request.user
        if (getattr(view, "action", None) in getattr(view, "self_service_actions", ()) and user.is_authenticated
                and user.is_active and user.role == Role.VOLUNTEER and reach.can_use(user, view.get_queryset_model())):
            return True
        return super().has_permission(request, view)


class CreateListRetrieveViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                                mixins.ListModelMixin, viewsets.GenericViewSet):
    """For records that change only through workflow actions, never by PUT/PATCH."""


class SkillViewSet(AuditedWritesMixin, ScopedModelViewSet):
    """Skills volunteers offer (reference data)."""

    queryset = Skill.objects.all()
    selector = staticmethod(selectors.skill_list)
    serializer_class = SkillSerializer
    filterset_class = filters.SkillFilter
    ordering_fields = ["name", "code"]
    audit_reads = False


class TeamViewSet(AuditedWritesMixin, ScopedModelViewSet):
    queryset = Team.objects.all()
    selector = staticmethod(selectors.team_list)
    serializer_class = TeamSerializer
    filterset_class = filters.TeamFilter
    ordering_fields = ["name"]


class VolunteerViewSet(AuditedWritesMixin, ScopedModelViewSet):
    """Volunteers. ID numbers are never sent to volunteers and coordinators; phones are masked."""

    queryset = Volunteer.objects.all()
    selector = staticmethod(selectors.volunteer_list)
    serializer_class = VolunteerSerializer
    filterset_class = filters.VolunteerFilter
    ordering_fields = ["name", "joined_on", "status"]


class TrainingCourseViewSet(AuditedWritesMixin, ScopedModelViewSet):
    queryset = TrainingCourse.objects.all()
    selector = staticmethod(selectors.course_list)
    serializer_class = TrainingCourseSerializer
    filterset_class = filters.TrainingCourseFilter
    ordering_fields = ["title"]


class TrainingSessionViewSet(AuditedWritesMixin, ScopedModelViewSet):
    """Training sessions with their places taken and waiting-list length. ``complete`` closes a
    session: unmarked places become no-shows and attendees receive the course's qualification."""

    queryset = TrainingSession.objects.all()
    selector = staticmethod(selectors.session_list)
    serializer_class = TrainingSessionSerializer
    filterset_class = filters.TrainingSessionFilter
    ordering_fields = ["starts_at", "capacity"]

    @extend_schema(request=None, responses=QualificationSerializer(many=True))
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        granted = services.session_complete(actor=request.user, session=self.get_object())
        return Response(QualificationSerializer(granted, many=True, context=self.get_serializer_context()).data)


class EnrollmentViewSet(CreateListRetrieveViewSet):
    """Training places. POST enrols: the answer's ``status`` is ``enrolled`` when a place was free,
    ``waitlisted`` otherwise (``?status=waitlisted`` lists the waiting list). ``cancel`` frees the
    place for the first on the waiting list; ``attend`` marks presence; ``checkin`` takes a QR token."""

    queryset = Enrollment.objects.all()
    selector = staticmethod(selectors.enrollment_list)
    serializer_class = TrainingEnrollmentSerializer
    filterset_class = filters.EnrollmentFilter
    ordering_fields = ["enrolled_at", "status"]
    permission_classes = [SelfServicePermission]
    self_service_actions = ("create", "cancel", "checkin")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        enrollment = services.enrollment_create(actor=request.user, **serializer.validated_data)
        return answer_with(self, enrollment, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=TrainingEnrollmentSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        enrollment = self.get_object()
        services.enrollment_cancel(actor=request.user, enrollment=enrollment)
        enrollment.refresh_from_db()
        return answer_with(self, enrollment)

    @extend_schema(request=AttendanceMarkSerializer, responses=TrainingEnrollmentSerializer)
    @action(detail=True, methods=["post"])
    def attend(self, request, pk=None):
        enrollment = self.get_object()
        body = AttendanceMarkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        enrollment = services.attendance_mark(actor=request.user, enrollment=enrollment, **body.validated_data)
        return answer_with(self, enrollment)

    @extend_schema(request=SessionCheckinSerializer, responses=TrainingEnrollmentSerializer)
    @action(detail=False, methods=["post"])
    def checkin(self, request):
        body = SessionCheckinSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        enrollment = services.session_checkin_by_token(actor=request.user, **body.validated_data)
        return answer_with(self, enrollment)


class QualificationViewSet(AuditedWritesMixin, ScopedModelViewSet):
    queryset = Qualification.objects.all()
    selector = staticmethod(selectors.qualification_list)
    serializer_class = QualificationSerializer
    filterset_class = filters.QualificationFilter
    ordering_fields = ["granted_on", "expires_on"]


class PairingViewSet(CreateListRetrieveViewSet):
    """Volunteer–family pairings (结对帮扶): created and ended through the pairing services."""

    queryset = Pairing.objects.all()
    selector = staticmethod(selectors.pairing_list)
    serializer_class = PairingSerializer
    filterset_class = filters.PairingFilter
    ordering_fields = ["started_on"]
    audit_family_field = "family_id"

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pairing = services.pairing_create(actor=request.user, **serializer.validated_data)
        return answer_with(self, pairing, status.HTTP_201_CREATED)

    @extend_schema(request=PairingEndSerializer, responses=PairingSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        pairing = self.get_object()
        body = PairingEndSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pairing = services.pairing_end(actor=request.user, pairing=pairing, **body.validated_data)
        return answer_with(self, pairing)


class ServiceHoursViewSet(CreateListRetrieveViewSet):
    """Volunteers log their hours (POST); a coordinator approves or rejects them, never their own."""

    queryset = ServiceHours.objects.all()
    selector = staticmethod(selectors.service_hours_list)
    serializer_class = ServiceHoursSerializer
    filterset_class = filters.ServiceHoursFilter
    ordering_fields = ["date", "status"]
    permission_classes = [SelfServicePermission]
    self_service_actions = ("create",)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.service_hours_log(actor=request.user, **serializer.validated_data)
        return answer_with(self, entry, status.HTTP_201_CREATED)

    def _review(self, request, approve):
        entry = services.service_hours_review(actor=request.user, hours=self.get_object(), approve=approve)
        return answer_with(self, entry)

    @extend_schema(request=None, responses=ServiceHoursSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._review(request, True)

    @extend_schema(request=None, responses=ServiceHoursSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._review(request, False)
