"""Serializers of the families API. Status, risk, region and due dates are read-only here: they
change only through the workflow actions (services), never through a writable field."""
from django.db.models import F, Func, Value
from django.db.models.functions import Coalesce, Concat, NullIf
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from casemgmt.api.serializers import ColumnReadMixin, PolicyFieldsMixin, ScopedRelatedField
from casemgmt.core.models import Region, User

from ..models import (
    AnnualReview,
    Assessment,
    AssessmentScale,
    AssistanceEnrollment,
    CarePlan,
    CarePlanGoal,
    CareTask,
    CheckIn,
    ConsentRecord,
    ContactAssignment,
    Family,
    FamilyMember,
    FamilyStatusChange,
    FamilyTransfer,
    RiskLevelChange,
)
from ..reminders import task_holder


def _user_name_sql():
    """``str(user)`` in SQL (casemgmt.api.sqljson): the display name, else first and last name
    stripped of white space at either end, else the username."""
    full = Func(Concat(F("first_name"), Value(" "), F("last_name")), Value(" \t\n\r\x0b\x0c"), function="btrim")
    return Coalesce(NullIf(F("display_name"), Value("")), NullIf(full, Value("")), F("username"))


class UserBriefSerializer(ColumnReadMixin, serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "name", "role"]
        read_only_fields = fields
        sql_methods = {"name": _user_name_sql}

    def get_name(self, user) -> str:
        # A method, not source="__str__": DRF inspects the signature of a callable source on every row.
        return str(user)


class MemberBriefSerializer(PolicyFieldsMixin, ColumnReadMixin, serializers.ModelSerializer):
    class Meta:
        model = FamilyMember
        fields = ["id", "name", "relation", "sex", "birth_date", "is_deceased", "id_number"]
        read_only_fields = fields


class AssignmentBriefSerializer(ColumnReadMixin, serializers.ModelSerializer):
    user = UserBriefSerializer(read_only=True)

    class Meta:
        model = ContactAssignment
        fields = ["id", "kind", "user", "started_on"]
        read_only_fields = fields


class FamilySerializer(PolicyFieldsMixin, ColumnReadMixin, serializers.ModelSerializer):
    region = ScopedRelatedField(queryset=Region.objects.all())
    region_code = serializers.CharField(source="region.code", read_only=True)
    region_name = serializers.CharField(source="region.full_name", read_only=True)
    # Loaded by selectors.family_cards; a family just registered has none yet.
    members = MemberBriefSerializer(source="member_cards", many=True, read_only=True, default=list)
    contacts = AssignmentBriefSerializer(source="active_assignments", many=True, read_only=True, default=list)

    class Meta:
        model = Family
        fields = ["id", "file_number", "category", "region", "region_code", "region_name", "region_path", "address",
                  "residence", "status", "status_reason", "status_changed_at", "risk_level", "risk_reason",
                  "risk_assessed_at", "registered_on", "last_checkin_at", "next_checkin_due", "last_home_visit_at",
                  "next_home_visit_due", "notes", "version", "members", "contacts", "created_at", "updated_at"]
        read_only_fields = ["region_path", "status", "status_reason", "status_changed_at", "risk_level", "risk_reason",
                            "risk_assessed_at", "last_checkin_at", "next_checkin_due", "last_home_visit_at",
                            "next_home_visit_due", "version", "created_at", "updated_at"]
        # Volunteers and coordinators pair and visit; case notes and reasons are not for them.
        # The nested lists as PostgreSQL builds them (casemgmt.api.sqljson): selectors.family_cards'
        # prefetches, for one family.
        sql_lists = {
            "members": lambda family: FamilyMember.objects.filter(family=family).order_by("relation", "id"),
            "contacts": lambda family: ContactAssignment.objects.filter(family=family, ended_on__isnull=True)
            .order_by("kind"),
        }

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            # Moving a family to another region is a transfer (the receiving manager decides).
            for name in ("region", "registered_on"):
                if name in fields:
                    fields[name].read_only = True
        return fields


class MemberSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    family = ScopedRelatedField(queryset=Family.objects.all())

    class Meta:
        model = FamilyMember
        fields = ["id", "family", "name", "name_pinyin", "name_initials", "relation", "id_number", "birth_date", "sex",
                  "birthday_calendar", "lunar_birth_month", "lunar_birth_day", "phone", "is_deceased", "death_date",
                  "disability_grade", "disability_certificate_number", "health_conditions", "family_doctor",
                  "family_doctor_institution", "family_doctor_signed_on", "family_doctor_expires_on", "version",
                  "created_at", "updated_at"]
        read_only_fields = ["name_pinyin", "name_initials", "version", "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["family"].read_only = True
        return fields


class AssignmentSerializer(serializers.ModelSerializer):
    user = UserBriefSerializer(read_only=True)
    assigned_by = UserBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ContactAssignment
        fields = ["id", "family", "kind", "user", "started_on", "ended_on", "end_reason", "assigned_by"]
        read_only_fields = fields


class AssignRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ContactAssignment.Kind.choices)
    # Managers only (checked by the view); the service checks the person works in the family's region.
    user = ScopedRelatedField(queryset=User.objects.filter(is_active=True).select_related("region"))
    started_on = serializers.DateField(required=False)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class CheckInSerializer(PolicyFieldsMixin, ColumnReadMixin, serializers.ModelSerializer):
    # Recording a check-in locks its family (checkin_record): locked as it is read, no second read.
    family = ScopedRelatedField(queryset=Family.objects.all(), lock_for_update=True)
    recorded_by = UserBriefSerializer(read_only=True)

    class Meta:
        model = CheckIn
        fields = ["id", "family", "occurred_at", "recorded_by", "channel", "physical_state", "mental_state",
                  "mental_notes", "difficulties", "needs", "help_given", "follow_up", "follow_up_due", "version",
                  "created_at"]
        read_only_fields = ["recorded_by", "version", "created_at"]


class ScaleSerializer(serializers.ModelSerializer):
    class Meta:
        model = AssessmentScale
        fields = ["id", "code", "name", "description", "max_score", "bands", "is_active"]
        read_only_fields = fields


class AssessmentSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    family = ScopedRelatedField(queryset=Family.objects.all())
    member = ScopedRelatedField(queryset=FamilyMember.objects.all(), required=False, allow_null=True)
    scale = serializers.PrimaryKeyRelatedField(queryset=AssessmentScale.objects.filter(is_active=True))
    assessed_by = UserBriefSerializer(read_only=True)

    class Meta:
        model = Assessment
        fields = ["id", "family", "member", "scale", "score", "resulting_risk", "notes", "assessed_by", "assessed_at",
                  "version"]
        read_only_fields = ["resulting_risk", "assessed_by", "version"]

    def validate(self, attrs):
        member = attrs.get("member")
        if member is not None and member.family_id != attrs["family"].pk:
            raise serializers.ValidationError({"member": _("This person is not a member of the family.")})
        return attrs


class ReassessRiskSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=Family._meta.get_field("risk_level").choices)
    reason = serializers.CharField(max_length=300)


class CloseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[(s.value, s.label) for s in (Family.Status.CLOSED, Family.Status.MOVED, Family.Status.DECEASED)],
        default=Family.Status.CLOSED,
    )
    reason = serializers.CharField(max_length=300)


class ReopenSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class StatusChangeSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    changed_by = UserBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = FamilyStatusChange
        fields = ["id", "from_status", "to_status", "reason", "changed_by", "changed_at"]
        read_only_fields = fields


class RiskChangeSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    changed_by = UserBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = RiskLevelChange
        fields = ["id", "from_level", "to_level", "reason", "assessment", "changed_by", "changed_at"]
        read_only_fields = fields


class CarePlanGoalSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    plan = ScopedRelatedField(queryset=CarePlan.objects.all())

    class Meta:
        model = CarePlanGoal
        fields = ["id", "plan", "description", "target_date", "status"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["plan"].read_only = True
        return fields


class CarePlanGoalBriefSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = CarePlanGoal
        fields = ["id", "description", "target_date", "status"]
        read_only_fields = fields


class CarePlanSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    family = ScopedRelatedField(queryset=Family.objects.all())
    owner = UserBriefSerializer(read_only=True)
    goals = CarePlanGoalBriefSerializer(many=True, read_only=True)

    class Meta:
        model = CarePlan
        fields = ["id", "family", "title", "summary", "status", "owner", "starts_on", "review_on", "goals", "version",
                  "created_at", "updated_at"]
        read_only_fields = ["owner", "version", "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["family"].read_only = True
        return fields

    def validate(self, attrs):
        starts, review = attrs.get("starts_on"), attrs.get("review_on")
        if self.instance is not None:
            starts = starts or self.instance.starts_on
            review = review if "review_on" in attrs else self.instance.review_on
        if starts and review and review < starts:
            raise serializers.ValidationError({"review_on": _("The review date is before the start date.")})
        return attrs


ASSIGNEE_OUTSIDE = _("Choose a person who works in the family's region.")


class NobodyHere:
    """An assignee id that names no active user: refused in ``validate`` with the same words as a
    user outside the family's region, so that the answer tells nothing of who exists elsewhere."""


class AssigneeField(serializers.PrimaryKeyRelatedField):
    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            return NobodyHere()


class CareTaskSerializer(serializers.ModelSerializer):
    holder = serializers.SerializerMethodField(
        help_text=_("who holds the task now: tasks follow the family's current assignment"))
    family = ScopedRelatedField(queryset=Family.objects.all())
    plan = ScopedRelatedField(queryset=CarePlan.objects.all(), required=False, allow_null=True)
    goal = ScopedRelatedField(queryset=CarePlanGoal.objects.all(), required=False, allow_null=True)
    assignee = AssigneeField(queryset=User.objects.filter(is_active=True).select_related("region"), required=False,
                             allow_null=True)

    class Meta:
        model = CareTask
        fields = ["id", "family", "plan", "goal", "kind", "description", "assignee", "holder", "due_on", "status",
                  "done_at", "created_at"]
        read_only_fields = ["done_at", "created_at"]

    @extend_schema_field(OpenApiTypes.INT)
    def get_holder(self, task):
        """Who holds the task now (``reminders.task_holder``): the assignee, or the family's current
        contact once the assignee's assignment has ended."""
        if hasattr(task, "holder"):
            return task.holder
        return CareTask.objects.filter(pk=task.pk).annotate(held=task_holder()).values_list("held", flat=True).first()

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["family"].read_only = True
        return fields

    def validate(self, attrs):
        family = attrs.get("family") or getattr(self.instance, "family", None)
        plan = attrs.get("plan")
        if plan is not None and family is not None and plan.family_id != family.pk:
            raise serializers.ValidationError({"plan": _("This care plan belongs to another family.")})
        assignee = attrs.get("assignee")
        if isinstance(assignee, NobodyHere) or (assignee is not None and family is not None and (
                assignee.region_id is None or not family.region_path.startswith(assignee.reach_path))):
            raise serializers.ValidationError({"assignee": serializers.ErrorDetail(ASSIGNEE_OUTSIDE, code="invalid")})
        return attrs


class EnrollmentSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    member = ScopedRelatedField(queryset=FamilyMember.objects.all())
    family = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = AssistanceEnrollment
        fields = ["id", "member", "family", "status", "applied_on", "approved_on", "ended_on", "end_reason", "bank_name",
                  "bank_account", "version", "created_at", "updated_at"]
        read_only_fields = ["family", "version", "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["member"].read_only = True
        return fields

    def validate(self, attrs):
        status = attrs.get("status", getattr(self.instance, "status", None))
        ended_on = attrs.get("ended_on", getattr(self.instance, "ended_on", None))
        if status == AssistanceEnrollment.Status.ENDED and not ended_on:
            raise serializers.ValidationError({"ended_on": _("An ended enrolment needs its end date.")})
        return attrs


class AnnualReviewSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    enrollment = ScopedRelatedField(queryset=AssistanceEnrollment.objects.all())
    reviewer = UserBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = AnnualReview
        fields = ["id", "enrollment", "year", "status", "applied_on", "village_reviewed_on", "confirmed_on", "reviewer",
                  "note", "version", "created_at", "updated_at"]
        read_only_fields = ["reviewer", "version", "created_at", "updated_at"]
        validators = []

    def get_fields(self):
        fields = super().get_fields()
        fields["year"].min_value, fields["year"].max_value = 2000, 2100
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["enrollment"].read_only = True
            fields["year"].read_only = True
        return fields

    def validate(self, attrs):
        enrollment, year = attrs.get("enrollment"), attrs.get("year")
        if self.instance is None and enrollment and year and AnnualReview.objects.filter(
                enrollment=enrollment, year=year).exists():
            raise serializers.ValidationError({"year": _("This enrolment already has a review for that year.")})
        return attrs


class ConsentSerializer(serializers.ModelSerializer):
    family = ScopedRelatedField(queryset=Family.objects.all())
    member = ScopedRelatedField(queryset=FamilyMember.objects.all(), required=False, allow_null=True)
    recorded_by = UserBriefSerializer(read_only=True, allow_null=True)
    is_effective = serializers.BooleanField(read_only=True)

    class Meta:
        model = ConsentRecord
        fields = ["id", "family", "member", "purpose", "scope", "given", "recorded_by", "recorded_at", "withdrawn_at",
                  "evidence", "is_effective"]
        read_only_fields = ["recorded_by", "withdrawn_at"]

    def validate(self, attrs):
        member = attrs.get("member")
        if member is not None and member.family_id != attrs["family"].pk:
            raise serializers.ValidationError({"member": _("This person is not a member of the family.")})
        return attrs


class TransferSerializer(serializers.ModelSerializer):
    from_region = serializers.CharField(source="from_region.code", read_only=True)
    to_region = serializers.CharField(source="to_region.code", read_only=True)
    requested_by = UserBriefSerializer(read_only=True)
    decided_by = UserBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = FamilyTransfer
        fields = ["id", "family", "from_region", "to_region", "status", "reason", "requested_by", "requested_at",
                  "decided_by", "decided_at", "decision_note"]
        read_only_fields = fields


class TransferRequestSerializer(serializers.Serializer):
    # Any region may receive a family: the sender need not reach it; its manager decides.
    to_region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.filter(is_active=True))
    reason = serializers.CharField(max_length=300)

    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("to_region"), str):
            data = {**data, "to_region": Region.normalize_code(data["to_region"])}
        return super().to_internal_value(data)


class TransferDecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class MemberListSerializer(MemberBriefSerializer):
    """A member in a list row: no ID number, not even masked (masking needs the plaintext, one
    decryption a member); the family's own page shows it."""

    class Meta(MemberBriefSerializer.Meta):
        fields = [name for name in MemberBriefSerializer.Meta.fields if name != "id_number"]
        read_only_fields = fields


class FamilyListSerializer(FamilySerializer):
    """A family in a list (a caseload, a search): its members by name, not their ID numbers, and
    not its contacts, the same few staff on every row of a caseload; the family's own page
    (detail) has both."""

    members = MemberListSerializer(source="member_cards", many=True, read_only=True, default=list)

    class Meta(FamilySerializer.Meta):
        fields = [name for name in FamilySerializer.Meta.fields if name != "contacts"]


