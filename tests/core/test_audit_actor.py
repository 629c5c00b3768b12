"""The audit trail outlives the people in it: deleting a user leaves their rows as they were."""
import pytest

from casemgmt.core.audit import audit_log
from casemgmt.core.models import AuditEvent, Role, User


@pytest.mark.django_db
def test_deleting_a_user_keeps_their_audit_rows_unchanged(regions):
    user = User.objects.create_user(username="leaver", password="x" * 12, role=Role.SOCIAL_WORKER, region=regions["zhangpu"])
    event = audit_log(actor=user, event="families.checkin.recorded")
    user_id = user.pk
    user.delete()
    row = AuditEvent.objects.get(pk=event.pk)
    assert row.actor_id == user_id and row.actor_role == Role.SOCIAL_WORKER
