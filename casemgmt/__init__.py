"""Case management for family-planning special families (计生特殊家庭)."""
from .celery import app as celery_app

__all__ = ("celery_app",)
