"""``manage.py subject_access_export --member ID | --volunteer ID --actor USERNAME --reason REF``:
write one person's complete record (JSON or Excel) for an access request; audited."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from casemgmt.core.models import User
from casemgmt.security.services import subject_access_export
from families.models import FamilyMember
from volunteers.models import Volunteer


class Command(BaseCommand):
    help = "Export everything stored about one family member or volunteer (PIPL access request)."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--member", type=int)
        who.add_argument("--volunteer", type=int)
        parser.add_argument("--actor", required=True, help="username answering the request (must reach the person)")
        parser.add_argument("--reason", required=True, help="reference of the access request")
        parser.add_argument("--format", choices=["json", "xlsx"], default="json")
        parser.add_argument("--output", default=".", help="folder to write the file into")

    def handle(self, *args, member, volunteer, actor, reason, format, output, **options):
        user = User.objects.filter(username=actor, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {actor!r}.")
        model, pk = (FamilyMember, member) if member else (Volunteer, volunteer)
        person = model.objects.filter(pk=pk).first()
        if person is None:
            raise CommandError("No such person.")
        name, data = subject_access_export(actor=user, person=person, fmt=format, reason=reason)
        path = Path(output) / name
        path.write_bytes(data)
        path.chmod(0o600)
        self.stdout.write(str(path))
