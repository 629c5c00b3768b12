"""The coordinator's "5+N" planner through Django's test client: planning an activity at a site in
reach, inviting families and volunteers (once each, within capacity, told once), attendance refused
before the start and counted after it, the QR check-in, and the activity page's query count."""
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casemgmt.core.models import AuditEvent, Notification
from families.models import FamilyMember
from services.models import Activity, ActivityAttendance, ActivityInvitation, ServiceSite
from tests.conftest import add_family
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture
def sites(regions):
    return {
        "suian": ServiceSite.objects.create(kind=ServiceSite.Kind.WARM_HEART_HOME, name="绥安暖心家园",
                                            region=regions["suian"]),
        "yunxiao": ServiceSite.objects.create(kind=ServiceSite.Kind.WARM_HEART_HOME, name="云陵暖心家园",
                                              region=regions["yx_town"]),
    }


def plan_data(where, **changes):
    start = timezone.localtime() + datetime.timedelta(days=3)
    data = {"site": where.pk, "category": "lecture", "title": "心理健康讲座", "local_name": "",
            "starts_at": start.strftime("%Y-%m-%dT09:00"), "ends_at": start.strftime("%Y-%m-%dT11:00"),
            "capacity": "2", "description": "请带老花镜"}
    data.update(changes)
    return data


def make_activity(site, capacity=None, begun=False):
    start = timezone.now() + (datetime.timedelta(minutes=-10) if begun else datetime.timedelta(days=2))
    return Activity.objects.create(title="中秋联谊会", category="gathering", site=site, region=site.region,
                                   starts_at=start, ends_at=start + datetime.timedelta(hours=2), capacity=capacity)


def begin(activity):
    start = timezone.now() - datetime.timedelta(minutes=10)
    Activity.objects.filter(pk=activity.pk).update(starts_at=start, ends_at=start + datetime.timedelta(hours=2))


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- planning ---------------------------------------------------------------------------------------

def test_coordinator_plans_an_activity_at_a_site_in_reach(client, people, sites):
    client.force_login(people["coordinator"])
    form = client.get("/activities/new/")
    assert form.status_code == 200
    page = form.content.decode()
    assert "绥安暖心家园" in page and "云陵暖心家园" not in page  # a site out of reach is not offered
    response = client.post("/activities/new/", plan_data(sites["suian"]))
    activity = Activity.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/activities/{activity.pk}/"
    assert (activity.site, activity.region, activity.organiser, activity.status, activity.capacity) == (
        sites["suian"], sites["suian"].region, people["coordinator"], Activity.Status.PLANNED, 2)
    assert AuditEvent.objects.filter(event="services.activity.planned", object_ids__contains=[activity.pk]).count() == 1
    # The planner's month lists it, linked to its page, and so does the site's list of what is coming.
    planner = client.get("/activities/", {"date": f"{activity.starts_at:%Y-%m-%d}", "site": sites["suian"].pk})
    assert planner.content.decode().count(f'href="/activities/{activity.pk}/"') == 2


def test_a_forged_site_out_of_reach_is_not_found_and_nothing_is_planned(client, people, sites):
    client.force_login(people["coordinator"])
    assert client.post("/activities/new/", plan_data(sites["yunxiao"])).status_code == 404
    assert client.post("/activities/new/", plan_data(sites["suian"], site="999999")).status_code == 404
    assert not Activity.objects.exists()


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"title": ""}, "title", "此项为必填。"),
    ({"ends_at": (timezone.localtime() + datetime.timedelta(days=3)).strftime("%Y-%m-%dT08:00")}, "ends_at",
     "活动的结束时间须晚于开始时间。"),
    ({"starts_at": "2020-01-01T09:00", "ends_at": "2020-01-01T11:00"}, "starts_at", "新活动的开始时间须晚于现在。"),
    ({"category": "local"}, "local_name", "特色活动须填写活动名称。"),
    ({"capacity": "0"}, "capacity", "确保该值大于或等于1。"),
    ({"starts_at": "明天"}, "starts_at", "日期/时间"),
])
def test_bad_input_is_a_translated_400_on_its_field(client, people, sites, changes, field, message):
    client.force_login(people["coordinator"])
    response = client.post("/activities/new/", plan_data(sites["suian"], **changes))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field] and message in " ".join(errors[field])
    assert not Activity.objects.exists()


