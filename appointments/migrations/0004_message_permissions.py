"""Give the staff roles their permissions on messages and feedback (added in 0003).

The grants that used to be made here are now part of the one definition of the roles,
appointments.access.ROLE_PERMISSIONS, applied by migration 0011.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("appointments", "0003_messages_feedback_calendar")]

    operations = []
