"""WSGI entry point for gunicorn and ``runserver``."""
import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casemgmt.settings")
application = get_wsgi_application()

# What is loaded now (Django, the apps, the URL conf with every view and serializer: ~330,000
# objects) lives as long as the process. Frozen out of the garbage collector's way, a collection
# scans what requests allocate, not the whole project. With gunicorn's --preload it also keeps the
# forked workers' memory shared.
get_resolver().url_patterns  # noqa: B018 (imports the URL conf now, not on the first request)
gc.freeze()