def test_only_coordinators_and_managers_plan_and_an_activity_out_of_reach_is_not_found(client, people, sites):
    activity = make_activity(sites["yunxiao"])
    client.force_login(people["alice"])
    assert client.get("/activities/new/").status_code == 403
    client.force_login(people["coordinator"])
    assert client.get(f"/activities/{activity.pk}/").status_code == 404
    assert client.post(f"/activities/{activity.pk}/", {"action": "attendance"}).status_code == 404
    client.force_login(people["other_manager"])
    assert client.get(f"/activities/{activity.pk}/").status_code == 200


# --- invitations ------------------------------------------------------------------------------------

def test_invitations_are_stored_once_and_told_once(client, people, regions, sites, families):
    activity = make_activity(sites["suian"], capacity=5)
    mother = families["own"].members.get(relation="mother")
    volunteer = Volunteer.objects.create(name="陈志愿", region=regions["suian"], user=people["volunteer_user"])
    client.force_login(people["coordinator"])
    page = client.get(f"/activities/{activity.pk}/").content.decode()
    assert f'name="member" value="{mother.pk}"' in page and f'name="volunteer" value="{volunteer.pk}"' in page
    outside = families["outside"].members.first()
    assert f'value="{outside.pk}"' not in page  # not offered: out of reach
    body = {"action": "invite", "member": [mother.pk], "volunteer": [volunteer.pk], "notify": "on"}
    for _ in range(2):
        response = client.post(f"/activities/{activity.pk}/", body, follow=True)
    assert response.status_code == 200 and "已邀请 0 人。" in messages_of(response)
    assert ActivityInvitation.objects.filter(activity=activity).count() == 2
    # The volunteer hears it; the mother through her family's contact person (alice), each once.
    told = Notification.objects.filter(kind="activities.invitation")
    assert sorted(told.values_list("recipient__username", flat=True)) == ["alice", "volunteer_user"]
    # Texted and mailed: the name as the policy lets it leave the system.
    assert told.get(recipient=people["alice"]).title.startswith("王*英 受邀参加“中秋联谊会”")
    assert told.get(recipient=people["volunteer_user"]).title.startswith("邀请您参加“中秋联谊会”")
    # Invited, they are no longer offered, and they are on the list to tick.
    page = client.get(f"/activities/{activity.pk}/").content.decode()
    assert f'name="member" value="{mother.pk}"' not in page and f'name="present" value="m{mother.pk}"' in page


def test_a_forged_invitee_out_of_reach_is_not_found(client, people, sites, families):
    activity = make_activity(sites["suian"])
    client.force_login(people["coordinator"])
    outside = families["outside"].members.first()
    assert client.post(f"/activities/{activity.pk}/", {"action": "invite", "member": [outside.pk]}).status_code == 404
    assert client.post(f"/activities/{activity.pk}/", {"action": "invite", "member": ["x"]}).status_code == 404
    assert not ActivityInvitation.objects.exists()


def test_invitations_respect_the_capacity_and_a_declined_place_is_free_again(client, people, sites, families):
    activity = make_activity(sites["suian"], capacity=1)
    mother, father = families["own"].members.order_by("id")
    client.force_login(people["coordinator"])
    response = client.post(f"/activities/{activity.pk}/", {"action": "invite", "member": [mother.pk, father.pk]},
                           follow=True)
    assert "该活动还剩 1 个名额，但选择了 2 位家庭成员。" in messages_of(response)
    assert not ActivityInvitation.objects.exists()
    client.post(f"/activities/{activity.pk}/", {"action": "invite", "member": [mother.pk]})
    invitation = ActivityInvitation.objects.get()
    client.post(f"/activities/{activity.pk}/", {"action": "answer", "answer": f"{invitation.pk}:declined"})
    invitation.refresh_from_db()
    assert invitation.status == ActivityInvitation.Status.DECLINED
    client.post(f"/activities/{activity.pk}/", {"action": "invite", "member": [father.pk]})
    assert ActivityInvitation.objects.count() == 2


# --- attendance -------------------------------------------------------------------------------------

