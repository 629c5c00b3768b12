"""Reads about volunteers, already scoped to the user (``reach.restrict``), with what their lists show
loaded once: the API, the admin and reports use these so a list costs the same for 1 row or 50."""
from django.db.models import F, Func, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from casemgmt.core.reach import restrict

from .models import Enrollment, Pairing, Qualification, ServiceHours, Skill, Team, TrainingCourse, TrainingSession, Volunteer


def count_of(queryset):
    """A correlated COUNT subquery: unlike ``Count()`` it needs no GROUP BY, so the rows stay
    lockable (``select_for_update``) and keep their default ordering."""
    counted = queryset.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def skill_list(*, user):
    return restrict(Skill.objects.all(), user)


def team_list(*, user):
    return restrict(Team.objects.select_related("region"), user)


def volunteer_list(*, user):
    return restrict(Volunteer.objects.select_related("region", "team").prefetch_related("skills"), user)


def course_list(*, user):
    return restrict(TrainingCourse.objects.select_related("region", "skill"), user)


def session_list(*, user):
    """Sessions with the places taken and the length of the waiting list."""
    mine = Enrollment.objects.filter(session=OuterRef("pk"))
    return restrict(
        TrainingSession.objects.select_related("course", "region").annotate(
            places_taken=count_of(mine.filter(status__in=(Enrollment.Status.ENROLLED, Enrollment.Status.ATTENDED))),
            waitlisted=count_of(mine.filter(status=Enrollment.Status.WAITLISTED)),
        ),
        user,
    )


def enrollment_list(*, user):
    return restrict(Enrollment.objects.select_related("session__course", "session__region", "volunteer__region"), user)


def qualification_list(*, user):
    return restrict(Qualification.objects.select_related("volunteer__region", "course", "session"), user)


def pairing_list(*, user):
    return restrict(Pairing.objects.select_related("volunteer__region", "family"), user)


def service_hours_list(*, user):
    return restrict(ServiceHours.objects.select_related("volunteer__region", "family", "activity", "reviewed_by"), user)
