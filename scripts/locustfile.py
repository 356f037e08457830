"""Simulated patrons for scripts/bench_load.py: they browse open times and book, all at once."""

import random
import re
import uuid

from locust import HttpUser, constant, task

TOPICS = [
    "job-search-and-resumes",
    "computer-basics",
    "email",
    "smartphones-and-tablets",
    "word-and-excel",
]
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SLOT = re.compile(r'name="slot" id="[^"]+" value="([^"]+)"')
WEEK = re.compile(r'href="\?week=([0-9-]+)">Next week')
FIRST_OPEN = re.compile(r'href="\?week=([0-9-]+)">Show the week of')


class Patron(HttpUser):
    """A patron with their own browser session. No think time: this measures capacity."""

    wait_time = constant(0)

    def describe_need(self, topic: str) -> str | None:
        page = self.client.get(f"/book/{topic}/", name="need form")
        token = CSRF.search(page.text)
        if not token:
            return None
        self.client.post(
            f"/book/{topic}/",
            {
                "csrfmiddlewaretoken": token.group(1),
                "skill_level": random.choice(["new", "some", "confident"]),
                "learning_goal": "Help with my résumé and applying online",
                "party_size": 1,
                "length": 60,
            },
            name="need submit",
            allow_redirects=False,
        )
        return token.group(1)

    @task(3)
    def browse(self):
        self.client.get("/", name="home")
        topic = random.choice(TOPICS)
        if self.describe_need(topic) is None:
            return
        page = self.client.get(f"/book/{topic}/time/", name="time page")
        later = WEEK.search(page.text)
        if later:
            self.client.get(f"/book/{topic}/time/?week={later.group(1)}", name="time page")

    @task(1)
    def book(self):
        topic = random.choice(TOPICS)
        if self.describe_need(topic) is None:
            return
        page = self.client.get(f"/book/{topic}/time/", name="time page")
        first_open = FIRST_OPEN.search(page.text)
        if first_open:  # nothing this week: go where the page points
            week = first_open.group(1)
            page = self.client.get(f"/book/{topic}/time/?week={week}", name="time page")
        slots = SLOT.findall(page.text)
        token = CSRF.search(page.text)
        if not slots or not token:
            return
        self.client.post(
            f"/book/{topic}/time/",
            {"csrfmiddlewaretoken": token.group(1), "slot": random.choice(slots[:6])},
            name="time submit",
            allow_redirects=False,
        )
        contact = self.client.get(f"/book/{topic}/contact/", name="contact form")
        token = CSRF.search(contact.text)
        if not token:
            return
        with self.client.post(
            f"/book/{topic}/contact/",
            {
                "csrfmiddlewaretoken": token.group(1),
                "name": "Load Test Patron",
                "email": f"patron-{uuid.uuid4().hex[:12]}@example.org",
                "preferred_contact": "email",
            },
            name="contact submit (book)",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            where = response.headers.get("Location", "")
            if response.status_code == 302 and "/booking/" in where:
                response.success()
            elif response.status_code == 302 and where.endswith("/time/"):
                response.success()  # "That time was just taken": the correct answer
            else:
                response.failure(f"unexpected {response.status_code} {where}")


class Ceiling(HttpUser):
    """The same load on a minimal Django view: the most this server can do."""

    wait_time = constant(0)

    @task
    def ping(self):
        self.client.get("/healthz/live", name="healthz/live (minimal view)")
