"""Names of the choice sets in the OpenAPI schema (drf-spectacular cannot tell apart two ``Status``
classes on different models). Plain strings only: settings.py imports this module.
Every app with an API adds its own choice sets here (one line each)."""

ENUM_NAME_OVERRIDES = {
    "RegionLevelEnum": "casemgmt.core.models.Region.Level",
    "UserRoleEnum": "casemgmt.core.models.Role",
    "RiskLevelEnum": "families.models.RiskLevel",
    "FamilyCategoryEnum": "families.models.Category",
    "FamilyStatusEnum": "families.models.Family.Status",
    "CarePlanStatusEnum": "families.models.CarePlan.Status",
    "CarePlanGoalStatusEnum": "families.models.CarePlanGoal.Status",
    "CareTaskStatusEnum": "families.models.CareTask.Status",
    "CareTaskKindEnum": "families.models.CareTask.Kind",
    "AssignmentKindEnum": "families.models.ContactAssignment.Kind",
    "EnrollmentStatusEnum": "families.models.AssistanceEnrollment.Status",
    "EnrollmentEndReasonEnum": "families.models.AssistanceEnrollment.EndReason",
    "AnnualReviewStatusEnum": "families.models.AnnualReview.Status",
    "TransferStatusEnum": "families.models.FamilyTransfer.Status",
    "BreakGlassStatusEnum": "casemgmt.security.models.BreakGlassGrant.Status",
    "CloseStatusEnum": [("closed", "closed"), ("moved", "moved away"), ("deceased", "deceased")],
}
