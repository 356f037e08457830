"""Managers may edit the group-to-role mapping: the roles as appointments.access defines them."""

from django.db import migrations


def sync(apps, schema_editor):
    from appointments.access import sync_groups

    sync_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("sso", "0001_initial"),
        ("appointments", "0011_sync_staff_groups"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
