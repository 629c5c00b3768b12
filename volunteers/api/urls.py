"""Routes of the volunteers API, registered on the one router by ``casemgmt.api.urls``."""
from . import views

routes = [
    ("skills", views.SkillViewSet, "skill"),
    ("teams", views.TeamViewSet, "team"),
    ("volunteers", views.VolunteerViewSet, "volunteer"),
    ("training-courses", views.TrainingCourseViewSet, "trainingcourse"),
    ("training-sessions", views.TrainingSessionViewSet, "trainingsession"),
    ("training-enrollments", views.EnrollmentViewSet, "trainingenrollment"),
    ("qualifications", views.QualificationViewSet, "qualification"),
    ("pairings", views.PairingViewSet, "pairing"),
    ("service-hours", views.ServiceHoursViewSet, "servicehours"),
]
