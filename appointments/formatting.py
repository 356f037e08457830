"""Dates and times in the words patrons use, in the language active at the time of the call.

English: "Tuesday 3 March, 2:30 pm", with "noon" and "midnight". Every other language: the day
in its own words from the catalogue ("martes 3 de marzo"), and the time on the clock Django's
own formats give that language ("14:30" in Spanish). Nothing reads the server's OS locale.

Pages follow the patron's chosen language (LocaleMiddleware); a message rendered for a patron
must run inside `translation.override(<their language>)` to be written in it.
"""

from datetime import date, datetime, timedelta

from django.utils import formats, translation
from django.utils.dates import MONTHS, WEEKDAYS
from django.utils.text import get_text_list
from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy

FIRST_TIME = pgettext_lazy("clock", "first time, before clocks go back")
SECOND_TIME = pgettext_lazy("clock", "second time, after clocks go back")


def format_time(moment: datetime) -> str:
    """ "2:30 pm", "10 am"; "noon" and "midnight" rather than "12 pm" and "12 am" (in Spanish
    "14:30", "10:00").

    On the night clocks go back the clock shows 1:30 am twice; a local time given with its time
    zone says which: "1:30 am (first time, before clocks go back)".
    """
    face = _clock_face(moment)
    if which := _which_showing(moment):
        return pgettext("clock", "%(time)s (%(which)s)") % {"time": face, "which": which}
    return face


def _in_english() -> bool:
    return (translation.get_language() or "en").split("-")[0] == "en"


def _clock_face(moment: datetime) -> str:
    if not _in_english():
        # The language's own clock: a 24-hour "14:30" for Spanish, as Django formats it.
        return formats.time_format(moment)
    if moment.minute == 0 and moment.hour == 12:
        return "noon"
    if moment.minute == 0 and moment.hour == 0:
        return "midnight"
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    if moment.minute:
        return f"{hour}:{moment.minute:02d} {suffix}"
    return f"{hour} {suffix}"


def _which_showing(moment: datetime) -> str:
    """Which of the two times the clock shows this reading, or "" when it shows it once."""
    if moment.tzinfo is None:
        return ""
    other = moment.replace(fold=1 - moment.fold)
    if other.utcoffset() == moment.utcoffset():
        return ""
    return str(SECOND_TIME if moment.fold else FIRST_TIME)


def format_day(moment: date) -> str:
    """ "Tuesday 3 March"; "martes 3 de marzo". The names are Django's own translations."""
    return pgettext("day in words", "%(weekday)s %(day)s %(month)s") % {
        "weekday": WEEKDAYS[moment.weekday()],
        "day": moment.day,
        "month": MONTHS[moment.month],
    }


def format_when(moment: datetime) -> str:
    """ "Tuesday 3 March, 2:30 pm"; "martes 3 de marzo, 14:30"."""
    return pgettext("day and time", "%(day)s, %(time)s") % {
        "day": format_day(moment),
        "time": format_time(moment),
    }


def parse_day(value: str, today: date, *, years: int = 5) -> date:
    """A date from a URL parameter, or today when it is missing, malformed or absurdly far off."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return today
    return day if abs(day - today) <= timedelta(days=366 * years) else today


def format_minutes(n: int) -> str:
    """ "30 minutes", in the page's language."""
    return ngettext("%(n)d minute", "%(n)d minutes", n) % {"n": n}


def format_lengths(lengths: list[int]) -> str:
    """A topic's session lengths: "30 minutes or 60 minutes"."""
    return get_text_list([format_minutes(n) for n in lengths or []], gettext("or"))
