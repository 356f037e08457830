"""The desk and managers look after the waiting list and walk-ins.

The grants that used to be made here are now part of the one definition of the roles,
appointments.access.ROLE_PERMISSIONS, applied by migration 0011.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("appointments", "0008_waitlist_offer_kind")]

    operations = []
