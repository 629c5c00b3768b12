"""A care task's assignee: one answer for a user outside the family's region, a user who does not
exist and one who left, so that the field tells nothing of who works elsewhere."""
import pytest

from families.models import CareTask


def _create(client, family, assignee):
    return client.post("/api/v1/care-tasks/", {"family": family.pk, "kind": "follow_up", "description": "回访",
                                               "due_on": "2026-03-01", "assignee": assignee},
                       content_type="application/json")


@pytest.mark.django_db
def test_the_assignee_field_answers_alike_for_outsiders_and_nobody(client, people, families):
    client.force_login(people["alice"])
    people["volunteer_user"].is_active = False
    people["volunteer_user"].save()
    answers = [_create(client, families["own"], value) for value in
               (people["carol"].pk, 987654321, people["volunteer_user"].pk, "abc")]
    assert {response.status_code for response in answers} == {400}
    assert len({response.content for response in answers}) == 1
    assert answers[0].json()["errors"] == [{"field": "assignee", "code": "invalid",
                                            "message": "请选择在该家庭所在区域工作的人员。"}]
    assert not CareTask.objects.exists()
    assert _create(client, families["own"], people["bob"].pk).status_code == 201


@pytest.mark.django_db
def test_the_api_says_who_holds_a_task_now_as_today_does(client, people, families, regions):
    """A task follows the family's current assignment: the API's ``holder`` and ``?holder=`` use the
    rule Today uses, while ``assignee`` keeps who it was given to."""
    import datetime

    from django.utils import timezone

    from families.models import ContactAssignment
    from families.services import assignment_set
    from tests.conftest import make_user

    family = families["own"]
    leaving = people["bob"]
    ContactAssignment.objects.filter(family=family, user=leaving).delete()
    assignment_set(actor=people["manager"], family=family, kind="township_contact", user=leaving)
    task = CareTask.objects.create(family=family, kind=CareTask.Kind.FOLLOW_UP, description="回访", assignee=leaving,
                                   due_on=timezone.localdate() + datetime.timedelta(days=2))
    client.force_login(people["alice"])
    assert client.get(f"/api/v1/care-tasks/{task.pk}/").json()["holder"] == leaving.pk

    successor = make_user("successor", leaving.role, leaving.region)
    assignment_set(actor=people["manager"], family=family, kind="township_contact", user=successor, reason="调岗")
    body = client.get(f"/api/v1/care-tasks/{task.pk}/").json()
    assert (body["assignee"], body["holder"]) == (leaving.pk, successor.pk)
    assert [t["id"] for t in client.get(f"/api/v1/care-tasks/?holder={successor.pk}").json()["results"]] == [task.pk]
    assert client.get(f"/api/v1/care-tasks/?holder={leaving.pk}").json()["results"] == []
    changed = client.patch(f"/api/v1/care-tasks/{task.pk}/", {"description": "电话回访"}, content_type="application/json",
                           HTTP_IF_MATCH=client.get(f"/api/v1/care-tasks/{task.pk}/")["ETag"])
    assert changed.status_code == 200 and changed.json()["holder"] == successor.pk
