"""Booking forms. Each error message is in plain words and attached to its field."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django import forms
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from patrons.forms import NOT_ONE_OF_THE_ANSWERS, paste_friendly, plain_errors

from .formatting import format_day, format_minutes, format_time
from .models import HELPFUL_ANSWERS, Branch, Channel, SkillLevel, StaffProfile, TimeOfDay, Topic
from .slots import Slot

PARTY_CHOICES = [(1, _("Just me")), (2, _("2 people")), (3, _("3 people"))]

# The answers to "How confident do you feel with this?" in the patron's own words (the same
# levels as SkillLevel, which names them for staff).
PATRON_SKILL_CHOICES = [
    (SkillLevel.NEW, pgettext_lazy("patron's answer", "New to this")),
    (SkillLevel.SOME, pgettext_lazy("patron's answer", "Some experience")),
    (SkillLevel.CONFIDENT, pgettext_lazy("patron's answer", "Confident")),
]


USUAL_LENGTH = 60


def usual_length(lengths: list[int]) -> int:
    """The length chosen for the patron until they choose another: an hour where offered (most
    help takes that long), else the offered length nearest to it."""
    return min(lengths, key=lambda n: (abs(n - USUAL_LENGTH), -n))


class NeedForm(forms.Form):
    """What the patron wants help with and how confident they are: staff read it to prepare."""

    skill_level = forms.ChoiceField(
        label=_("How confident do you feel with this?"),
        choices=PATRON_SKILL_CHOICES,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please choose how confident you feel."),
            "invalid_choice": NOT_ONE_OF_THE_ANSWERS,
        },
    )
    learning_goal = forms.CharField(
        label=_("What would you like to learn or do?"),
        help_text=_(
            "A sentence or two is plenty (at most 1,000 characters). "
            "It helps the staff member prepare for you."
        ),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages=plain_errors(required=_("Please tell us what you would like help with.")),
    )
    party_size = forms.TypedChoiceField(
        label=_("How many people are coming?"),
        choices=PARTY_CHOICES,
        coerce=int,
        initial=1,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please say how many people are coming."),
            "invalid_choice": NOT_ONE_OF_THE_ANSWERS,
        },
    )
    length = forms.TypedChoiceField(
        label=_("How long a session?"),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please choose how long a session you need."),
            "invalid_choice": _("Please choose one of the session lengths offered."),
        },
    )

    def __init__(self, *args, topic: Topic, **kwargs):
        super().__init__(*args, **kwargs)
        self.topic = topic
        paste_friendly(self.fields["learning_goal"])
        lengths = topic.session_lengths
        self.fields["length"].choices = [(n, format_minutes(n)) for n in lengths]
        if len(lengths) == 1:
            # Nothing to choose: the one length is used, whatever a request may say.
            del self.fields["length"]
            return
        usual = usual_length(lengths)
        self.fields["length"].initial = usual
        shortest = min(lengths)
        if shortest < usual:
            self.fields["length"].help_text = gettext(
                "Most people choose %(usual)d minutes; "
                "choose %(shortest)d minutes for one quick question."
            ) % {"usual": usual, "shortest": shortest}
        else:
            self.fields["length"].help_text = gettext("Most people choose %(usual)d minutes.") % {
                "usual": usual
            }

    def clean(self):
        data = super().clean()
        if "length" not in self.fields:
            data["length"] = getattr(self, "length", None) or self.topic.session_lengths[0]
        return data

    def clean_learning_goal(self):
        goal = self.cleaned_data["learning_goal"].strip()
        if not goal:
            raise forms.ValidationError(gettext("Please tell us what you would like help with."))
        return goal


class QuickSelect(forms.Select):
    """The same <select> as Django's, written in Python: Django renders each option through its
    own template, which was the time page's largest rendering cost after the time buttons."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        chosen = {str(v) for v in self.format_value(value)}
        options = "".join(
            f'<option value="{escape(str(key))}"{" selected" if str(key) in chosen else ""}>'
            f"{escape(str(label))}</option>"
            for key, label in self.choices
        )
        attrs = flatatt({**self.build_attrs(self.attrs, attrs), "name": name})
        return mark_safe(f"<select{attrs}>\n{options}\n</select>")


