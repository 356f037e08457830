"""Privacy roles: the desk can forget a patron who asks in person; managers read the access log."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Desk": {"patrons": ["delete_patron"]},
    "Managers": {"patrons": ["view_accessrecord"]},
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
    for name, wanted in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codenames in wanted.items():
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
            )


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0004_message_permissions"),
        ("patrons", "0002_access_records"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
