"""The three staff roles as Django groups: Librarians, Desk, Managers.

Librarians manage their own availability, blocks and appointments (the admin limits them to
their own rows); the desk books for patrons and sees every calendar; managers manage everything.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

LIBRARIANS = {
    "appointments": [
        "view_branch", "view_topic", "view_closure",
        "view_staffprofile", "change_staffprofile",
        "view_availability", "add_availability", "change_availability", "delete_availability",
        "view_block", "add_block", "change_block", "delete_block",
        "view_appointment", "change_appointment",
    ],
    "patrons": ["view_patron"],
}
DESK = {
    "appointments": [
        "view_branch", "view_topic", "view_closure", "view_staffprofile",
        "view_availability", "view_block",
        "view_appointment", "add_appointment", "change_appointment",
        "book_for_patron", "view_all_calendars",
    ],
    "patrons": ["view_patron", "add_patron", "change_patron"],
}
MANAGER_APPS = ["appointments", "patrons"]


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    grant_groups(apps)


def grant_groups(apps):
    """Create the groups with their permissions (also used by tests after a database flush)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def grant(group_name, wanted):
        group, _ = Group.objects.get_or_create(name=group_name)
        for app_label, codenames in wanted.items():
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
            )

    grant("Librarians", LIBRARIANS)
    grant("Desk", DESK)
    managers, _ = Group.objects.get_or_create(name="Managers")
    managers.permissions.add(
        *Permission.objects.filter(content_type__app_label__in=MANAGER_APPS)
    )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["Librarians", "Desk", "Managers"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0001_initial"),
        ("patrons", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