class QuickHiddenInput(forms.HiddenInput):
    """Django's hidden input, written in Python (see QuickSelect)."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        attrs = {"type": "hidden", "name": name, **self.build_attrs(self.attrs, attrs)}
        if (value := self.format_value(value)) is not None:
            attrs["value"] = value
        return mark_safe(f"<input{flatatt(attrs)}>")


class LoadedChoiceField(forms.ChoiceField):
    """A choice of one of some model instances loaded beforehand (perhaps from the cache), so
    that checking and showing the choice cost no queries. Cleans to the instance."""

    def __init__(self, *, empty_label: str, **kwargs):
        super().__init__(**kwargs)
        self.empty_label = empty_label
        self.objects: dict[str, object] = {}

    def load(self, objects) -> None:
        self.objects = {str(obj.pk): obj for obj in objects}
        self.choices = [("", self.empty_label), *((pk, str(o)) for pk, o in self.objects.items())]

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        if value not in self.objects:
            message = self.error_messages["invalid_choice"]
            raise forms.ValidationError(message, code="invalid_choice", params={"value": value})
        return self.objects[value]

    def validate(self, value) -> None:
        forms.Field.validate(self, value)


class TimeFilterForm(forms.Form):
    """Narrow the times shown: a branch, a staff member, a week. Submitted by GET.

    The choices are the topic's bookable staff and their branches: `choices` (a
    `open_times.FilterChoices`, from the cache) or else loaded here."""

    branch = LoadedChoiceField(
        required=False,
        label=pgettext_lazy("patron form", "Branch"),
        empty_label=_("Any library"),
        widget=QuickSelect(attrs={"class": "form-select"}),
    )
    staff = LoadedChoiceField(
        label=pgettext_lazy("patron form", "Staff member"),
        required=False,
        empty_label=_("Any available staff member"),
        widget=QuickSelect(attrs={"class": "form-select"}),
    )
    week = forms.DateField(required=False, widget=QuickHiddenInput)

    def __init__(self, *args, topic: Topic, choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        if choices is None:
            from .open_times import load_filter_choices

            choices = load_filter_choices(topic)
        self.fields["staff"].load(choices.staff)
        self.fields["branch"].load(choices.branches)
        self.branch_count = len(choices.branches)
        if self.branch_count == 1:
            self.fields["branch"].widget = QuickHiddenInput()

    def filters(self) -> dict:
        if not self.is_valid():
            return {"branch": None, "staff": None, "week": None}
        return self.cleaned_data


def slot_value(slot: Slot, *, any_staff: bool) -> str:
    staff = 0 if any_staff else slot.staff_id
    return f"{slot.branch_id}-{staff}-{int(slot.start.timestamp())}"


def parse_slot_value(value: str) -> tuple[int, int | None, datetime] | None:
    try:
        branch, staff, epoch = (int(part) for part in value.split("-"))
        start = datetime.fromtimestamp(epoch, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return branch, (staff or None), start


class OfferedTimeField(forms.ChoiceField):
    """One of the week's offered times, checked against their values alone: a week can offer a
    hundred, and Django's choices would copy and normalise each one's words on every page."""

    offered: frozenset[str] = frozenset()

    def valid_value(self, value) -> bool:
        return value in self.offered


class TimeChoiceForm(forms.Form):
    """One open time out of those offered. Rendered as radio buttons grouped by day."""

    slot = OfferedTimeField(
        label=_("Choose a time"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please choose a time."),
            "invalid_choice": _("That time was just taken. Please choose another time."),
        },
    )

    def __init__(
        self, *args, slots, branches, staff_names, any_staff: bool, show_branch=False, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.any_staff = any_staff
        # With "any library" chosen, say where each time is, even if this week has only one.
        self.show_branch = show_branch
        self.branches = branches
        self.staff_names = staff_names
        # (branch id, start) -> whose held time it is: the desk booking for the holder.
        self.held: dict[tuple[int, datetime], str] = {}
        self._days = None
        self._wording = None
        self.options = []
        seen = set()
        for slot in slots:
            value = slot_value(slot, any_staff=any_staff)
            if value in seen:
                continue
            seen.add(value)
            self.options.append((value, slot))
        self.fields["slot"].offered = frozenset(seen)

    def local(self, slot: Slot) -> datetime:
        return slot.start.astimezone(self.branches[slot.branch_id].tz)

    @property
    def held(self) -> dict[tuple[int, datetime], str]:
        return self._held

    @held.setter
    def held(self, held: dict[tuple[int, datetime], str]) -> None:
        self._held = held
        self._labels: dict[Slot, str] = {}  # a held time's label says whose it is

    def label_for(self, slot: Slot) -> str:
        """The words of a time's button, worked out once (a week can offer a hundred)."""
        if (label := self._labels.get(slot)) is None:
            label = self._labels[slot] = self._label(slot)
        return label

    def _label(self, slot: Slot) -> str:
        if self._wording is None:  # looked up once per page, not once per time
            self._wording = (
                gettext("%(time)s with %(staff)s"),
                gettext("%(time)s at %(branch)s"),
                gettext("%(time)s (held for %(name)s)"),
            )
        with_staff, at_branch, held_for = self._wording
        label = format_time(self.local(slot))
        if not self.any_staff:
            label = with_staff % {"time": label, "staff": self.staff_names[slot.staff_id]}
        if self.show_branch or len(self.branches) > 1:
            label = at_branch % {"time": label, "branch": self.branches[slot.branch_id].name}
        if (slot.branch_id, slot.start) in self.held:
            label = held_for % {"time": label, "name": self.held[slot.branch_id, slot.start]}
        return label

    def days(self) -> list[tuple[date, str, list[tuple[str, str]]]]:
        """The offered times grouped by local day: (day, "Tuesday 3 March", [(value, label)]).

        Worked out once per list of options (a page asks more than once)."""
        if self._days is not None and self._days[0] is self.options:
            return self._days[1]
        groups: dict[date, list[tuple[str, str]]] = {}
        for value, slot in self.options:
            groups.setdefault(self.local(slot).date(), []).append((value, self.label_for(slot)))
        days = [(day, format_day(day), items) for day, items in sorted(groups.items())]
        self._days = (self.options, days)
        return days

    def chosen(self) -> tuple[int, int | None, datetime]:
        return parse_slot_value(self.cleaned_data["slot"])


