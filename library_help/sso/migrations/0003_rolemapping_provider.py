"""Each group-to-role mapping belongs to one provider.

Existing mappings go to the one configured provider that sends groups, as they could only ever
have applied to it. With several such providers (or none) there is no telling which one a
mapping was meant for: it is left without a provider, which gives no role, and the admin shows
it for a manager to choose.
"""

from django.conf import settings
from django.db import migrations, models


def to_the_provider_that_sends_groups(apps, schema_editor):
    sending_groups = [p["key"] for p in settings.SSO_PROVIDERS if p.get("groups_claim")]
    if len(sending_groups) == 1:
        RoleMapping = apps.get_model("sso", "RoleMapping")
        RoleMapping.objects.filter(provider="").update(provider=sending_groups[0])


class Migration(migrations.Migration):
    dependencies = [
        ("sso", "0002_managers_edit_mapping"),
    ]

    operations = [
        migrations.AddField(
            model_name="rolemapping",
            name="provider",
            field=models.CharField(
                default="",
                help_text=(
                    "The provider that sends this group. A mapping with no provider (made "
                    "before each mapping had one) gives no role until you choose its provider."
                ),
                max_length=50,
                verbose_name="provider",
            ),
            preserve_default=False,
        ),
        migrations.AlterModelOptions(
            name="rolemapping",
            options={
                "ordering": ["provider", "claim_value", "group__name"],
                "verbose_name": "group to role mapping",
                "verbose_name_plural": "group to role mappings",
            },
        ),
        migrations.RemoveConstraint(
            model_name="rolemapping",
            name="sso_one_mapping_per_group_and_role",
        ),
        migrations.AddConstraint(
            model_name="rolemapping",
            constraint=models.UniqueConstraint(
                fields=("provider", "claim_value", "group"),
                name="sso_one_mapping_per_provider_group_and_role",
            ),
        ),
        migrations.RunPython(to_the_provider_that_sends_groups, migrations.RunPython.noop),
    ]
