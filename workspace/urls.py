"""The workspace pages, mounted at the site root."""
from django.contrib.auth import views as auth_views
from django.urls import path

from . import planner, views

app_name = "workspace"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="workspace:login"), name="logout"),
    path("today/", views.today, name="today"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("families/", views.family_search, name="families"),
    path("families/<int:pk>/", views.family_detail, name="family"),
    path("families/<int:pk>/checkin/", views.checkin_new, name="checkin"),
    path("families/<int:pk>/members/<int:member_pk>/reveal/", views.member_reveal, name="member_reveal"),
    path("families/<int:pk>/pairing/", views.pairing, name="pairing"),
    path("volunteers/", views.volunteer_list, name="volunteers"),
    path("trainings/", views.trainings, name="trainings"),
    path("trainings/new/", views.training_new, name="training_new"),
    path("trainings/<int:pk>/", views.training_detail, name="training"),
    path("trainings/checkin/<str:token>/", views.training_qr, name="training_qr"),
    path("activities/", planner.activities, name="activities"),
    path("activities/new/", planner.activity_new, name="activity_new"),
    path("activities/<int:pk>/", planner.activity_detail, name="activity"),
    path("activities/checkin/<str:token>/", planner.activity_qr, name="activity_qr"),
    path("me/", views.me, name="me"),
    path("coverage/", views.coverage, name="coverage"),
    path("audit/", views.audit, name="audit"),
    path("calendar/", views.calendar_settings, name="calendar"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("offline/", views.offline, name="offline"),
]
