"""Quick add: one line read as a title and the task's due date and time (in the user's zone),
project (`#name`), tags (`@name`) and priority (`p1`, the most urgent, to `p4`).

Which words are a date is decided here, by a small grammar of the phrases people type ("tomorrow
9am", "next friday", "in 3 days", "dec 24 18:00"); what that phrase means, from the user's local
now, is dateparser's. A word written with a backslash before it (`\\tomorrow`) is kept as title
text, without the backslash: the preview's "keep as text" puts it there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import dateparser

from ..models import Priority
from ..timezones import END_OF_DAY, FIRST_DAY, LAST_DAY, local_to_utc, to_local

ESCAPE = "\\"
PRIORITIES = {"p1": Priority.URGENT, "p2": Priority.HIGH, "p3": Priority.NORMAL, "p4": Priority.LOW}
LONGEST_DATE_PHRASE = 6  # words

_TIME = r"(?:\d{1,2}(?::[0-5]\d)?\s?(?:am|pm)|[01]?\d:[0-5]\d|2[0-3]:[0-5]\d|noon|midnight)"
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
# "sun", "sat" or "wed" alone is more often a word of the title than a day: abbreviations count
# only after "on", "next" or "this", or before a time.
_WEEKDAY_SHORT = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY_OF_MONTH = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_MONTH_DAY = rf"(?:{_MONTH}\.?\s{_DAY_OF_MONTH}|{_DAY_OF_MONTH}\s(?:of\s)?{_MONTH})(?:,?\s\d{{4}})?"
_NUMBER = r"(?:\d{1,4}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"
_SHORT_SPAN = r"(?:minutes?|mins?|hours?|hrs?)"
_LONG_SPAN = r"(?:days?|weeks?|months?|years?)"
_DAY = (
    rf"(?:today|tonight|tomorrow|tmrw?|{_WEEKDAY}|(?:on|next|this)\s(?:{_WEEKDAY}|{_WEEKDAY_SHORT})"
    rf"|next\s(?:week|month|year)|{_MONTH_DAY}|\d{{4}}-\d{{2}}-\d{{2}})"
)
_AT = rf"(?:at\s)?{_TIME}"
DATE_PHRASE = re.compile(
    rf"(?:(?:due|by|on)\s)?"
    rf"(?:{_DAY}(?:\s{_AT})?|{_WEEKDAY_SHORT}\s{_AT}|(?:at\s)?{_TIME}(?:\s{_DAY})?"
    rf"|in\s{_NUMBER}\s(?:{_SHORT_SPAN}|{_LONG_SPAN}))"
)
_HAS_TIME = re.compile(rf"{_TIME}|tonight|{_SHORT_SPAN}$")
_TIME_ONLY = re.compile(rf"(?:at\s)?{_TIME}")
_CONNECTOR = re.compile(r"^(?:due|by|on|at)\s")
_TAG = re.compile(r"@([\w\-/.]{1,40})")
_PROJECT = re.compile(r"#([\w\-]{1,80})")


@dataclass(frozen=True)
class Part:
    """A recognised stretch of the line: what it sets, and where it is (for "keep as text")."""

    kind: str  # "due", "project", "tag" or "priority"
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class QuickAdd:
    title: str
    due_at: datetime | None = None  # UTC
    due_all_day: bool = False
    project: str | None = None  # the name of one of the user's projects
    tags: tuple[str, ...] = ()
    priority: Priority | None = None
    parts: tuple[Part, ...] = field(default=())


@dataclass(frozen=True)
class _Word:
    text: str
    start: int
    end: int

    @property
    def escaped(self) -> bool:
        return self.text.startswith(ESCAPE)


def read_line(line: str, tz_name: str, now: datetime, project_names: Iterable[str] = ()) -> QuickAdd:
    """What `line` asks for, read in `tz_name` at `now` (aware). `#name` counts only when it names
    one of `project_names` (case and `-`/`_` for spaces aside); anything not understood stays in
    the title."""
    words = [_Word(match.group(), match.start(), match.end()) for match in re.finditer(r"\S+", line)]
    projects = {_project_key(name): name for name in project_names}
    parts: list[Part] = []
    taken: set[int] = set()
    found = _Found()
    for index, word in enumerate(words):
        part = found.marker(word, projects)
        if part:
            parts.append(part)
            taken.add(index)
    due = _find_due(words, taken, tz_name, now)
    if due:
        span, due_at, all_day = due
        taken.update(span)
        start, end = words[span[0]].start, words[span[-1]].end
        parts.append(Part("due", line[start:end], start, end))
    else:
        due_at, all_day = None, False
    title = " ".join(_unescaped(word.text) for index, word in enumerate(words) if index not in taken)
    return QuickAdd(
        title=title,
        due_at=due_at,
        due_all_day=all_day,
        project=found.project,
        tags=tuple(found.tags),
        priority=found.priority,
        parts=tuple(sorted(parts, key=lambda part: part.start)),
    )


class _Found:
    """The first project, the first priority and every tag marked in the line."""

    def __init__(self) -> None:
        self.project: str | None = None
        self.priority: Priority | None = None
        self.tags: list[str] = []

    def marker(self, word: _Word, projects: dict[str, str]) -> Part | None:
        text = word.text.lower()
        if self.priority is None and text in PRIORITIES:
            self.priority = PRIORITIES[text]
            return Part("priority", word.text, word.start, word.end)
        if tag := _TAG.fullmatch(word.text):
            name = tag.group(1).lower()
            if name not in self.tags:
                self.tags.append(name)
            return Part("tag", word.text, word.start, word.end)
        project = _PROJECT.fullmatch(word.text)
        if self.project is None and project and _project_key(project.group(1)) in projects:
            self.project = projects[_project_key(project.group(1))]
            return Part("project", word.text, word.start, word.end)
        return None


def _project_key(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name).strip().casefold()


def _unescaped(text: str) -> str:
    return text[len(ESCAPE) :] if text.startswith(ESCAPE) else text


def _find_due(
    words: list[_Word], taken: set[int], tz_name: str, now: datetime
) -> tuple[list[int], datetime, bool] | None:
    """The leftmost, longest run of free words that is a date phrase with a meaning."""
    for first in range(len(words)):
        for last in range(min(len(words), first + LONGEST_DATE_PHRASE) - 1, first - 1, -1):
            span = list(range(first, last + 1))
            if any(index in taken or words[index].escaped for index in span):
                continue
            phrase = " ".join(words[index].text for index in span).lower().rstrip(",.;")
            if not DATE_PHRASE.fullmatch(phrase):
                continue
            meaning = _when(phrase, tz_name, now)
            if meaning:
                return span, *meaning
    return None


def _when(phrase: str, tz_name: str, now: datetime) -> tuple[datetime, bool] | None:
    """(due_at in UTC, all day?) for a date phrase, or None when it names no real day (feb 30)."""
    local_now = to_local(now, tz_name).replace(tzinfo=None)
    phrase = _CONNECTOR.sub("", phrase)
    if re.fullmatch(rf"in\s{_NUMBER}\s{_SHORT_SPAN}", phrase):
        # An interval of the clock, not of the calendar: across a DST change "in 2 hours" is
        # still two hours from now.
        parsed = _parse(phrase, now.replace(tzinfo=None))
        return (parsed.replace(tzinfo=now.tzinfo), False) if parsed else None
    if phrase == "next week":
        return _day(local_now.date() + timedelta(days=7 - local_now.weekday()), tz_name), True
    parsed = _parse(phrase, local_now)
    if parsed is None or not FIRST_DAY <= parsed.date() <= LAST_DAY:
        return None
    if not _HAS_TIME.search(phrase):
        return _day(parsed.date(), tz_name), True
    if _TIME_ONLY.fullmatch(phrase) and parsed <= local_now:
        parsed += timedelta(days=1)  # "5pm" said at 6pm means tomorrow's
    return local_to_utc(parsed.date(), parsed.time().replace(second=0, microsecond=0), tz_name), False


def _day(day: date, tz_name: str) -> datetime:
    return local_to_utc(day, END_OF_DAY, tz_name)


def _parse(phrase: str, base: datetime) -> datetime | None:
    settings = {"PREFER_DATES_FROM": "future", "RELATIVE_BASE": base, "RETURN_AS_TIMEZONE_AWARE": False}
    try:
        return dateparser.parse(phrase, languages=["en"], settings=settings)
    except (OverflowError, ValueError):  # "in 9999 years"
        return None


def keep_as_text(line: str, part: Part) -> str:
    """`line` with every word of `part` escaped, so that it stays title text."""
    words = re.sub(r"\S+", lambda match: ESCAPE + match.group(), line[part.start : part.end])
    return line[: part.start] + words + line[part.end :]
