"""The booking a patron has started but not finished, kept in their browser session.

The session lives on the server for up to 12 hours, and library computers are shared: a patron
may walk away mid-booking without closing the browser, and the next person sits down to the
same session. So the draft keeps little, and briefly:

- what the patron needs (the first step), for KEPT_FOR after they last used a page of the
  booking: a patron still choosing never loses it, one who walked away does;
- their name and how to reach them, typed before a time was taken, for KEPT_FOR after they
  typed them, so that they need not type them again for their next try;
- never their library card number or what would help them during the session: the most
  private answers, which they type again;
- one topic at a time: opening another topic's booking, or the list of topics, drops the rest.
  Booking, or joining the waiting list, drops the topic's draft.

What is too old is dropped as the draft is read, before anything is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

# Long enough to choose another time after "that time was just taken" and to finish a
# booking at an unhurried pace; short enough that the next person at a shared computer is
# unlikely to find the last patron's answers.
KEPT_MINUTES = 20
KEPT_FOR = timedelta(minutes=KEPT_MINUTES)
# The need's stamp is renewed as the patron moves through the pages, but not on every page
# (each renewal is a write): at most once a minute.
RENEWED_AFTER = timedelta(minutes=1)
# The details worth keeping for a next try. Not the library card number, not the
# accessibility needs: those are never kept.
DETAILS_KEPT = ("name", "email", "phone", "preferred_contact")
PREFIX = "booking:"


@dataclass
class Draft:
    need: dict | None = None
    details: dict | None = None
    # A need was kept, but the patron left it longer than KEPT_FOR: say so, not "first, tell us".
    forgotten: bool = False


def _key(slug: str) -> str:
    return f"{PREFIX}{slug}"


def _fresh(stamp, now: float) -> bool:
    # A stamp slightly ahead (another app server's clock) is fresh; a missing one is not.
    return isinstance(stamp, (int, float)) and now - stamp <= KEPT_FOR.total_seconds()


def current(session: SessionBase, slug: str) -> Draft:
    """This topic's draft, less what is too old. Another topic's draft is dropped: the patron
    left it for this one."""
    forget_all(session, but=slug)
    now = timezone.now().timestamp()
    kept = session.get(_key(slug))
    if not kept:
        return Draft()
    draft = Draft(forgotten="need" in kept)
    if "need" in kept and _fresh(kept.get("need_at"), now):
        draft.need, draft.forgotten = kept["need"], False
    if "details" in kept and _fresh(kept.get("details_at"), now):
        draft.details = kept["details"]
    fresh = {}
    if draft.need is not None:
        renewed = now - kept["need_at"] > RENEWED_AFTER.total_seconds()
        fresh.update(need=draft.need, need_at=now if renewed else kept["need_at"])
    if draft.details is not None:
        fresh.update(details=draft.details, details_at=kept["details_at"])
    if not fresh:
        del session[_key(slug)]
    elif fresh != kept:
        session[_key(slug)] = fresh
    return draft


def keep_need(session: SessionBase, slug: str, need: dict) -> None:
    """The first step's answers, with the details still fresh."""
    draft = current(session, slug)
    kept = {"need": need, "need_at": timezone.now().timestamp()}
    if draft.details is not None:
        kept.update(details=draft.details, details_at=session[_key(slug)]["details_at"])
    session[_key(slug)] = kept


def keep_details(session: SessionBase, slug: str, typed: dict) -> None:
    """The name and contact details a patron typed, for their next try; nothing else of what
    they typed. The need is kept as it is (renewed: the patron is still here)."""
    draft = current(session, slug)
    now = timezone.now().timestamp()
    kept = {"details": {name: typed[name] for name in DETAILS_KEPT if name in typed}}
    kept["details_at"] = now
    if draft.need is not None:
        kept.update(need=draft.need, need_at=now)
    session[_key(slug)] = kept


def forget(session: SessionBase, slug: str) -> None:
    """Booked, or on the waiting list: nothing of it stays behind."""
    session.pop(_key(slug), None)


def forget_all(session: SessionBase, but: str | None = None) -> None:
    """Every unfinished booking in this browser, except the one for `but`."""
    mine = _key(but) if but else None
    # A session is no dict: it has keys() but cannot be iterated.
    for key in [key for key in session.keys() if key.startswith(PREFIX)]:  # noqa: SIM118
        if key != mine:
            del session[key]
