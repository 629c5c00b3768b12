"""Re-encrypt every encrypted column under the first key of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), deploy,
run this command, then drop the old keys. Rows not yet rewritten still decrypt with the old keys,
so the system keeps working during the run, and the command can be stopped and run again.
"""
from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from casemgmt.core import keys
from casemgmt.core.crypto import EncryptedTextField


def encrypted_fields():
    for model in apps.get_models():
        fields = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            yield model, fields


class Command(BaseCommand):
    help = "Re-encrypt all sensitive fields under the current primary encryption key."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=2000)

    def handle(self, *args, batch_size, **options):
        for model, fields in encrypted_fields():
            done = 0
            last_pk = 0
            while True:
                with transaction.atomic():
                    # Reading decrypts with any listed key; bulk_update writes under the primary key.
                    batch = list(model.objects.filter(pk__gt=last_pk).order_by("pk").only("pk", *fields)[:batch_size])
                    if not batch:
                        break
                    model.objects.bulk_update(batch, fields)
                last_pk = batch[-1].pk
                done += len(batch)
            self.stdout.write(f"{model._meta.label}: {done} rows re-encrypted ({', '.join(fields)})")
        # Every row is under the primary key now: the older keys may be dropped, and the database says so.
        keys.record(only_primary=True)
