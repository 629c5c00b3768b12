"""Routes of the families API, registered on the one router by casemgmt.api.urls."""
from django.urls import path

from . import messages, views

routes = [
    ("families", views.FamilyViewSet, "family"),
    ("family-members", views.MemberViewSet, "familymember"),
    ("assignments", views.AssignmentViewSet, "contactassignment"),
    ("checkins", views.CheckInViewSet, "checkin"),
    ("assessment-scales", views.AssessmentScaleViewSet, "assessmentscale"),
    ("assessments", views.AssessmentViewSet, "assessment"),
    ("care-plans", views.CarePlanViewSet, "careplan"),
    ("care-plan-goals", views.CarePlanGoalViewSet, "careplangoal"),
    ("care-tasks", views.CareTaskViewSet, "caretask"),
    ("enrollments", views.EnrollmentViewSet, "assistanceenrollment"),
    ("annual-reviews", views.AnnualReviewViewSet, "annualreview"),
    ("consents", views.ConsentViewSet, "consentrecord"),
    ("transfers", views.TransferViewSet, "familytransfer"),
]
urlpatterns = [
    path("family-messages/", messages.FamilyMessageView.as_view(), name="family-messages"),
]
