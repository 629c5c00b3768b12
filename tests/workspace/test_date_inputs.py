"""Native date pickers show a value only when it is ISO: every date input of the workspace writes
YYYY-MM-DD (and YYYY-MM-DDTHH:MM) whatever the language's own date format."""
import datetime
import inspect
import re

import pytest
from django import forms
from django.utils import timezone, translation

from volunteers.models import TrainingCourse, Volunteer
from workspace import forms as workspace_forms


def _date_fields():
    for name, form in inspect.getmembers(workspace_forms, inspect.isclass):
        if issubclass(form, forms.Form) and form.__module__ == workspace_forms.__name__:
            for field_name, field in form.base_fields.items():
                if isinstance(field, forms.DateField | forms.DateTimeField) and not field.widget.is_hidden:
                    yield f"{name}.{field_name}", field


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_visible_date_input_of_the_workspace_renders_iso(language):
    fields = dict(_date_fields())
    assert {"ServiceHoursForm.date", "CheckinForm.follow_up_due", "SessionForm.starts_at"} <= set(fields)
    moment = datetime.datetime(2026, 12, 6, 9, 30)
    with translation.override(language):
        for name, field in fields.items():
            value = moment if isinstance(field, forms.DateTimeField) else moment.date()
            html = field.widget.render("x", value)
            expected = "2026-12-06T09:30" if isinstance(field, forms.DateTimeField) else "2026-12-06"
            assert f'value="{expected}"' in html, (name, html)
            assert field.widget.input_type in ("date", "datetime-local")
            assert field.clean(expected) is not None  # and what the picker sends back is read


@pytest.mark.django_db
def test_the_volunteer_hours_form_arrives_with_today_in_chinese(client, people, regions):
    user = people["volunteer_user"]
    Volunteer.objects.create(name="黄志愿", region=regions["zhangpu"], user=user)
    client.force_login(user)
    text = client.get("/me/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    date_input = re.search(r'<input type="date" name="date"[^>]*>', text).group(0)
    assert f'value="{timezone.localdate().isoformat()}"' in date_input


@pytest.mark.django_db
def test_the_session_form_prefills_the_chosen_day_in_iso(client, people, regions):
    TrainingCourse.objects.create(title="心理慰藉基础", region=regions["zhangpu"])
    client.force_login(people["coordinator"])
    day = timezone.localdate() + datetime.timedelta(days=3)
    text = client.get("/trainings/new/", {"date": day.isoformat()}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f'name="starts_at" value="{day.isoformat()}T09:00"' in text
