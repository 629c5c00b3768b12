"""Serializers of the services API. Writable foreign keys accept only rows in the caller's reach;
workflow fields (status, settlement, renewal) are read-only: they change through services.
Diagnoses and check-up findings are health data: never sent to volunteers or coordinators, masked
for everybody else (``reveal`` shows them, audited)."""
from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from casemgmt.api.serializers import PolicyFieldsMixin, ScopedRelatedField
from casemgmt.core.models import Region, Role, User
from families.models import Family, FamilyMember
from volunteers.models import Volunteer

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

MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0")}


def _region_field():
    return ScopedRelatedField(queryset=Region.objects.all())


def _check_period(attrs, instance, start, end, message):
    starts = attrs.get(start, getattr(instance, start, None))
    ends = attrs.get(end, getattr(instance, end, None))
    if starts and ends and ends <= starts:
        raise serializers.ValidationError({end: message})


class ServiceSiteSerializer(serializers.ModelSerializer):
    region = _region_field()

    class Meta:
        model = ServiceSite
        fields = ["id", "kind", "name", "region", "address", "capacity", "opened_on", "closed_on", "partner",
                  "coordinator", "phone"]
        read_only_fields = ["coordinator"]

    def validate(self, attrs):
        opened = attrs.get("opened_on", getattr(self.instance, "opened_on", None))
        closed = attrs.get("closed_on", getattr(self.instance, "closed_on", None))
        if opened and closed and closed < opened:
            raise serializers.ValidationError({"closed_on": _("A site closes after it opened.")})
        return attrs


