"""WSGI entry point for Library Help."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "library_help.settings")
application = get_wsgi_application()
