"""What the people of the load test do: the kinds of request, how often each comes, and what a
person reads off a list to go on. Shared by the locust users (bench/locustfile.py) and by
bench.requests, which measures each kind in process."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PASSWORD = "correct horse battery staple"
USER_AGENT = "tasklane-load"  # one per session: a session is tied to the browser it logged in with
HTMX = {"HX-Request": "true"}
SEARCH_WORDS = ("call", "plan", "buy", "review", "fix", "pay")
FILTERS = ("status=todo", "status=in_progress", "sort=priority", "sort=created", "due=week", "tag=urgent")
# How often each kind of request comes against the others (locust's task weights).
WEIGHTS = {
    "dashboard": 2,
    "list_page": 3,
    "list_fragment": 2,
    "filter_list": 3,
    "search": 2,
    "load_more": 2,
    "create": 1,
    "complete": 1,
}
WRITES = ("create", "complete")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOGGLE = re.compile(r'formaction="(/tasks/\d+/toggle)[^"]*"')
NEXT_PAGE = re.compile(r'<li class="load-more">\s*<a class="button secondary" href="([^"]+)"')


def account_email(number: int) -> str:
    """The seeded account a person of the load test logs in to (bench.seeding names it)."""
    return f"load{number}0@bench.example"


def new_task_title(word: str, number: int) -> str:
    return f"{word} the load test #{number}"


@dataclass
class ListSeen:
    """What a person has read off the pages so far: the form token, the open tasks' complete
    buttons and the next page's link."""

    csrf_token: str = ""
    open_tasks: list[str] = field(default_factory=list)
    next_page: str | None = None

    def read(self, html: str) -> None:
        if found := CSRF.search(html):
            self.csrf_token = found.group(1)

    def read_list(self, html: str) -> None:
        self.read(html)
        self.open_tasks = TOGGLE.findall(html) or self.open_tasks
        found = NEXT_PAGE.search(html)
        self.next_page = found.group(1).replace("&amp;", "&") if found else None