class ActivitySerializer(serializers.ModelSerializer):
    region = _region_field()
    site = ScopedRelatedField(queryset=ServiceSite.objects.all(), allow_null=True, required=False)
    attendance_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Activity
        fields = ["id", "title", "category", "local_name", "site", "region", "starts_at", "ends_at", "capacity",
                  "attendance_count", "organiser", "status", "description", "qr_token", "version"]
        read_only_fields = ["organiser", "qr_token", "version"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        # The QR code is the proof of presence: the volunteers who scan it do not receive it here.
        if request is not None and getattr(request.user, "role", None) == Role.VOLUNTEER and not request.user.is_superuser:
            fields.pop("qr_token", None)
        return fields

    def validate(self, attrs):
        _check_period(attrs, self.instance, "starts_at", "ends_at", _("An activity ends after it starts."))
        category = attrs.get("category", getattr(self.instance, "category", None))
        if category == Activity.Category.LOCAL and not attrs.get("local_name", getattr(self.instance, "local_name", "")):
            raise serializers.ValidationError({"local_name": _("A local signature activity needs its name.")})
        return attrs


class ActivityCheckinSerializer(serializers.Serializer):
    member = ScopedRelatedField(queryset=FamilyMember.objects.all(), required=False, allow_null=True)
    volunteer = ScopedRelatedField(queryset=Volunteer.objects.all(), required=False, allow_null=True)

    def validate(self, attrs):
        if (attrs.get("member") is None) == (attrs.get("volunteer") is None):
            raise serializers.ValidationError({"member": _("Check in either a family member or a volunteer.")})
        return attrs


class ActivityTokenCheckinSerializer(ActivityCheckinSerializer):
    token = serializers.CharField(max_length=64, help_text=_("The token in the activity's QR code."))


class ActivityAttendanceSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.name", read_only=True, default=None, allow_null=True)
    volunteer_name = serializers.CharField(source="volunteer.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = ActivityAttendance
        fields = ["id", "activity", "member", "member_name", "volunteer", "volunteer_name", "checked_in_at", "method"]
        read_only_fields = fields


class ActivityInviteSerializer(serializers.Serializer):
    members = serializers.ListField(child=ScopedRelatedField(queryset=FamilyMember.objects.all()), required=False,
                                    default=list, max_length=500)
    volunteers = serializers.ListField(child=ScopedRelatedField(queryset=Volunteer.objects.all()), required=False,
                                       default=list, max_length=500)
    notify = serializers.BooleanField(default=False, help_text=_(
        "Tell the new invitees: volunteers themselves, family members through their contact persons."))


class ActivityAttendanceSetSerializer(serializers.Serializer):
    members = serializers.ListField(child=ScopedRelatedField(queryset=FamilyMember.objects.all()), required=False,
                                    default=list, max_length=500)
    volunteers = serializers.ListField(child=ScopedRelatedField(queryset=Volunteer.objects.all()), required=False,
                                       default=list, max_length=500)


class ActivityInvitationSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.name", read_only=True, default=None, allow_null=True)
    volunteer_name = serializers.CharField(source="volunteer.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = ActivityInvitation
        fields = ["id", "activity", "member", "member_name", "volunteer", "volunteer_name", "status", "invited_at"]
        read_only_fields = fields


class FundSerializer(serializers.ModelSerializer):
    region = _region_field()
    budget = serializers.DecimalField(**MONEY)
    spent = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True, default=Decimal("0"))

    class Meta:
        model = Fund
        fields = ["id", "name", "programme", "year", "budget", "spent", "region", "source"]


class InsurancePolicySerializer(serializers.ModelSerializer):
    region = _region_field()
    fund = ScopedRelatedField(queryset=Fund.objects.all(), allow_null=True, required=False)
    premium = serializers.DecimalField(**MONEY)
    daily_allowance = serializers.DecimalField(**MONEY, allow_null=True, required=False)
    roster_size = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = InsurancePolicy
        fields = ["id", "insurer", "product_kind", "policy_number", "region", "starts_on", "ends_on", "premium",
                  "daily_allowance", "max_days", "fund", "status", "renews", "responsible", "roster_size", "version"]
        read_only_fields = ["status", "renews", "responsible", "version"]

    def validate(self, attrs):
        _check_period(attrs, self.instance, "starts_on", "ends_on", _("A policy ends after it starts."))
        return attrs


class InsuredPersonSerializer(serializers.ModelSerializer):
    policy = ScopedRelatedField(queryset=InsurancePolicy.objects.all())
    member = ScopedRelatedField(queryset=FamilyMember.objects.all())
    member_name = serializers.CharField(source="member.name", read_only=True)
    premium = serializers.DecimalField(**MONEY, allow_null=True, required=False)

    class Meta:
        model = InsuredPerson
        fields = ["id", "policy", "member", "member_name", "premium", "added_on"]
        read_only_fields = ["added_on"]


class InsuranceClaimSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    policy = ScopedRelatedField(queryset=InsurancePolicy.objects.all())
    member = ScopedRelatedField(queryset=FamilyMember.objects.all())
    member_name = serializers.CharField(source="member.name", read_only=True)
    amount_claimed = serializers.DecimalField(**MONEY, required=False,
                                              help_text=_("Left out for a nursing allowance: computed from the days."))
    hospital_days = serializers.IntegerField(min_value=1, max_value=366, required=False, allow_null=True)

    class Meta:
        model = InsuranceClaim
        fields = ["id", "policy", "member", "member_name", "incident_date", "hospital_days", "amount_claimed",
                  "amount_settled", "status", "filed_on", "settled_on", "diagnosis", "version"]
        read_only_fields = ["amount_settled", "status", "filed_on", "settled_on", "version"]


class ClaimSettleSerializer(serializers.Serializer):
    amount = serializers.DecimalField(**MONEY)


class ClaimRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class DisbursementSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    fund = ScopedRelatedField(queryset=Fund.objects.all())
    family = ScopedRelatedField(queryset=Family.objects.all(), allow_null=True, required=False)
    member = ScopedRelatedField(queryset=FamilyMember.objects.all(), allow_null=True, required=False)
    volunteer = ScopedRelatedField(queryset=Volunteer.objects.all(), allow_null=True, required=False)
    amount = serializers.DecimalField(**MONEY)
    outcome_amount = serializers.DecimalField(**MONEY, allow_null=True, required=False)
    paid_on = serializers.DateField(required=False)

    class Meta:
        model = Disbursement
        fields = ["id", "fund", "kind", "amount", "goods", "family", "member", "volunteer", "recipient_name", "paid_on",
                  "period", "description", "recorded_by", "outcome", "outcome_amount"]
        read_only_fields = ["recorded_by"]


class PremiumPaymentSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    """A premium paid; without ``amount``, the insured person's premium on the roster is used."""

    policy = ScopedRelatedField(queryset=InsurancePolicy.objects.all())
    member = ScopedRelatedField(queryset=FamilyMember.objects.all(), allow_null=True, required=False)
    amount = serializers.DecimalField(**MONEY, required=False, allow_null=True)

    class Meta:
        model = PremiumPayment
        fields = ["id", "policy", "member", "paid_on", "amount", "reference", "recorded_by"]
        read_only_fields = ["recorded_by"]
        validators = []  # the service answers a repeated payment with a field error


class ConsolationVisitSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    family = ScopedRelatedField(queryset=Family.objects.all())
    member = ScopedRelatedField(queryset=FamilyMember.objects.all(), allow_null=True, required=False)
    visitor = ScopedRelatedField(queryset=User.objects.all(), allow_null=True, required=False)
    fund = ScopedRelatedField(queryset=Fund.objects.all(), allow_null=True, required=False)
    cash = serializers.DecimalField(**MONEY, required=False)
    goods_value = serializers.DecimalField(**MONEY, required=False)

    class Meta:
        model = ConsolationVisit
        fields = ["id", "family", "member", "visited_on", "visitor", "visiting_party", "occasion", "cash", "goods",
                  "goods_value", "fund", "notes", "recorded_by", "version"]
        read_only_fields = ["recorded_by", "version"]
        validators = []  # the service answers a repeated visit with a field error

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, (list, tuple)):
            fields["family"].read_only = True  # a visit made to one family stays that family's
        return fields


class HealthCheckupSerializer(PolicyFieldsMixin, serializers.ModelSerializer):
    member = ScopedRelatedField(queryset=FamilyMember.objects.all())
    site = ScopedRelatedField(queryset=ServiceSite.objects.all(), allow_null=True, required=False)
    member_name = serializers.CharField(source="member.name", read_only=True)
    cost = serializers.DecimalField(**MONEY, allow_null=True, required=False)

    class Meta:
        model = HealthCheckup
        fields = ["id", "member", "member_name", "date", "provider", "site", "is_free", "cost", "findings"]
