"""The desk and managers look after the waiting list and walk-ins."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Desk": ["view_waitlistentry", "change_waitlistentry", "view_walkin", "add_walkin"],
    "Managers": [
        "view_waitlistentry", "change_waitlistentry", "delete_waitlistentry",
        "view_walkin", "add_walkin", "change_walkin", "delete_walkin",
    ],
    "Librarians": ["view_waitlistentry"],
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    grant_groups(apps)


def grant_groups(apps):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="appointments", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [("appointments", "0008_waitlist_offer_kind")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