def test_attendance_is_refused_before_the_start_and_counted_after_it(client, people, regions, sites, families):
    activity = make_activity(sites["suian"])
    mother, father = families["own"].members.order_by("id")
    volunteer = Volunteer.objects.create(name="陈志愿", region=regions["suian"])
    client.force_login(people["coordinator"])
    client.post(f"/activities/{activity.pk}/", {"action": "invite", "member": [mother.pk], "volunteer": [volunteer.pk]})
    page = client.get(f"/activities/{activity.pk}/").content.decode()
    assert 'id="attendance-closed"' in page and 'value="attendance"' in page and "<fieldset disabled>" in page
    for body in ({"action": "attendance", "present": [f"m{mother.pk}"]},
                 {"action": "walkin", "member": [father.pk]}):
        response = client.post(f"/activities/{activity.pk}/", body, follow=True)
        assert any(m.startswith("活动开始后才能登记出勤") for m in messages_of(response))
    assert not ActivityAttendance.objects.exists()

    begin(activity)
    client.post(f"/activities/{activity.pk}/", {"action": "attendance", "present": [f"m{mother.pk}", f"v{volunteer.pk}"]})
    client.post(f"/activities/{activity.pk}/", {"action": "walkin", "member": [father.pk]})
    assert set(ActivityAttendance.objects.values_list("member_id", "volunteer_id")) == {
        (mother.pk, None), (None, volunteer.pk), (father.pk, None)}
    page = client.get(f"/activities/{activity.pk}/").content.decode()
    assert 'id="attended">3<' in page and "现场加入" in page
    # Unticked by mistake: taken off again, and the figures follow the rows.
    client.post(f"/activities/{activity.pk}/", {"action": "attendance", "present": [f"m{mother.pk}", f"m{father.pk}"]})
    assert set(ActivityAttendance.objects.values_list("member_id", flat=True)) == {mother.pk, father.pk}
    assert AuditEvent.objects.filter(event="services.activity.checkin_removed").count() == 1


def test_a_forged_attendance_tick_out_of_reach_is_not_found(client, people, sites, families):
    activity = make_activity(sites["suian"], begun=True)
    client.force_login(people["coordinator"])
    outside = families["outside"].members.first()
    response = client.post(f"/activities/{activity.pk}/", {"action": "attendance", "present": [f"m{outside.pk}"]})
    assert response.status_code == 404 and not ActivityAttendance.objects.exists()


def test_volunteers_check_themselves_in_by_qr_code_from_the_start(client, people, regions, sites):
    activity = make_activity(sites["suian"])
    volunteer = Volunteer.objects.create(name="陈志愿", region=regions["suian"], user=people["volunteer_user"])
    client.force_login(people["volunteer_user"])
    url = f"/activities/checkin/{activity.qr_token}/"
    assert "活动开始后开放签到" in client.get(url).content.decode()
    response = client.post(url, follow=True)
    assert "该活动当前不开放签到。" in messages_of(response) and not ActivityAttendance.objects.exists()
    begin(activity)
    client.post(url)
    attendance = ActivityAttendance.objects.get()
    assert (attendance.volunteer, attendance.method) == (volunteer, ActivityAttendance.Method.QR)
    assert "您已签到。" in client.get(url).content.decode()


# --- cost -------------------------------------------------------------------------------------------

def _activity_page_queries(client, activity):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/activities/{activity.pk}/").status_code == 200
    return len(queries)


def test_the_activity_page_costs_the_same_for_few_and_many_invitees(client, people, regions, sites, families,
                                                                    django_assert_max_num_queries):
    activity = make_activity(sites["suian"], begun=True)
    client.force_login(people["coordinator"])
    first = families["own"].members.order_by("id").first()
    Volunteer.objects.create(name="志愿0", region=regions["suian"])
    client.post(f"/activities/{activity.pk}/", {"action": "invite", "member": [first.pk]})
    few = _activity_page_queries(client, activity)
    for i in range(3, 9):
        family = add_family(regions["village"], f"ZP-01{i:02d}", mother_seq=40 + 2 * i, father_seq=41 + 2 * i)
        Volunteer.objects.create(name=f"志愿{i}", region=regions["village"])
        member = FamilyMember.objects.filter(family=family).first()
        client.post(f"/activities/{activity.pk}/", {"action": "invite", "member": [member.pk]})
        client.post(f"/activities/{activity.pk}/", {"action": "walkin", "member": [member.pk]})
    assert _activity_page_queries(client, activity) == few
    with django_assert_max_num_queries(16):
        client.get(f"/activities/{activity.pk}/")
