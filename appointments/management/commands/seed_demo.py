"""Demo data: two branches, eight topics, four staff with weekly hours, blocks, a closure,
patrons and upcoming sessions, all relative to today, so a new user sees a living system.

Run again, it does nothing: the demo is loaded once.
"""

from datetime import datetime, time, timedelta

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from appointments.booking import BookingError, book_appointment, find_open_slots
from appointments.models import (
    Appointment,
    Availability,
    Block,
    Branch,
    Closure,
    Message,
    MessageState,
    StaffProfile,
    Status,
    Topic,
    TopicTranslation,
    WaitlistEntry,
    WalkIn,
)
from patrons.models import Patron

PASSWORD = "library-demo"

TOPICS = [
    (
        "Job search and résumés",
        "job-search-and-resumes",
        [60],
        "Write or update a résumé, search for jobs online and fill in applications.",
    ),
    (
        "Computer basics",
        "computer-basics",
        [30, 60],
        "Using a mouse and keyboard, files and folders, and staying safe online.",
    ),
    (
        "Email",
        "email",
        [30, 60],
        "Set up an email account, send and reply to messages, attach photos and documents.",
    ),
    (
        "Smartphones and tablets",
        "smartphones-and-tablets",
        [30, 45, 60],
        "Get to know your phone or tablet: apps, photos, video calls and settings.",
    ),
    (
        "Social media for beginners",
        "social-media-for-beginners",
        [45, 60],
        "Facebook, Instagram and others: setting up, posting and keeping your privacy.",
    ),
    (
        "Word and Excel",
        "word-and-excel",
        [60],
        "Letters, documents and simple spreadsheets with Microsoft Word and Excel.",
    ),
    (
        "Research databases and citations",
        "research-databases-and-citations",
        [45, 60],
        "Find articles in the library's databases and keep track of sources with a "
        "citation manager.",
    ),
    (
        "Self-publishing and ebooks",
        "self-publishing-and-ebooks",
        [60],
        "Turn your writing into an ebook or printed book, and where to publish it.",
    ),
]

# The topics in Spanish, as staff would give them in the admin (the rest fall back to English:
# "Self-publishing and ebooks" is left without, to show it).
TOPICS_IN_SPANISH = {
    "job-search-and-resumes": (
        "Búsqueda de empleo y currículum",
        "Escriba o actualice su currículum, busque empleo por internet y llene solicitudes.",
    ),
    "computer-basics": (
        "Computación básica",
        "El ratón y el teclado, archivos y carpetas, y cómo navegar seguro por internet.",
    ),
    "email": (
        "Correo electrónico",
        "Cree una cuenta de correo, envíe y conteste mensajes, y adjunte fotos y documentos.",
    ),
    "smartphones-and-tablets": (
        "Teléfonos inteligentes y tabletas",
        "Conozca su teléfono o tableta: aplicaciones, fotos, videollamadas y ajustes.",
    ),
    "social-media-for-beginners": (
        "Redes sociales para principiantes",
        "Facebook, Instagram y otras: cómo empezar, publicar y cuidar su privacidad.",
    ),
    "word-and-excel": (
        "Word y Excel",
        "Cartas, documentos y hojas de cálculo sencillas con Microsoft Word y Excel.",
    ),
    "research-databases-and-citations": (
        "Bases de datos y citas",
        "Encuentre artículos en las bases de datos de la biblioteca y organice sus fuentes con "
        "un gestor de citas.",
    ),
}

# username, public name, group, introduction, topic slugs, {branch: [(weekday, start, end)]}
STAFF = [
    (
        "ana",
        "Ana P.",
        "Librarians",
        "Reference librarian. I love helping people find work and get comfortable with computers.",
        ["job-search-and-resumes", "computer-basics", "email", "word-and-excel"],
        {"central": [(0, 10, 12), (2, 14, 16), (3, 10, 12)]},
    ),
    (
        "ben",
        "Ben O.",
        "Librarians",
        "Digital services librarian: phones, tablets and social media.",
        ["smartphones-and-tablets", "social-media-for-beginners", "email", "computer-basics"],
        {"central": [(1, 13, 16)], "riverside": [(3, 10, 13), (5, 10, 12)]},
    ),
    (
        "carmen",
        "Carmen D.",
        "Managers",
        "Branch manager. Research, citations and self-publishing are my favourite topics.",
        ["research-databases-and-citations", "self-publishing-and-ebooks", "word-and-excel"],
        {"central": [(1, 10, 12), (4, 13, 15)]},
    ),
    ("desk", "Front desk", "Desk", "The reference desk team.", [], {}),
]

