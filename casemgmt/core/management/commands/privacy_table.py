"""Write the privacy policy's table (``casemgmt/core/privacy.py``) into docs/privacy.md, so the
document people read is the policy the code enforces; ``--check`` fails when the file is stale."""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from casemgmt.core import privacy

DOC = Path(settings.BASE_DIR) / "docs" / "privacy.md"


class Command(BaseCommand):
    help = "Write the privacy policy's table into docs/privacy.md (--check: fail when it is out of date)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Fail if docs/privacy.md differs from the policy.")

    def handle(self, *args, check=False, **options):
        with translation.override("en"):
            text = privacy.table_markdown()
        if check:
            if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
                raise CommandError("docs/privacy.md is out of date: run manage.py privacy_table")
            return
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
        self.stdout.write(f"Wrote {DOC.relative_to(settings.BASE_DIR)}")
