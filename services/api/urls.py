"""Routes of the services API, registered on the one router by ``casemgmt.api.urls``."""
from . import views

routes = [
    ("service-sites", views.ServiceSiteViewSet, "servicesite"),
    ("activities", views.ActivityViewSet, "activity"),
    ("activity-attendance", views.ActivityAttendanceViewSet, "activityattendance"),
    ("activity-invitations", views.ActivityInvitationViewSet, "activityinvitation"),
    ("funds", views.FundViewSet, "fund"),
    ("insurance-policies", views.InsurancePolicyViewSet, "insurancepolicy"),
    ("insured-people", views.InsuredPersonViewSet, "insuredperson"),
    ("insurance-claims", views.InsuranceClaimViewSet, "insuranceclaim"),
    ("disbursements", views.DisbursementViewSet, "disbursement"),
    ("premium-payments", views.PremiumPaymentViewSet, "premiumpayment"),
    ("consolation-visits", views.ConsolationVisitViewSet, "consolationvisit"),
    ("health-checkups", views.HealthCheckupViewSet, "healthcheckup"),
]
