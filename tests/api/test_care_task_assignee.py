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
