"""Volunteers and training sessions around the shared people and families."""
import datetime

import pytest
from django.utils import timezone

from volunteers.models import TrainingCourse, TrainingSession, Volunteer


def make_volunteer(region, name="张志愿", user=None, **extra):
    return Volunteer.objects.create(name=name, region=region, user=user, **extra)


def make_session(region, course=None, start_in=datetime.timedelta(days=2), hours=2, capacity=1, **extra):
    course = course or TrainingCourse.objects.create(title="心理慰藉基础", region=region)
    starts_at = timezone.now() + start_in
    return TrainingSession.objects.create(
        course=course, region=region, starts_at=starts_at, ends_at=starts_at + datetime.timedelta(hours=hours),
        venue="县计生协会议室", capacity=capacity, **extra,
    )


def begin(session, ago=datetime.timedelta(minutes=10)):
    """Move ``session`` to have started ``ago``, as if its day had come (enrolment needs it ahead)."""
    starts_at = timezone.now() - ago
    length = session.ends_at - session.starts_at
    TrainingSession.objects.filter(pk=session.pk).update(starts_at=starts_at, ends_at=starts_at + length)
    session.starts_at, session.ends_at = starts_at, starts_at + length


@pytest.fixture
def volunteers(regions, people):
    """Three volunteers of Zhangpu (one with an account of their own) and one of Yunxiao."""
    return {
        "own": make_volunteer(regions["zhangpu"], "林小红", user=people["volunteer_user"]),
        "second": make_volunteer(regions["zhangpu"], "陈明"),
        "third": make_volunteer(regions["suian"], "黄丽"),
        "outside": make_volunteer(regions["yunxiao"], "吴强"),
    }
