"""Who may see and do what: the staff roles, their permissions, and the questions every page asks.

Every admin class, desk page, form field choice and migration asks this module; none decides
on its own. The roles:

- **Librarians** keep their own schedule and sessions. They see the patrons of their own
  sessions (contact details, accessibility needs, what they want to learn) and nobody else's.
- **The desk** books for any patron and sees every calendar, so it sees every patron's name and
  contact details. What a patron wants to learn and their accessibility needs are private to the
  staff member who helps them: the desk sees them only on the day of one of the patron's
  sessions, to greet them and point them the right way.
- **Managers** see and change everything.

Nobody on the staff ever sees a patron's private link: it would let them act as the patron.
Each time staff see a patron's need, an access record is written (patrons.models.record_access).
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

LIBRARIANS, DESK, MANAGERS = "Librarians", "Desk", "Managers"

ROLE_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    LIBRARIANS: {
        "appointments": [
            "view_branch",
            "view_topic",
            "view_closure",
            "view_staffprofile",
            "change_staffprofile",
            "view_availability",
            "add_availability",
            "change_availability",
            "delete_availability",
            "view_block",
            "add_block",
            "change_block",
            "delete_block",
            "view_appointment",
            "change_appointment",
            "view_waitlistentry",
        ],
        "patrons": ["view_patron"],
    },
    DESK: {
        "appointments": [
            "view_branch",
            "view_topic",
            "view_closure",
            "view_staffprofile",
            "view_availability",
            "view_block",
            "view_appointment",
            "add_appointment",
            "change_appointment",
            "book_for_patron",
            "view_all_calendars",
            "view_message",
            "view_feedback",
            "view_waitlistentry",
            "change_waitlistentry",
            "view_walkin",
            "add_walkin",
        ],
        "patrons": ["view_patron", "add_patron", "change_patron", "delete_patron"],
    },
}
# Managers hold every permission of these apps, including the access log and (sso) the mapping
# of the sign-in provider's groups to these roles.
MANAGER_APPS = ["appointments", "patrons", "sso"]

# Fields that hold what a patron told us in confidence. Only those who may see them may filter,
# search or sort on them: a filter that answers "3 rows" tells as much as the text itself.
PRIVATE_FIELDS = frozenset(
    {"learning_goal", "accessibility_needs", "limit_override_reason", "comment", "body"}
)


def sync_groups(apps=None) -> None:
    """Make the three role groups hold exactly the permissions above.

    Called by a data migration (with the historical `apps`) and by the tests after a flush.
    """
    if apps is None:
        from django.apps import apps
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # Permissions of models added in the same migration run do not exist yet otherwise.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in ROLE_PERMISSIONS.items():
        condition = Q(pk__in=[])
        for app_label, codenames in wanted.items():
            condition |= Q(content_type__app_label=app_label, codename__in=codenames)
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(Permission.objects.filter(condition))
    managers, _ = Group.objects.get_or_create(name=MANAGERS)
    managers.permissions.set(Permission.objects.filter(content_type__app_label__in=MANAGER_APPS))


# --- Roles ---------------------------------------------------------------------------------


MANAGE_ALL = "appointments.manage_all_schedules"


def is_manager(user) -> bool:
    return user.is_active and (user.is_superuser or user.has_perm(MANAGE_ALL))


def managers() -> QuerySet:
    """Everyone `is_manager` says yes to, as one query: active superusers, and active users
    holding the permission themselves or through a group."""
    return get_user_model().objects.with_perm(
        MANAGE_ALL, backend="django.contrib.auth.backends.ModelBackend"
    )


def sees_every_calendar(user) -> bool:
    return is_manager(user) or user.has_perm("appointments.view_all_calendars")


def books_for_patrons(user) -> bool:
    return user.has_perm("appointments.book_for_patron")


# --- What each user may see ----------------------------------------------------------------


def visible_appointments(user, queryset: QuerySet | None = None) -> QuerySet:
    from .models import Appointment

    queryset = Appointment.objects.all() if queryset is None else queryset
    if sees_every_calendar(user):
        return queryset
    return queryset.filter(staff__user=user)


def visible_patrons(user, queryset: QuerySet | None = None) -> QuerySet:
    """Librarians see the patrons of their own sessions; the desk and managers see everyone."""
    from patrons.models import Patron

    queryset = Patron.objects.all() if queryset is None else queryset
    if sees_every_calendar(user):
        return queryset
    return queryset.filter(pk__in=visible_appointments(user).values("patron_id"))


def visible_waitlist(user, queryset: QuerySet | None = None) -> QuerySet:
    """Librarians see who waits for the topics they teach, at branches where they work."""
    from .models import WaitlistEntry

    queryset = WaitlistEntry.objects.all() if queryset is None else queryset
    if sees_every_calendar(user):
        return queryset
    return (
        queryset.filter(topic__staff__user=user)
        .filter(Q(branch__isnull=True) | Q(branch__staff__user=user))
        .distinct()
    )


def may_see_patron(user, patron) -> bool:
    return patron is not None and visible_patrons(user).filter(pk=patron.pk).exists()


def may_change_appointment(user, appointment) -> bool:
    """Move, cancel or mark a session: its own staff member, the desk, managers."""
    if not user.has_perm("appointments.change_appointment"):
        return False
    return is_manager(user) or books_for_patrons(user) or appointment.staff.user_id == user.pk


def may_manage_calendar_feeds(user, staff) -> bool:
    """A staff member's calendar addresses, both secrets: the feed of their sessions (replaced
    when it leaked) and the published Outlook or Google calendar whose busy times block
    bookings. Its owner manages them, or a manager does for them; nobody else sees them."""
    return user.is_active and (staff.user_id == user.pk or is_manager(user))


def calendar_feeds_looked_after(user, queryset: QuerySet) -> QuerySet:
    """Calendar feeds whose warnings this user sees: their own; managers, everyone's."""
    if is_manager(user):
        return queryset
    return queryset.filter(staff__user=user)


