"""Patron pages: choose a topic, describe the need, pick a time, leave contact details.

The need is kept in the patron's session (server side), so nothing a patron types ends up in a
URL. The chosen time is not: it travels with the pages (the details page's address, then a
hidden field), because every tab of one browser shares the session and each tab must book the
time it shows. It holds no personal data. Each step checks the earlier ones are done and sends
the patron back if not.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

from library_help.languages import active_language, supported
from patrons.forms import PatronForm

from . import booking_draft, messaging, schedule_changes
from .booking import (
    BookingError,
    book_appointment,
    booking_window,
    busy_means_try_again,
    cancel_appointment,
    find_open_slots,
    reschedule_appointment,
)
from .calendar import appointment_ics
from .chosen_time import not_open_reason, outside_online_window, problem_as_page_opens
from .formatting import format_day
from .forms import (
    ChosenTimeForm,
    FeedbackForm,
    NeedForm,
    TimeChoiceForm,
    TimeFilterForm,
    WaitlistForm,
    parse_slot_value,
)
from .links import (
    LinkError,
    appointment_from_feedback_token,
    appointment_from_token,
    private_path,
)
from .models import Branch, Feedback, StaffProfile, Status, Topic, WaitlistEntry, WaitlistState
from .open_times import TopicTimes, load_filter_choices
from .privacy import forget_patron
from .waitlist import (
    book_held_time,
    change_wishes,
    describe_wishes,
    entry_from_place_token,
    entry_from_token,
    joined_message,
    leave,
    times_of_day_offered,
)

# Per client address (a library's computers and Wi-Fi usually share one, so a limit counts a
# whole building). The booking forms' posts are counted together and generously; sessions booked
# online are counted apart and kept few; private links count every visit, each page apart, which
# makes guessing links (already hopeless: they are signed) slower still. The desk is never
# limited. django-ratelimit keeps the counts in the shared cache (library_help/cache.py), in
# fixed windows: the wait it gives is the true time left in the window.
FORM_POSTS = "appointments.booking-forms"
ONLINE_BOOKINGS = "appointments.online-bookings"


def _limited(*, rate_setting: str, method, group: str | None = None, reason: str = "tries"):
    """Refuse a request over the limit with the page saying how long to wait. `group` counts
    several pages together; without it, each page counts apart."""

    def decorator(view):
        @wraps(view)
        def limited_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            usage = get_usage(
                request,
                group=group,
                fn=None if group else view,
                key="ip",
                rate=getattr(settings, rate_setting),
                method=method,
                increment=True,
            )
            if usage is not None and usage["should_limit"]:
                return rate_limited_page(request, reason=reason, seconds_left=usage["time_left"])
            return view(request, *args, **kwargs)

        return limited_view

    return decorator


booking_limit = _limited(rate_setting="RATELIMIT_BOOKING", method="POST", group=FORM_POSTS)
lookup_limit = _limited(rate_setting="RATELIMIT_LOOKUP", method=ALL)


def _online_bookings(request: HttpRequest, *, count: bool) -> dict | None:
    return get_usage(
        request,
        group=ONLINE_BOOKINGS,
        key="ip",
        rate=settings.RATELIMIT_ONLINE_BOOKINGS,
        increment=count,
    )


def online_bookings_paused(request: HttpRequest) -> HttpResponse | None:
    """The page saying so, when this address has booked as many sessions online as an hour
    allows (checked before the patron types their details, and again before booking)."""
    usage = _online_bookings(request, count=False)
    if usage is None:
        return None
    if usage["count"] >= usage["limit"]:
        return rate_limited_page(request, reason="bookings", seconds_left=usage["time_left"])
    return None


def rate_limited_page(request: HttpRequest, *, reason: str, seconds_left: int) -> HttpResponse:
    """429, saying what was limited and how long until it is lifted (unknown if the cache
    could not count: then it is at most an hour)."""
    minutes = math.ceil(seconds_left / 60) if seconds_left > 0 else None
    response = render(
        request, "rate_limited.html", {"reason": reason, "minutes": minutes}, status=429
    )
    if seconds_left > 0:
        response["Retry-After"] = str(seconds_left)
    return response


def rate_limited(request: HttpRequest, exception) -> HttpResponse:
    """RATELIMIT_VIEW: any other limit django-ratelimit refuses (the wait is not known here)."""
    return rate_limited_page(request, reason="tries", seconds_left=-1)


def home(request: HttpRequest) -> HttpResponse:
    """The topics a patron can book (offered, and someone takes bookings for it): the busiest
    page, so one query for the columns it shows. (An EXISTS subquery reads better in SQL but
    costs Django twice the time to build, for the same plan on a library's few topics.)

    Back at the list of topics, the patron has left any booking they started (the "Choose a
    different topic" link leads here, and so does the next person at a shared computer): it
    is dropped. A browser without a session costs no query for it."""
    booking_draft.forget_all(request.session)
    topics = (
        Topic.objects.filter(is_active=True, staff__is_bookable=True)
        .distinct()
        .only("name", "slug", "description", "session_lengths")
        .with_translations()
    )
    return render(request, "appointments/home.html", {"topics": topics})


def _ask_need_first(request: HttpRequest, topic: Topic, draft: booking_draft.Draft) -> HttpResponse:
    if draft.forgotten:
        message = gettext(
            "To keep your answers private on a shared computer, we forget a booking left "
            "unfinished for %(minutes)s minutes. Please tell us again what you need."
        ) % {"minutes": booking_draft.KEPT_MINUTES}
    else:
        message = gettext("First, tell us a little about what you need.")
    messages.info(request, message)
    return redirect("appointments:need", slug=topic.slug)


def _active_topic(slug: str) -> Topic:
    """The topic of a booking page, with its texts in the page's language (one more query,
    in a language other than the default)."""
    return get_object_or_404(Topic.objects.with_translations(), slug=slug, is_active=True)


@booking_limit
@require_http_methods(["GET", "POST"])
def need(request: HttpRequest, slug: str) -> HttpResponse:
    topic = _active_topic(slug)
    draft = booking_draft.current(request.session, topic.slug)
    if request.method == "POST":
        form = NeedForm(request.POST, topic=topic)
        if form.is_valid():
            booking_draft.keep_need(request.session, topic.slug, form.cleaned_data)
            return redirect("appointments:time", slug=topic.slug)
    else:
        form = NeedForm(topic=topic, initial=draft.need)
    return render(request, "appointments/need.html", {"topic": topic, "form": form, "step": 1})


def _by_pk(wanted: set[int], loaded: list, model) -> dict:
    """The wanted rows, from those already loaded when they are all there (as they are for
    the topic's staff and branches), else from the database."""
    known = {obj.pk: obj for obj in loaded}
    if wanted <= known.keys():
        return {pk: known[pk] for pk in wanted}
    return {obj.pk: obj for obj in model.objects.filter(pk__in=wanted)}


def time_choices(
    request: HttpRequest,
    topic: Topic,
    length: int,
    *,
    for_desk: bool = False,
    ignoring=None,
    only_staff=None,
    holder=None,
):
    """The time picker's filter form, time form and week navigation, shared with the desk.

    Only the week shown is computed (the later weeks only when this one is empty, to point to
    the next open day). A submitted time is checked against the week it falls in. `only_staff`
    keeps the times to one staff member's, whatever the filter says. `holder` (the desk booking
    for a patron who holds a waiting-list offer) shows their held time too.
    """
    # The patron's own page (the online window, nobody's held time, no session left out) is
    # served from the cache until the topic's schedule changes; the desk's and moves are not.
    times = None
    if not for_desk and ignoring is None and holder is None:
        times = TopicTimes(topic)
    choices = times.filter_choices() if times else load_filter_choices(topic)
    filter_form = TimeFilterForm(request.GET or None, topic=topic, choices=choices)
    filters = filter_form.filters()
    branch, staff = filters["branch"], only_staff or filters["staff"]
    window = booking_window(topic, for_desk=for_desk)
    today = timezone.localdate()
    last_day = timezone.localdate(window.latest)
    week_start = filters["week"] or today
    chosen = parse_slot_value(request.POST.get("slot", "")) if request.method == "POST" else None
    if chosen is not None:
        week_start = timezone.localdate(chosen[2]) - timedelta(days=1)
    week_start = max(today, min(week_start, last_day))
    week_end = week_start + timedelta(days=6)

    def open_between(first: date, last: date):
        if times is not None:
            return times.open_slots(
                length=length, first_day=first, last_day=last, branch=branch, staff=staff
            )
        return find_open_slots(
            topic,
            length=length,
            first_day=first,
            last_day=last,
            branch=branch,
            staff=staff,
            window=window,
            ignoring=ignoring,
            holder=holder,
        )

    week_slots = open_between(week_start, week_end)
    later = [] if week_slots or week_end >= last_day else open_between(week_end, last_day)
    shown = week_slots + later
    branches = _by_pk({s.branch_id for s in shown}, choices.branches, Branch)
    week_staff = _by_pk({s.staff_id for s in week_slots}, choices.staff, StaffProfile)
    staff_names = {pk: staff.public_name for pk, staff in week_staff.items()}

    def local_day(slot) -> date:
        return slot.start.astimezone(branches[slot.branch_id].tz).date()

    week_slots = [s for s in week_slots if week_start <= local_day(s) <= week_end]
    later = [s for s in later if local_day(s) > week_end]
    return {
        "filter_form": filter_form,
        "all_slots": week_slots,
        "week_slots": week_slots,
        "branches": branches,
        "staff_names": staff_names,
        "any_staff": staff is None,
        "show_branch": branch is None and filter_form.branch_count > 1,
        "week_start": week_start,
        "week_end": week_end,
        "week_label": gettext("%(first)s to %(last)s")
        % {"first": format_day(week_start), "last": format_day(week_end)},
        "previous_week": week_start - timedelta(days=7) if week_start > today else None,
        "next_week": week_end + timedelta(days=1) if week_end < last_day else None,
        "next_open_day": local_day(later[0]) if later and not week_slots else None,
    }


def without_current_time(context: dict, appointment) -> dict:
    """A move page's `time_choices`, less the time the session already has: moving to it is
    no move. The same time at another branch is a real move, and so is the same time with
    another staff member, when the page names one."""

    def same(slot) -> bool:
        return (slot.start, slot.branch_id) == (appointment.starts_at, appointment.branch_id) and (
            context["any_staff"] or slot.staff_id == appointment.staff_id
        )

    context["all_slots"] = context["week_slots"] = [
        slot for slot in context["week_slots"] if not same(slot)
    ]
    return context


def _time_form(context, data=None) -> TimeChoiceForm:
    return TimeChoiceForm(
        data,
        slots=context["week_slots"] if data is None else context["all_slots"],
        branches=context["branches"],
        staff_names=context["staff_names"],
        any_staff=context["any_staff"],
        show_branch=context["show_branch"],
    )


@booking_limit
@require_http_methods(["GET", "POST"])
def choose_time(request: HttpRequest, slug: str) -> HttpResponse:
    topic = _active_topic(slug)
    draft = booking_draft.current(request.session, topic.slug)
    if draft.need is None:
        return _ask_need_first(request, topic, draft)
    context = time_choices(request, topic, draft.need["length"])
    if request.method == "POST":
        form = _time_form(context, request.POST)
        if form.is_valid():
            contact_url = reverse("appointments:contact", args=[topic.slug])
            return redirect(f"{contact_url}?{urlencode({'slot': form.cleaned_data['slot']})}")
        if form.has_error("slot", "invalid_choice"):
            form.errors["slot"] = form.error_class(
                [_why_not_offered(topic, request.POST["slot"], draft.need["length"])]
            )
        form.options = _time_form(context).options
    else:
        form = _time_form(context)
    context.update(topic=topic, form=form, step=2)
    return render(request, "appointments/time.html", context)


def _why_not_offered(topic: Topic, value: str, length: int) -> str:
    """A time sent that is not among the week's open ones: the real reason, as the details page
    gives it (taken meanwhile, passed, too soon, or never one of ours). Only on this error."""
    chosen = ChosenTimeForm({"slot": value})
    if not chosen.is_valid():
        return chosen.error_message()
    branch, staff, start = chosen.cleaned_data["slot"]
    return not_open_reason(topic, branch, staff, start, length)


def _keep_details(request: HttpRequest, topic: Topic, form: PatronForm) -> None:
    """The name and contact details the patron typed, kept with their need (in their session,
    and only there, for a few minutes: booking_draft) for their next try after being sent back
    to choose a time. Only answers that passed their checks are kept."""
    form.is_valid()
    typed = {name: form.data.get(name, "") for name in form.fields if name not in form.errors}
    booking_draft.keep_details(request.session, topic.slug, typed)


def _choose_again(request: HttpRequest, topic: Topic, message: str) -> HttpResponse:
    messages.error(request, message)
    return redirect("appointments:time", slug=topic.slug)


@sensitive_post_parameters()
@booking_limit
@require_http_methods(["GET", "POST"])
def contact(request: HttpRequest, slug: str) -> HttpResponse:
    """The patron's details, then the booking of the time this page shows.

    The time comes from the page (`?slot=` from the time step, then the form's hidden field),
    never from the session. With no time in the address (an old bookmark, a typed address) the
    patron chooses one again: the session's last choice may be another tab's. A time that cannot
    be booked online is refused as the page opens, and again on booking, with the real reason
    (chosen_time); what the patron typed is kept for their next try.
    """
    topic = _active_topic(slug)
    draft = booking_draft.current(request.session, topic.slug)
    if draft.need is None:
        if request.method == "POST" and draft.forgotten:
            # Their need was forgotten while they typed: their name and contact details wait
            # for them while they tell it again.
            _keep_details(request, topic, PatronForm(request.POST))
        return _ask_need_first(request, topic, draft)
    data = request.POST if request.method == "POST" else request.GET
    if request.method == "GET" and "slot" not in data:
        return redirect("appointments:time", slug=topic.slug)
    if paused := online_bookings_paused(request):
        return paused
    form = PatronForm(request.POST or None, initial=draft.details)
    chosen = ChosenTimeForm(data)
    if not chosen.is_valid():
        if request.method == "POST":
            _keep_details(request, topic, form)
        return _choose_again(request, topic, chosen.error_message())
    branch, staff, start = chosen.cleaned_data["slot"]
    need = draft.need
    if request.method == "GET":
        problem = problem_as_page_opens(topic, branch, staff, start, need["length"])
        if problem:
            return _choose_again(request, topic, problem)
    elif problem := outside_online_window(topic, branch, start):
        # The page was left open until the time came inside the notice (no query: the
        # rest is the booking's own re-check, below).
        _keep_details(request, topic, form)
        return _choose_again(request, topic, problem)
    if request.method == "POST" and form.is_valid():
        try:
            # The new record is saved in the booking's transaction: a refused booking leaves
            # no patron record behind.
            appointment = book_appointment(
                patron=form.save(commit=False),
                topic=topic,
                branch=branch,
                starts_at=start,
                length=need["length"],
                skill_level=need["skill_level"],
                learning_goal=need["learning_goal"],
                party_size=need["party_size"],
                staff=staff,
            )
        except BookingError as error:
            if error.code in ("taken", "patron_overlap"):
                _keep_details(request, topic, form)
                message = error.message
                if error.code == "taken":
                    # Taken, or never a time we offer (an edited address): say which.
                    message = not_open_reason(topic, branch, staff, start, need["length"])
                return _choose_again(request, topic, message)
            form.add_error(None, error.message)
        else:
            _online_bookings(request, count=True)
            booking_draft.forget(request.session, topic.slug)
            messages.success(request, gettext("You're booked. We look forward to seeing you."))
            return redirect(private_path(appointment))
    local_start = start.astimezone(branch.tz)
    context = {
        "topic": topic,
        "form": form,
        "chosen": chosen,
        "branch": branch,
        "staff": staff,
        "local_start": local_start,
        "need": need,
        "step": 3,
        "details_kept": draft.details is not None and request.method == "GET",
    }
    return render(request, "appointments/contact.html", context)


def too_late_message(appointment) -> str:
    return gettext(
        "Your session is too soon to cancel or change online. Please call the desk at "
        "%(phone)s: we will sort it out with you."
    ) % {"phone": appointment.branch.phone or settings.LIBRARY_PHONE}


def speak_patrons_language(request: HttpRequest, language: str | None) -> None:
    """A patron's private link answers in the language they booked in, unless this browser
    has chosen one with the switcher (the cookie): a link opened on a library computer or a
    relative's phone set to English still speaks Spanish to a Spanish-speaking patron."""
    if not language or settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        return
    language = supported(language)
    translation.activate(language)
    request.LANGUAGE_CODE = language


def _from_link(request: HttpRequest, token: str):
    try:
        appointment = appointment_from_token(token)
    except LinkError as error:
        response = render(request, "appointments/link_error.html", {"message": error.message})
        response.status_code = 404
        return None, response
    speak_patrons_language(request, appointment.patron.language)
    return appointment, None


@lookup_limit
def manage(request: HttpRequest, token: str) -> HttpResponse:
    appointment, refused = _from_link(request, token)
    if refused:
        return refused
    return render(
        request,
        "appointments/manage.html",
        {"appointment": appointment, "token": token},
    )


@lookup_limit
@require_http_methods(["GET"])
def calendar_file(request: HttpRequest, token: str) -> HttpResponse:
    """The session as a calendar file, for every patron, not only those who get email."""
    appointment, refused = _from_link(request, token)
    if refused:
        return refused
    response = HttpResponse(appointment_ics(appointment), content_type="text/calendar")
    response["Content-Disposition"] = 'attachment; filename="library-help-session.ics"'
    response["Cache-Control"] = "private, no-store"
    return response


@lookup_limit
@booking_limit
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, token: str) -> HttpResponse:
    appointment, refused = _from_link(request, token)
    if refused:
        return refused
    if appointment.status == Status.CANCELLED:
        messages.info(request, gettext("This session is already cancelled."))
        return redirect(reverse("appointments:manage", args=[token]))
    if not appointment.is_cancellable:
        messages.info(request, gettext("This session can no longer be cancelled online."))
        return redirect(reverse("appointments:manage", args=[token]))
    if not appointment.can_change_online:
        messages.info(request, too_late_message(appointment))
        return redirect(reverse("appointments:manage", args=[token]))
    if request.method == "POST":
        try:
            cancelled = cancel_appointment(appointment)
        except BookingError as error:
            messages.error(request, error.message)
            cancelled = False
        if cancelled:
            messages.success(
                request, gettext("Your session is cancelled. Thank you for letting us know.")
            )
        return redirect(reverse("appointments:manage", args=[token]))
    return render(request, "appointments/cancel.html", {"appointment": appointment})


@lookup_limit
@booking_limit
@require_http_methods(["GET", "POST"])
def reschedule(request: HttpRequest, token: str) -> HttpResponse:
    """Pick another open time for the same topic and length, keeping the booking and its link."""
    appointment, refused = _from_link(request, token)
    if refused:
        return refused
    manage_url = reverse("appointments:manage", args=[token])
    if not appointment.is_cancellable:
        messages.info(request, gettext("This session can no longer be changed online."))
        return redirect(manage_url)
    if not appointment.can_change_online:
        messages.info(request, too_late_message(appointment))
        return redirect(manage_url)
    topic = appointment.topic
    context = without_current_time(
        time_choices(request, topic, appointment.minutes, ignoring=appointment), appointment
    )
    if request.method == "POST":
        form = _time_form(context, request.POST)
        if form.is_valid():
            branch_id, staff_id, start = form.chosen()
            try:
                reschedule_appointment(
                    appointment,
                    branch=get_object_or_404(Branch, pk=branch_id),
                    starts_at=start,
                    staff=StaffProfile.objects.filter(pk=staff_id or 0).first(),
                )
            except BookingError as error:
                form.add_error("slot", error.message)
            else:
                messages.success(
                    request, gettext("Your session has a new time. We have let you know.")
                )
                return redirect(manage_url)
        form.options = _time_form(context).options
    else:
        form = _time_form(context)
    context.update(topic=topic, form=form, appointment=appointment, token=token)
    return render(request, "appointments/reschedule.html", context)


@lookup_limit
@booking_limit
@require_http_methods(["GET", "POST"])
def feedback(request: HttpRequest, token: str) -> HttpResponse:
    """The follow-up's two questions. Answered once; the link then only says thank you."""
    try:
        appointment = appointment_from_feedback_token(token)
    except LinkError as error:
        response = render(request, "appointments/link_error.html", {"message": error.message})
        response.status_code = 404
        return response
    # The patron's record may be gone by now (forgotten); the session keeps its language.
    speak_patrons_language(request, appointment.language)
    if Feedback.objects.filter(appointment=appointment).exists():
        return render(request, "appointments/feedback_done.html", {"already": True})
    form = FeedbackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _, created = Feedback.objects.get_or_create(
            appointment=appointment, defaults=form.cleaned_data
        )
        return render(request, "appointments/feedback_done.html", {"already": not created})
    return render(request, "appointments/feedback.html", {"form": form, "appointment": appointment})


def privacy(request: HttpRequest) -> HttpResponse:
    """The privacy promise in plain words; the periods come from the settings the code uses."""
    return render(
        request,
        "privacy.html",
        {
            "patron_days": settings.PATRON_DATA_RETENTION_DAYS,
            "message_days": settings.MESSAGE_RETENTION_DAYS,
            "feedback_days": settings.FEEDBACK_COMMENT_RETENTION_DAYS,
            "access_days": settings.ACCESS_LOG_RETENTION_DAYS,
            "link_days": settings.PATRON_LINK_DAYS_AFTER,
            "backup_days": settings.BACKUP_RETENTION_DAYS,
            "draft_minutes": booking_draft.KEPT_MINUTES,
        },
    )


@lookup_limit
def my_data(request: HttpRequest, token: str) -> HttpResponse:
    """Everything held about the patron behind this link."""
    appointment, refused = _from_link(request, token)
    if refused:
        return refused
    patron = appointment.patron
    context = {
        "patron": patron,
        "token": token,
        "appointments": patron.appointments.select_related(
            "topic", "branch", "staff"
        ).with_topic_texts(),
        "messages_sent": patron.messages.order_by("-created_at"),
    }
    return render(request, "appointments/my_data.html", context)


@lookup_limit
@require_http_methods(["GET", "POST"])
def forget_me(request: HttpRequest, token: str) -> HttpResponse:
    appointment, refused = _from_link(request, token)
    if refused:
        return refused
    if request.method == "POST":
        try:
            forget_patron(appointment.patron)
        except BookingError as error:
            messages.error(request, error.message)
        else:
            return render(request, "appointments/forgotten.html")
    return render(
        request, "appointments/forget_me.html", {"patron": appointment.patron, "token": token}
    )


@sensitive_post_parameters()
@booking_limit
@require_http_methods(["GET", "POST"])
def join_waitlist(request: HttpRequest, slug: str) -> HttpResponse:
    """No time suits: wait for one. The need was told in the first step."""
    topic = _active_topic(slug)
    draft = booking_draft.current(request.session, topic.slug)
    if draft.need is None:
        return _ask_need_first(request, topic, draft)
    offered = times_of_day_offered(topic, draft.need["length"])
    where = WaitlistForm(request.POST or None, times_of_day=offered)
    # The name and contact details typed before a time was taken are offered again here.
    who = PatronForm(request.POST or None, initial=draft.details)
    if request.method == "POST" and where.is_valid() and who.is_valid():
        need = draft.need
        with transaction.atomic():
            patron = who.save(commit=False)
            # Their place and offers are confirmed in the language of this page.
            patron.language = active_language()
            patron.save()
            entry = WaitlistEntry.objects.create(
                topic=topic,
                branch=where.cleaned_data["branch"],
                weekdays=sorted(where.cleaned_data["weekdays"]),
                time_of_day=where.cleaned_data["time_of_day"],
                patron=patron,
                skill_level=need["skill_level"],
                learning_goal=need["learning_goal"],
                party_size=need["party_size"],
                length=need["length"],
            )
            messaging.save_new([joined_message(entry)])
        booking_draft.forget(request.session, topic.slug)
        context = {"topic": topic, "patron": patron, "wishes": describe_wishes(entry)}
        return render(request, "appointments/waitlist_joined.html", context)
    context = {
        "topic": topic,
        "where": where,
        "form": who,
        "details_kept": draft.details is not None and request.method == "GET",
    }
    return render(request, "appointments/waitlist.html", context)


@lookup_limit
@booking_limit
@require_http_methods(["GET", "POST"])
def waitlist_offer(request: HttpRequest, token: str) -> HttpResponse:
    """The link in an offer: book the held time, or let the next person have it."""
    entry = entry_from_token(token)
    if entry is not None:
        speak_patrons_language(request, entry.patron.language)
    live = (
        entry is not None
        and entry.state == WaitlistState.OFFERED
        and entry.offer_expires_at > timezone.now()
    )
    if not live:
        return render(request, "appointments/waitlist_gone.html", status=410 if entry else 404)
    if request.method == "POST" and request.POST.get("answer") == "no":
        declined = WaitlistEntry.objects.filter(pk=entry.pk, state=WaitlistState.OFFERED)
        schedule_changes.offers_changed(declined)
        declined.update(state=WaitlistState.WAITING, offer_expires_at=None)
        return render(request, "appointments/waitlist_declined.html")
    if request.method == "POST":
        try:
            appointment = book_held_time(
                entry,
                patron=entry.patron,
                topic=entry.topic,
                branch=entry.offer_branch,
                starts_at=entry.offer_starts_at,
                length=entry.length,
                skill_level=entry.skill_level,
                learning_goal=entry.learning_goal,
                party_size=entry.party_size,
                staff=entry.offer_staff,
            )
        except BookingError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, gettext("You're booked. We look forward to seeing you."))
            return redirect(private_path(appointment))
    return render(request, "appointments/waitlist_offer.html", {"entry": entry})


