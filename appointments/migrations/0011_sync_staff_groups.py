"""The staff roles as defined in appointments.access: one definition, synced here.

Earlier migrations each granted a few permissions; their grants are now part of the one
definition in appointments/access.py (ROLE_PERMISSIONS), which this migration applies.
"""

from django.db import migrations


def sync(apps, schema_editor):
    from appointments.access import sync_groups

    sync_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0010_limit_lifted_by"),
        ("patrons", "0004_waitlist_access"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
