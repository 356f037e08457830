"""Privacy roles: the desk can forget a patron who asks in person; managers read the access log.

The grants that used to be made here are now part of the one definition of the roles,
appointments.access.ROLE_PERMISSIONS, applied by migration 0011.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0004_message_permissions"),
        ("patrons", "0002_access_records"),
    ]

    operations = []
