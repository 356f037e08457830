"""Dates and times in the words patrons use: "Tuesday 3 March, 2:30 pm"."""

from datetime import date, datetime, timedelta

FIRST_TIME = "first time, before clocks go back"
SECOND_TIME = "second time, after clocks go back"


def format_time(moment: datetime) -> str:
    """ "2:30 pm", "10 am"; "noon" and "midnight" rather than "12 pm" and "12 am".

    On the night clocks go back the clock shows 1:30 am twice; a local time given with its time
    zone says which: "1:30 am (first time, before clocks go back)".
    """
    return _clock_face(moment) + (f" ({which})" if (which := _which_showing(moment)) else "")


def _clock_face(moment: datetime) -> str:
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
    return SECOND_TIME if moment.fold else FIRST_TIME


def format_day(moment) -> str:
    return f"{moment:%A} {moment.day} {moment:%B}"


def format_when(moment: datetime) -> str:
    return f"{format_day(moment)}, {format_time(moment)}"


def parse_day(value: str, today: date, *, years: int = 5) -> date:
    """A date from a URL parameter, or today when it is missing, malformed or absurdly far off."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return today
    return day if abs(day - today) <= timedelta(days=366 * years) else today