UNKNOWN_TIME = _("We could not find the time you chose. Please choose a time again.")
PAST_TIME = _("That time has passed. Please choose another time.")


class ChosenTimeForm(forms.Form):
    """The time shown on the details page, carried with the page (not kept in the session) so
    that each browser tab books the time it shows.

    Only the value's shape, the branch and staff member it names, and that the time is still
    ahead (a tab left open for days) are checked here: whether the time is still open is for
    `book_appointment` to say when the booking is made.
    """

    # A plain field: every way a value can be wrong gets the one message below.
    slot = forms.Field(widget=forms.HiddenInput, error_messages={"required": UNKNOWN_TIME})

    def clean_slot(self) -> tuple[Branch, StaffProfile | None, datetime]:
        value = self.cleaned_data["slot"]
        parsed = parse_slot_value(value) if len(value) <= 64 else None
        if parsed is None:
            raise forms.ValidationError(UNKNOWN_TIME)
        branch_id, staff_id, start = parsed
        branch = Branch.objects.filter(pk=branch_id).first()
        staff = StaffProfile.objects.filter(pk=staff_id).first() if staff_id else None
        if branch is None or (staff_id and staff is None):
            raise forms.ValidationError(UNKNOWN_TIME)
        if start <= timezone.now():
            raise forms.ValidationError(PAST_TIME)
        return branch, staff, start

    def error_message(self) -> str:
        return str(self.errors["slot"][0])


class DeskBookingForm(NeedForm):
    """The desk's extra questions when booking for a patron."""

    channel = forms.ChoiceField(
        label=_("How did the patron ask?"),
        choices=[(Channel.DESK, _("In person at the desk")), (Channel.PHONE, _("By phone"))],
        widget=forms.RadioSelect,
        initial=Channel.DESK,
        error_messages={"required": _("Please say whether the patron came in or phoned.")},
    )
    limit_override_reason = forms.CharField(
        label=_("Reason for booking past the limit"),
        required=False,
        max_length=200,
        help_text=_(
            "Only needed when a limit applies (upcoming sessions, or sessions in a day or "
            "week): you will be told."
        ),
    )

    def __init__(self, *args, topic: Topic, over_limit: bool, length: int, **kwargs):
        super().__init__(*args, topic=topic, **kwargs)
        # The length was chosen above the time picker, so the times shown fit it; the advice
        # the patron gets online ("Most people choose 60 minutes") goes beside that menu.
        chosen = self.fields.pop("length", None)
        self.length_advice = chosen.help_text if chosen else ""
        self.length = length
        self.over_limit = over_limit
        self.fields["skill_level"].label = gettext("How confident is the patron with this?")
        self.fields["skill_level"].choices = SkillLevel.choices
        self.fields["skill_level"].error_messages["required"] = gettext(
            "Please choose how confident the patron feels."
        )
        self.fields["learning_goal"].error_messages["required"] = gettext(
            "Please note what the patron would like help with."
        )
        self.fields["learning_goal"].label = gettext("What does the patron want to learn or do?")
        self.fields["learning_goal"].help_text = gettext("In the patron's own words, if you can.")
        self.fields["party_size"].label = gettext("How many people are coming?")
        self.fields["party_size"].choices = [
            (1, gettext("1 person")),
            (2, gettext("2 people")),
            (3, gettext("3 people")),
        ]

    def clean_limit_override_reason(self):
        reason = self.cleaned_data["limit_override_reason"].strip()
        if self.over_limit and not reason:
            raise forms.ValidationError(
                gettext(
                    "This patron is at the limit of upcoming sessions. Say why you are booking "
                    "another, or choose not to book."
                )
            )
        return reason