PATRONS = [
    ("Rosa Martinez", "", "312-555-0142", "call", "", "Large print, please."),
    ("Marcus Lee", "marcus@example.org", "312-555-0177", "text", "2100045", ""),
    ("Priya Shah", "priya@example.org", "", "email", "", ""),
    ("Dana Whitfield", "dana.w@example.org", "312-555-0190", "email", "2100102", ""),
    ("Sam Okafor", "sam.okafor@example.edu", "", "email", "", ""),
]

BOOKINGS = [
    # patron, topic, skill, goal, party, channel, days ahead (minimum)
    (
        0,
        "smartphones-and-tablets",
        "new",
        "Send photos to my grandson and make video calls.",
        1,
        "phone",
        2,
    ),
    (
        1,
        "job-search-and-resumes",
        "some",
        "My résumé is 10 years old and I don't know how to apply online.",
        1,
        "online",
        1,
    ),
    (
        2,
        "social-media-for-beginners",
        "new",
        "We are starting a small bakery and want an Instagram page.",
        2,
        "online",
        3,
    ),
    (
        3,
        "self-publishing-and-ebooks",
        "some",
        "Three of us wrote a local history book and want to publish it as an ebook.",
        3,
        "desk",
        5,
    ),
    (
        4,
        "research-databases-and-citations",
        "confident",
        "Literature review: systematic searching and setting up Zotero.",
        1,
        "online",
        4,
    ),
]


