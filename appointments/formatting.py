"""Dates and times in the words patrons use: "Tuesday 3 March, 2:30 pm"."""

from datetime import date, datetime, timedelta


def format_time(moment: datetime) -> str:
    """ "2:30 pm", "10 am"; "noon" and "midnight" rather than "12 pm" and "12 am"."""
    if moment.minute == 0 and moment.hour == 12:
        return "noon"
    if moment.minute == 0 and moment.hour == 0:
        return "midnight"
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    if moment.minute:
        return f"{hour}:{moment.minute:02d} {suffix}"
    return f"{hour} {suffix}"


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
