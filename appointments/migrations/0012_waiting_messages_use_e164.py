"""Text messages and calls still waiting go to the patron's number as now stored (E.164, see
patrons 0005), not as it was typed when the message was written."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def readdress_waiting_messages(apps, schema_editor):
    Message = apps.get_model("appointments", "Message")
    Patron = apps.get_model("patrons", "Patron")
    Message.objects.filter(
        state__in=["pending", "to_call"], channel__in=["text", "call"], patron__isnull=False
    ).update(to=Subquery(Patron.objects.filter(pk=OuterRef("patron_id")).values("phone")[:1]))


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0011_sync_staff_groups"),
        ("patrons", "0005_phone_numbers_e164"),
    ]

    operations = [migrations.RunPython(readdress_waiting_messages, migrations.RunPython.noop)]