class MoveForm(forms.Form):
    """Staff moving a session: the reason is only needed when the new time goes past a limit."""

    limit_override_reason = forms.CharField(
        label=_("Reason for going past the patron's limits"),
        required=False,
        max_length=200,
        help_text=_(
            "Only needed when the new time breaks a limit (sessions in a day or week): "
            "you will be told."
        ),
    )


class CancelForm(forms.Form):
    who = forms.ChoiceField(
        label=_("Who asked to cancel?"),
        choices=[
            ("patron", _("The patron asked (they rang, wrote or came in)")),
            ("library", _("The library cannot hold it (we will offer another time)")),
        ],
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Say who asked to cancel: it changes what the patron is told.")
        },
    )


class PatronSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Find a patron"),
        help_text=_("Name, phone number, email address or library card number."),
        max_length=100,
        required=False,
    )


class FeedbackForm(forms.Form):
    helpful = forms.TypedChoiceField(
        label=_("Did the session help?"),
        choices=list(HELPFUL_ANSWERS.items()),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please choose a number from 1 to 5."),
            "invalid_choice": _("Please choose a number from 1 to 5."),
        },
    )
    comment = forms.CharField(
        label=_("Anything else you would like to tell us? (optional)"),
        help_text=_("At most 1,000 characters."),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages=plain_errors(),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        paste_friendly(self.fields["comment"])


# The parts of the day as patrons choose them (the same as TimeOfDay, in the page's language).
PATRON_TIMES_OF_DAY = [
    (TimeOfDay.ANY, pgettext_lazy("patron's answer", "Any time of day")),
    (TimeOfDay.MORNING, pgettext_lazy("patron's answer", "Mornings (before noon)")),
    (TimeOfDay.AFTERNOON, pgettext_lazy("patron's answer", "Afternoons (noon to 5 pm)")),
    (TimeOfDay.EVENING, pgettext_lazy("patron's answer", "Evenings (from 5 pm)")),
]


class WaitlistForm(forms.Form):
    """Where and when a waiting patron could come. All optional: any library, any day, any
    time of day."""

    branch = forms.ModelChoiceField(
        label=_("Which library? (optional)"),
        queryset=Branch.objects.all(),
        required=False,
        empty_label=_("Any library"),
        error_messages={"invalid_choice": NOT_ONE_OF_THE_ANSWERS},
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Which days suit you? (optional: leave empty for any day)"),
        # Django's own translations of the day names ("lunes" in Spanish).
        choices=list(WEEKDAYS.items()),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": NOT_ONE_OF_THE_ANSWERS,
            "invalid_list": NOT_ONE_OF_THE_ANSWERS,
        },
    )
    time_of_day = forms.ChoiceField(
        label=_("Which time of day suits you?"),
        choices=PATRON_TIMES_OF_DAY,
        required=False,
        initial=TimeOfDay.ANY,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Please choose a time of day from the list.")},
    )

    def __init__(self, *args, times_of_day: list[str], **kwargs):
        """`times_of_day`: the parts of the day someone works (waitlist.times_of_day_offered),
        besides "any time of day"."""
        super().__init__(*args, **kwargs)
        self.fields["time_of_day"].choices = [
            (value, label)
            for value, label in PATRON_TIMES_OF_DAY
            if value == TimeOfDay.ANY or value in times_of_day
        ]
