"""Signal receivers of the core app: role groups follow the code after each migrate, and a user's
group follows their role."""
from django.apps import apps
from django.db.models.signals import post_migrate, post_save
from django.dispatch import receiver

from .models import User
from .roles import group_for, sync_role_groups


@receiver(post_migrate)
def _sync_groups(sender, **kwargs):
    # Permissions are created app by app after migrate; the last app's signal sees all of them.
    if sender.label == list(apps.get_app_configs())[-1].label:
        sync_role_groups()


@receiver(post_save, sender=User)
def _user_role_group(sender, instance, **kwargs):
    from .roles import PERMISSIONS

    role_groups = [r.value for r in PERMISSIONS]
    current = set(instance.groups.filter(name__in=role_groups).values_list("name", flat=True))
    if current != {instance.role}:
        instance.groups.remove(*instance.groups.filter(name__in=role_groups))
        instance.groups.add(group_for(instance.role))
