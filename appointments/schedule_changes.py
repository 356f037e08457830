"""Schedule changes forget the open times cached for the topics they touch (see open_times).

A topic's version is a random token in the cache; a change deletes it once its transaction
commits, and the next reader makes a new one. (Not before: a reader then could only store what
it computed under a token that the commit's delete retires anyway; and with the database cache
a delete inside the transaction would hold the cache row locked, making bookings of one topic
wait for each other.) Model saves and deletes are caught
by the signals below; the bulk `.update()` calls that change sessions or offers call
`staff_changed` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from .models import (
    Appointment,
    Availability,
    Block,
    Branch,
    Closure,
    StaffProfile,
    Topic,
    WaitlistEntry,
    WaitlistState,
)


def version_key(topic_id: int) -> str:
    return f"slots-version:{topic_id}"


def choices_key(topic_id: int) -> str:
    return f"slots-filters:{topic_id}"


def topics_changed(topic_ids: Iterable[int]) -> None:
    """Forget what is cached for these topics once the change commits. A cache that fails then
    is logged, not raised: the change is made, and entries live a minute at most."""
    keys = sorted(version_key(pk) for pk in set(topic_ids))
    if keys:
        transaction.on_commit(lambda: cache.delete_many(keys), robust=True)


def staff_changed(staff_ids: Iterable[int | None], *, topics_now: bool = False) -> None:
    """A staff member is busy at other times: every topic they help with may change (their
    busy times count at every branch, for every topic). Their topics are looked up after the
    commit too, keeping the change's own transaction short; `topics_now` when the change
    itself takes topics away (a cleared list would be empty by then)."""
    ids = {pk for pk in staff_ids if pk is not None}
    if not ids:
        return
    if topics_now:
        topics_changed(_topics_of(ids))
        return

    def forget():
        cache.delete_many(sorted(version_key(pk) for pk in set(_topics_of(ids))))

    transaction.on_commit(forget, robust=True)


def _topics_of(staff_ids: set[int]) -> list[int]:
    return list(
        Topic.staff.through.objects.filter(staffprofile_id__in=staff_ids).values_list(
            "topic_id", flat=True
        )
    )


def offers_changed(entries) -> None:
    """Call before a bulk update ends or changes these waiting-list entries' offers: a held
    time is busy for everyone but its holder."""
    staff_changed(
        entries.filter(state=WaitlistState.OFFERED).values_list("offer_staff_id", flat=True)
    )


def everything_changed() -> None:
    """Closures and branch settings are rare: every topic starts afresh."""
    topics_changed(Topic.objects.values_list("pk", flat=True))


@receiver([post_save, post_delete], sender=Appointment)
@receiver([post_save, post_delete], sender=Availability)
@receiver([post_save, post_delete], sender=Block)
def _staff_time_changed(sender, instance, **kwargs) -> None:
    staff_changed([instance.staff_id])


@receiver([post_save, post_delete], sender=WaitlistEntry)
def _offer_changed(sender, instance, **kwargs) -> None:
    staff_changed([instance.offer_staff_id])


@receiver([post_save, post_delete], sender=Closure)
@receiver([post_save, post_delete], sender=Branch)
def _library_changed(sender, **kwargs) -> None:
    everything_changed()


@receiver([post_save, post_delete], sender=Topic)
def _topic_changed(sender, instance, **kwargs) -> None:
    topics_changed([instance.pk])


@receiver(post_save, sender=StaffProfile)
@receiver(pre_delete, sender=StaffProfile)
def _staff_member_changed(sender, instance, **kwargs) -> None:
    staff_changed([instance.pk])


@receiver(m2m_changed, sender=StaffProfile.topics.through)
def _staff_topics_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action not in ("pre_clear", "post_add", "post_remove"):
        return
    if reverse:  # topic.staff.add(...)
        topics_changed([instance.pk])
    else:
        staff_changed([instance.pk], topics_now=action == "pre_clear")
        topics_changed(pk_set or [])


@receiver(m2m_changed, sender=StaffProfile.branches.through)
def _staff_branches_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action not in ("pre_clear", "post_add", "post_remove"):
        return
    if reverse:  # branch.staff.add(...)
        staff_changed(
            pk_set or StaffProfile.objects.filter(branches=instance).values_list("pk", flat=True)
        )
    else:
        staff_changed([instance.pk])


@receiver(post_save, sender=get_user_model())
def _account_changed(sender, instance, update_fields=None, **kwargs) -> None:
    # Only active accounts take bookings. Logging in saves `last_login`: nothing to do.
    if update_fields is not None and set(update_fields) <= {"last_login", "password"}:
        return
    staff_changed(StaffProfile.objects.filter(user_id=instance.pk).values_list("pk", flat=True))
