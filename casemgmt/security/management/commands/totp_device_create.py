"""``manage.py totp_device_create USERNAME``: give a user a TOTP authenticator and print its
provisioning URI (scan it as a QR code, or type the secret into the app)."""
from django.core.management.base import BaseCommand, CommandError

from casemgmt.core.models import User
from casemgmt.security.totp import totp_device_create


class Command(BaseCommand):
    help = "Create (or replace) a user's TOTP device for the admin's second factor and print its URI."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--replace", action="store_true", help="remove the user's existing TOTP devices first")

    def handle(self, *args, username, replace, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        device = totp_device_create(user=user, replace=replace)
        self.stdout.write(f"{user.username}: {device.config_url}")
