"""The beat schedule and the sign-in's second factor in the admin speak the reader's language."""
import re

import pytest
from celery.app.task import Task
from django.contrib import admin
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_otp.plugins.otp_totp.models import TOTPDevice

from casemgmt.core.beat import SCHEDULE, sync_beat_schedule

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:django_celery_beat_periodictask_changelist"


@pytest.fixture
def root(people):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(people["root"])
    return client


def test_the_declared_jobs_are_listed_and_described_in_chinese(root):
    sync_beat_schedule()
    html = root.get(reverse(CHANGELIST)).content.decode()
    assert ">联系频次检查</a>" in html and ">保险续保</a>" in html
    assert "Task Name" not in html and "Scheduler" not in html
    task = PeriodicTask.objects.get(name="Check-in cadence sweep")
    page = root.get(reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])).content.decode()
    assert "提醒联系人到期和逾期的联系" in page


def test_running_tasks_says_how_many_in_one_chinese_sentence(root, monkeypatch):
    # What the action sends is recorded here; the broker's side is tried in tests/api/test_degrade.py
    # (and a producer connected here would outlive the test).
    sent = []
    monkeypatch.setattr(Task, "apply_async", lambda task, **kwargs: sent.append((task.name, kwargs["headers"])))
    sync_beat_schedule()
    chosen = list(PeriodicTask.objects.filter(name__in=list(SCHEDULE)[:4]).values_list("pk", flat=True))
    response = root.post(reverse(CHANGELIST), {"action": "run_tasks", "_selected_action": chosen}, follow=True)
    said = [str(m) for m in get_messages(response.wsgi_request)] or [
        line for line in response.content.decode().splitlines() if "任务" in line]
    assert any("已启动 4 个任务。" in text for text in said), said
    assert not any("任务s" in text for text in said)
    assert sorted(headers["periodic_task_name"] for _name, headers in sent) == sorted(list(SCHEDULE)[:4])


def test_a_task_not_in_the_code_is_named_in_the_error(root):
    crontab = CrontabSchedule.objects.create(minute="0", hour="3")
    task = PeriodicTask.objects.create(name="gone", task="no.such.task", crontab=crontab)
    response = root.post(reverse(CHANGELIST), {"action": "run_tasks", "_selected_action": [task.pk]}, follow=True)
    assert "找不到任务：no.such.task" in response.content.decode()


def test_no_admin_page_shows_an_authenticators_key():
    # The sign-in's second factor is managed by enrolment windows; its key never reaches an administrator.
    assert not admin.site.is_registered(TOTPDevice)


def test_schedules_and_pages_of_the_schedule_have_no_english_left(root):
    """Crontabs in words, the library's fieldsets and help texts, the job's name in the heading and
    the breadcrumb, the task list by job name, the sidebar's sign-in lockout: all in Chinese."""
    sync_beat_schedule()
    task = PeriodicTask.objects.get(name="Annual review worklist")
    pages = {
        "list": root.get(reverse(CHANGELIST)).content.decode(),
        "change": root.get(reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])).content.decode(),
        "crontab": root.get(reverse("admin:django_celery_beat_crontabschedule_change",
                                    args=[task.crontab_id])).content.decode(),
    }
    assert "在 08:00, 每月的 2 号, 仅在 1月 Asia/Shanghai" in pages["list"]
    # The stored name and description are the rows' English keys, editable as they are stored.
    change = re.sub(r'<input[^>]*name="name"[^>]*>|<textarea name="description".*?</textarea>', "",
                    pages["change"], flags=re.S)
    for english in ("Annual review worklist", "Crontab translation", "Arguments", "Execution Options", "January",
                    "(m/h/dM/MY/d)", ">Axes<"):
        assert english not in change, english
    assert "年审工作清单" in change.split('<div class="breadcrumbs">')[1].split("</div>")[0]
    assert "执行时间说明" in change and "执行选项" in change and "登录锁定" in change
    assert 'value="families.checkin_sweep">联系频次检查 (families.checkin_sweep)</option>' in change
    crontab = pages["crontab"]
    for english in ("Human readable", "Cron Months", "Cron Days Of The Week", "January"):
        assert english not in crontab, english