def may_see_need(user, appointment) -> bool:
    """What the patron wants to learn, and their accessibility needs with this session: for the
    staff member helping, managers, and the desk on the day of the session."""
    if appointment is None or is_manager(user) or appointment.staff.user_id == user.pk:
        return True
    if not sees_every_calendar(user):
        return False
    tz = appointment.branch.tz
    return appointment.starts_at.astimezone(tz).date() == timezone.now().astimezone(tz).date()


def may_see_accessibility_needs(user, patron) -> bool:
    """A patron's accessibility needs: for those who may see the need of one of their sessions
    (the desk: one of the patron's sessions is today)."""
    return patron.pk in needs_shown_for(user, [patron.pk])


def needs_shown_for(user, patron_ids) -> set[int]:
    """Of these patrons, those whose accessibility needs this user may see: the rule above, in
    two queries for a whole list (the call list)."""
    if is_manager(user):
        return set(patron_ids)
    sessions = visible_appointments(user).filter(patron_id__in=patron_ids)
    own = set(sessions.filter(staff__user=user).values_list("patron_id", flat=True))
    # "Today" in any branch's zone: a day either side of the server's date, checked exactly.
    today = timezone.localdate()
    near = sessions.filter(
        starts_at__date__range=(today - timedelta(days=1), today + timedelta(days=1))
    ).select_related("staff", "branch")
    return own | {session.patron_id for session in near if may_see_need(user, session)}


def may_filter_on(user, lookup: str) -> bool:
    """Admin list filters and lookups: none on private fields, except for managers; none on
    message bodies for anyone (a filter that answers row by row would spell out a link)."""
    field = lookup.split("__")[0]
    if field == "body":
        return False
    return is_manager(user) or field not in PRIVATE_FIELDS


# --- Private links -------------------------------------------------------------------------

_LINK_PATHS = ("booking", "waiting-list", "feedback")


def hide_private_links(text: str) -> str:
    """Message bodies as staff see them: every patron's private link replaced by a note."""
    site = re.escape(settings.SITE_URL.rstrip("/"))
    pattern = rf"(?:{site})?/(?:{'|'.join(_LINK_PATHS)})/[^\s/]+/?(?:[\w-]+/)*"
    return re.sub(pattern, "[the patron's private link, not shown to staff]", text)
