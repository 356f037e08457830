"""The three staff roles as Django groups: Librarians, Desk, Managers.

Librarians manage their own availability, blocks and appointments (the admin limits them to
their own rows); the desk books for patrons and sees every calendar; managers manage everything.

The grants that used to be made here are now part of the one definition of the roles,
appointments.access.ROLE_PERMISSIONS, applied by migration 0011.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0001_initial"),
        ("patrons", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = []
