"""Serializers of the volunteers API. Writable foreign keys accept only rows in the caller's reach;
links to user accounts and workflow fields (status, review) are read-only: they change through services."""
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from casemgmt.api.serializers import PolicyFieldsMixin, ScopedRelatedField
from casemgmt.core.idcard import parse_id_number
from casemgmt.core.models import Region, Role
from families.models import Family
from services.models import Activity

from ..models import Enrollment, Pairing, Qualification, ServiceHours, Skill, Team, TrainingCourse, TrainingSession, Volunteer


def _region_field():
    return ScopedRelatedField(queryset=Region.objects.all())


class SkillSerializer(serializers.ModelSerializer):
    class Meta:
        model = Skill
        fields = ["id", "code", "name", "is_professional"]


class TeamSerializer(serializers.ModelSerializer):
    region = _region_field()

    class Meta:
        model = Team
        fields = ["id", "name", "region", "description"]


class VolunteerSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    region = _region_field()
    team = ScopedRelatedField(queryset=Team.objects.all(), allow_null=True, required=False)
    skills = ScopedRelatedField(queryset=Skill.objects.all(), many=True, required=False)
    region_name = serializers.CharField(source="region.name", read_only=True)
    team_name = serializers.CharField(source="team.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Volunteer
        fields = ["id", "name", "name_initials", "id_number", "phone", "region", "region_name", "team", "team_name", "skills",
                  "professional_title", "availability", "status", "joined_on", "user", "version", "created_at", "updated_at"]
        read_only_fields = ["name_initials", "user", "version", "created_at", "updated_at"]

    def validate_id_number(self, value):
        if value:
            try:
                parse_id_number(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None
        return value

    def validate(self, attrs):
        region = attrs.get("region") or (self.instance.region if self.instance else None)
        team = attrs.get("team", self.instance.team if self.instance else None)
        if team is not None and region is not None and not region.path.startswith(team.region.path):
            raise serializers.ValidationError({"team": _("The team works in another region.")})
        return attrs


class TrainingCourseSerializer(serializers.ModelSerializer):
    region = _region_field()
    skill = ScopedRelatedField(queryset=Skill.objects.all(), allow_null=True, required=False)

    class Meta:
        model = TrainingCourse
        fields = ["id", "title", "description", "skill", "qualification_name", "validity_months", "region"]

    def validate(self, attrs):
        name = attrs.get("qualification_name", getattr(self.instance, "qualification_name", ""))
        months = attrs.get("validity_months", getattr(self.instance, "validity_months", None))
        if months and not name:
            raise serializers.ValidationError({"validity_months": _("Only a course that grants a qualification has a validity.")})
        return attrs


class TrainingSessionSerializer(serializers.ModelSerializer):
    course = ScopedRelatedField(queryset=TrainingCourse.objects.all())
    region = _region_field()
    course_title = serializers.CharField(source="course.title", read_only=True)
    places_taken = serializers.IntegerField(read_only=True, default=0)
    waitlisted = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = TrainingSession
        fields = ["id", "course", "course_title", "region", "starts_at", "ends_at", "venue", "trainer", "capacity",
                  "places_taken", "waitlisted", "status", "qr_token", "version"]
        read_only_fields = ["status", "qr_token", "version"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        # The QR code is the proof of presence: the volunteers who scan it do not receive it here.
        if request is not None and getattr(request.user, "role", None) == Role.VOLUNTEER and not request.user.is_superuser:
            fields.pop("qr_token", None)
        return fields

    def validate(self, attrs):
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts and ends and ends <= starts:
            raise serializers.ValidationError({"ends_at": _("A session ends after it starts.")})
        capacity = attrs.get("capacity")
        if capacity is not None and capacity < 1:
            raise serializers.ValidationError({"capacity": _("A session has at least one place.")})
        return attrs


class TrainingEnrollmentSerializer(serializers.ModelSerializer):
    session = ScopedRelatedField(queryset=TrainingSession.objects.all())
    volunteer = ScopedRelatedField(queryset=Volunteer.objects.all())
    volunteer_name = serializers.CharField(source="volunteer.name", read_only=True)
    session_title = serializers.CharField(source="session.course.title", read_only=True)
    session_starts_at = serializers.DateTimeField(source="session.starts_at", read_only=True)

    class Meta:
        model = Enrollment
        fields = ["id", "session", "session_title", "session_starts_at", "volunteer", "volunteer_name", "status",
                  "enrolled_at", "attended_at"]
        read_only_fields = ["status", "enrolled_at", "attended_at"]


class AttendanceMarkSerializer(serializers.Serializer):
    attended = serializers.BooleanField(default=True)


class SessionCheckinSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=64, help_text=_("The token in the session's QR code."))
    volunteer = ScopedRelatedField(queryset=Volunteer.objects.all())


class QualificationSerializer(serializers.ModelSerializer):
    volunteer = ScopedRelatedField(queryset=Volunteer.objects.all())
    course = ScopedRelatedField(queryset=TrainingCourse.objects.all(), allow_null=True, required=False)
    session = ScopedRelatedField(queryset=TrainingSession.objects.all(), allow_null=True, required=False)
    volunteer_name = serializers.CharField(source="volunteer.name", read_only=True)

    class Meta:
        model = Qualification
        fields = ["id", "volunteer", "volunteer_name", "name", "course", "session", "certificate_number", "granted_on",
                  "expires_on"]

    def validate(self, attrs):
        granted = attrs.get("granted_on", getattr(self.instance, "granted_on", None))
        expires = attrs.get("expires_on", getattr(self.instance, "expires_on", None))
        if granted and expires and expires <= granted:
            raise serializers.ValidationError({"expires_on": _("A qualification expires after it was granted.")})
        return attrs


class PairingSerializer(serializers.ModelSerializer):
    volunteer = ScopedRelatedField(queryset=Volunteer.objects.all())
    family = ScopedRelatedField(queryset=Family.objects.all())
    volunteer_name = serializers.CharField(source="volunteer.name", read_only=True)
    family_file_number = serializers.CharField(source="family.file_number", read_only=True)

    class Meta:
        model = Pairing
        fields = ["id", "volunteer", "volunteer_name", "family", "family_file_number", "started_on", "ended_on",
                  "end_reason"]
        read_only_fields = ["ended_on", "end_reason"]


class PairingEndSerializer(serializers.Serializer):
    ended_on = serializers.DateField(required=False)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ServiceHoursSerializer(serializers.ModelSerializer):
    volunteer = ScopedRelatedField(queryset=Volunteer.objects.all())
    family = ScopedRelatedField(queryset=Family.objects.all(), allow_null=True, required=False)
    activity = ScopedRelatedField(queryset=Activity.objects.all(), allow_null=True, required=False)
    volunteer_name = serializers.CharField(source="volunteer.name", read_only=True)
    hours = serializers.DecimalField(max_digits=4, decimal_places=1, min_value=Decimal("0.1"), max_value=Decimal("24"))

    class Meta:
        model = ServiceHours
        fields = ["id", "volunteer", "volunteer_name", "family", "activity", "date", "hours", "description", "status",
                  "reviewed_by", "reviewed_at"]
        read_only_fields = ["status", "reviewed_by", "reviewed_at"]