class Command(BaseCommand):
    help = "Load demo branches, topics, staff, schedules, patrons and sessions (once)."

    def handle(self, *args, **options):
        # Saving schedules clears cached open times: the cache's table must exist, also when
        # this is run by hand right after `migrate` (nothing happens if it is there already).
        call_command("createcachetable", verbosity=0)
        if Branch.objects.filter(name="Central Library").exists():
            self.stdout.write("Demo data already loaded.")
            self._print_logins()
            return
        with transaction.atomic():
            self._load()
        self._print_logins()

    def _load(self):
        today = timezone.localdate()
        zone = "America/Chicago"
        branches = {
            "central": Branch.objects.create(
                name="Central Library",
                address="200 Main Street",
                phone="312-555-0100",
                time_zone=zone,
            ),
            "riverside": Branch.objects.create(
                name="Riverside Branch",
                address="15 River Road",
                phone="312-555-0101",
                time_zone=zone,
            ),
        }
        topics = {}
        for name, slug, lengths, description in TOPICS:
            topics[slug] = Topic.objects.create(
                name=name, slug=slug, session_lengths=lengths, description=description
            )
            if slug in TOPICS_IN_SPANISH:
                name_es, description_es = TOPICS_IN_SPANISH[slug]
                TopicTranslation.objects.create(
                    topic=topics[slug], language="es", name=name_es, description=description_es
                )
        staff = {}
        for username, public_name, group, intro, topic_slugs, hours in STAFF:
            # A person's first and last name; the desk's shared account is named as a whole, so
            # that the admin greets it "Welcome, Front desk." and pages say "Signed in as Front
            # desk", not "Front".
            if group == "Desk":
                first_name, last_name = public_name, ""
            else:
                first_name, _, last_name = public_name.partition(" ")
            user = User.objects.create_user(
                username,
                email=f"{username}@library.example",
                password=PASSWORD,
                first_name=first_name,
                last_name=last_name,
                is_staff=True,
                is_superuser=(group == "Managers"),
            )
            user.groups.add(Group.objects.get(name=group))
            profile = StaffProfile.objects.create(
                user=user,
                public_name=public_name,
                introduction=intro,
                is_bookable=bool(topic_slugs),
            )
            profile.branches.add(*(branches[b] for b in (hours or {"central": []})))
            profile.topics.add(*(topics[slug] for slug in topic_slugs))
            for branch_key, stretches in hours.items():
                for weekday, start, end in stretches:
                    Availability.objects.create(
                        staff=profile,
                        branch=branches[branch_key],
                        weekday=weekday,
                        start_time=time(start),
                        end_time=time(end),
                    )
            staff[username] = profile

        tz = branches["central"].tz
        # Ana's Thursday staff meeting blocks the next Thursday afternoon... and a morning.
        next_thursday = today + timedelta(days=(3 - today.weekday()) % 7 or 7)
        Block.objects.create(
            staff=staff["ana"],
            reason="Staff meeting",
            starts_at=datetime.combine(next_thursday, time(10), tzinfo=tz),
            ends_at=datetime.combine(next_thursday, time(11), tzinfo=tz),
        )
        next_tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
        Block.objects.create(
            staff=staff["ben"],
            reason="Teaching a class",
            starts_at=datetime.combine(next_tuesday, time(13), tzinfo=tz),
            ends_at=datetime.combine(next_tuesday, time(14), tzinfo=tz),
        )
        holiday = today + timedelta(days=21)
        Closure.objects.create(
            branch=branches["riverside"],
            first_day=holiday,
            last_day=holiday + timedelta(days=1),
            reason="Holiday",
        )

        patrons = [
            Patron.objects.create(
                name=name,
                email=email,
                phone=phone,
                preferred_contact=contact,
                card_number=card,
                accessibility_needs=needs,
            )
            for name, email, phone, contact, card, needs in PATRONS
        ]
        # Some history, so patron records show attendance and the reports have something in them;
        # first, so that these patrons' upcoming sessions count as returning.
        for index, days_ago, status in ((1, 14, Status.ATTENDED), (4, 21, Status.NO_SHOW)):
            topic = topics["job-search-and-resumes" if index == 1 else "computer-basics"]
            start = datetime.combine(today - timedelta(days=days_ago), time(10), tzinfo=tz)
            session = Appointment.objects.create(
                patron=patrons[index],
                staff=staff["ana"],
                branch=branches["central"],
                topic=topic,
                skill_level="some",
                learning_goal="Practice for an interview.",
                party_size=1,
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                status=status,
                first_booking=True,
                contact_method=patrons[index].preferred_contact,
            )
            # Booked a week ahead, as it would have been.
            Appointment.objects.filter(pk=session.pk).update(created_at=start - timedelta(days=7))
        desk_user = staff["desk"].user
        self.booked = 0
        for index, slug, skill, goal, party, channel, days in BOOKINGS:
            topic = topics[slug]
            slots = find_open_slots(
                topic,
                length=topic.session_lengths[-1],
                first_day=today + timedelta(days=days),
                last_day=today + timedelta(days=days + 14),
            )
            for slot in slots:
                try:
                    book_appointment(
                        patron=patrons[index],
                        topic=topic,
                        branch=Branch.objects.get(pk=slot.branch_id),
                        starts_at=slot.start,
                        length=topic.session_lengths[-1],
                        skill_level=skill,
                        learning_goal=goal,
                        party_size=party,
                        channel=channel,
                        booked_by=desk_user if channel != "online" else None,
                    )
                except BookingError:
                    continue
                self.booked += 1
                break
        for topic_slug, minutes, skill in (
            ("email", 10, "new"),
            ("computer-basics", 15, "new"),
            ("word-and-excel", 5, "some"),
        ):
            WalkIn.objects.create(
                branch=branches["central"],
                topic=topics[topic_slug],
                minutes=minutes,
                skill_level=skill,
                recorded_by=desk_user,
            )
        WaitlistEntry.objects.create(
            topic=topics["word-and-excel"],
            patron=patrons[2],
            weekdays=[5],
            skill_level="new",
            learning_goal="Make a price list for the bakery in Excel.",
            party_size=2,
            length=60,
        )
        # Demo patrons are invented: their confirmations are kept on record but not sent.
        Message.objects.filter(state=MessageState.PENDING).update(state=MessageState.SKIPPED)
        self.stdout.write(
            f"Loaded 2 branches, {len(topics)} topics, {len(staff)} staff, "
            f"{len(patrons)} patrons and {self.booked} upcoming sessions."
        )

    def _print_logins(self):
        self.stdout.write(
            "\nOpen http://127.0.0.1:8000/ to book as a patron.\n"
            "Staff sign in at http://127.0.0.1:8000/admin/ (password for all: "
            f"{PASSWORD}):\n"
            "  manager   carmen  (Managers: everything)\n"
            "  desk      desk    (Desk: book for patrons at http://127.0.0.1:8000/desk/)\n"
            "  librarian ana     (Librarians: own schedule and sessions)\n"
            "  librarian ben     (Librarians: own schedule and sessions; not Ana's patrons)\n"
        )
