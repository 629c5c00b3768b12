"""``manage.py subject_access_export --member ID | --volunteer ID --actor USERNAME --reason REF``:
write one person's complete record (JSON or Excel) for an access request; audited. The kinds of
person (``--member``, ``--volunteer``) are those the apps declare (``services.SUBJECTS``)."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from casemgmt.core.models import User
from casemgmt.security.services import SUBJECTS, subject_access_export


class Command(BaseCommand):
    help = "Export everything stored about one person, e.g. a family member or volunteer (PIPL access request)."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        for kind in SUBJECTS:
            who.add_argument(f"--{kind}", type=int)
        parser.add_argument("--actor", required=True, help="username answering the request (must reach the person)")
        parser.add_argument("--reason", required=True, help="reference of the access request")
        parser.add_argument("--format", choices=["json", "xlsx"], default="json")
        parser.add_argument("--output", default=".", help="folder to write the file into")

    def handle(self, *args, actor, reason, format, output, **options):
        user = User.objects.filter(username=actor, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {actor!r}.")
        kind, pk = next((kind, options[kind]) for kind in SUBJECTS if options.get(kind) is not None)
        person = SUBJECTS[kind][0]._default_manager.filter(pk=pk).first()
        if person is None:
            raise CommandError("No such person.")
        name, data = subject_access_export(actor=user, person=person, fmt=format, reason=reason)
        path = Path(output) / name
        path.write_bytes(data)
        path.chmod(0o600)
        self.stdout.write(str(path))