def _place_from_link(request: HttpRequest, token: str):
    entry = entry_from_place_token(token)
    if entry is None:
        message = gettext(
            "This link does not work: it may be damaged, or you are no longer on the waiting "
            "list. Please call us at %(phone)s."
        ) % {"phone": settings.LIBRARY_PHONE}
        response = render(request, "appointments/link_error.html", {"message": message})
        response.status_code = 404
        return None, response
    speak_patrons_language(request, entry.patron.language)
    return entry, None


@lookup_limit
@booking_limit
@require_http_methods(["GET", "POST"])
def waitlist_place(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the waiting-list confirmation: change the days and time of day."""
    entry, refused = _place_from_link(request, token)
    if refused:
        return refused
    initial = {"branch": entry.branch, "weekdays": entry.weekdays, "time_of_day": entry.time_of_day}
    # The time of day already chosen stays a choice, even if nobody works then any more.
    offered = [*times_of_day_offered(entry.topic, entry.length), entry.time_of_day]
    form = WaitlistForm(request.POST or None, initial=initial, times_of_day=offered)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if change_wishes(
            entry,
            branch=data["branch"],
            weekdays=data["weekdays"],
            time_of_day=data["time_of_day"],
        ):
            messages.success(request, gettext("Thank you: we have changed when you could come."))
        return redirect("appointments:waitlist_place", token=token)
    context = {"entry": entry, "form": form, "token": token, "wishes": describe_wishes(entry)}
    return render(request, "appointments/waitlist_place.html", context)


@lookup_limit
@booking_limit
@require_http_methods(["GET", "POST"])
def waitlist_leave(request: HttpRequest, token: str) -> HttpResponse:
    """Leave the waiting list, after one confirming click."""
    entry, refused = _place_from_link(request, token)
    if refused:
        return refused
    if request.method == "POST":
        try:
            with busy_means_try_again():
                leave(entry)
        except BookingError as error:
            messages.error(request, error.message)
        else:
            return render(request, "appointments/waitlist_left.html", {"topic": entry.topic})
    return render(request, "appointments/waitlist_leave.html", {"entry": entry, "token": token})
