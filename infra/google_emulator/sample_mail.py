"""Deterministic sample mail: varied senders, subjects, labels, dates, threads and MIME shapes.

The same account address always yields the same messages (seeded by the address); dates are
spread over the four weeks before the emulator's "now". Replies carry ``In-Reply-To`` and
``References``; how each thread's messages are built (charsets, attachments...) is
``sample_styles``'s business.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from . import sample_styles
from .accounts import Account
from .mime import MailContent

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Correspondent:
    name: str
    address: str
    category: str  # CATEGORY_* label
    subjects: tuple[str, ...]
    bodies: tuple[str, ...]


CORRESPONDENTS = (
    Correspondent(
        "Alice Martin",
        "alice.martin@example.org",
        "CATEGORY_PERSONAL",
        ("Lunch on Thursday?", "Photos from the weekend", "Quick question about the trip"),
        (
            "Hi! Are you free for lunch on Thursday? I found a new place near the station.",
            "I finally uploaded the photos from the weekend. The one by the lake is my favourite.",
            "Do you still have the address of the cabin? I'd like to book the same one again.",
        ),
    ),
    Correspondent(
        "Bob Chen",
        "bob.chen@example.net",
        "CATEGORY_PERSONAL",
        ("Project kickoff notes", "Draft budget for review", "Re-scheduling our call"),
        (
            "Here are my notes from the kickoff. Main risks: timeline and the data migration.",
            "Attached is the first draft of the budget. Could you review the travel line items?",
            "Something came up on my side; could we move our call to Friday afternoon?",
        ),
    ),
    Correspondent(
        "GitHub",
        "noreply@github.com",
        "CATEGORY_UPDATES",
        ("[octo/app] Pull request merged", "[octo/app] New issue: login fails", "Your weekly digest"),
        (
            "Your pull request 'Add retry with backoff' was merged into main.",
            "A new issue was opened: login fails when the session cookie has expired.",
            "Here is what happened in your repositories this week: 12 commits, 3 pull requests.",
        ),
    ),
    Correspondent(
        "Example Bank",
        "alerts@bank.example",
        "CATEGORY_UPDATES",
        ("Your statement is ready", "Card payment notification", "Security alert: new sign-in"),
        (
            "Your monthly statement is now available in online banking.",
            "A card payment of 42.50 EUR was made at Corner Bookshop.",
            "We noticed a new sign-in to your account from a new device. Was this you?",
        ),
    ),
    Correspondent(
        "Travel Deals",
        "deals@travel.example",
        "CATEGORY_PROMOTIONS",
        ("Weekend getaways from 99 EUR", "Last chance: summer sale", "Your wishlist destination is on sale"),
        (
            "Escape for the weekend: city breaks and seaside hotels from 99 EUR per night.",
            "Our summer sale ends tonight. Save up to 40% on flights and hotels.",
            "Good news! Lisbon, on your wishlist, now has flights from 59 EUR.",
        ),
    ),
    Correspondent(
        "Newsletter Weekly",
        "news@newsletter.example",
        "CATEGORY_PROMOTIONS",
        ("This week in serverless", "Five tips for faster Python", "Reader survey"),
        (
            "Cold starts, layers and the new runtime: everything that happened this week.",
            "Profile first, then cache: five practical tips to make Python services faster.",
            "Tell us what you want to read about and win a conference ticket.",
        ),
    ),
    Correspondent(
        "Social Network",
        "notifications@social.example",
        "CATEGORY_SOCIAL",
        ("Carol mentioned you in a comment", "You have 3 new connection requests", "Dave shared a post"),
        (
            "Carol mentioned you: 'this is exactly what we discussed last week!'",
            "You have 3 new connection requests waiting for you.",
            "Dave shared a post: 'Ten years of running the city marathon'.",
        ),
    ),
    Correspondent(
        "Community Forum",
        "digest@forum.example",
        "CATEGORY_FORUMS",
        ("Daily digest: 5 new topics", "Reply to your question about OAuth", "Monthly meetup announcement"),
        (
            "New topics today: refresh token rotation, PKCE in native apps, and more.",
            "Someone replied to your question: 'You need access_type=offline to get a refresh token.'",
            "The monthly meetup is next Tuesday at 7pm. Talks on Gmail sync and batching.",
        ),
    ),
    Correspondent(
        "HR Team",
        "hr@company.example",
        "CATEGORY_UPDATES",
        ("Holiday calendar 2025", "Please complete your training", "Benefits enrolment opens Monday"),
        (
            "The holiday calendar for next year is now on the intranet.",
            "Reminder: the security awareness training is due by the end of the month.",
            "Benefits enrolment opens on Monday and closes in two weeks.",
        ),
    ),
)

REPLIES = (
    "Thanks, that works for me.",
    "Sounds good. Let me check and get back to you tomorrow.",
    "Great, see you then!",
    "Could you send me the details again? I can't find the earlier email.",
)

SPAM_SUBJECTS = ("You have WON a prize!!!", "Cheap meds, no prescription")


def _labels_for(rng: random.Random, correspondent: Correspondent) -> list[str]:
    labels = ["INBOX", correspondent.category]
    if rng.random() < 0.4:
        labels.append("UNREAD")
    important = {"CATEGORY_PERSONAL": 0.6, "CATEGORY_UPDATES": 0.3}.get(correspondent.category, 0.0)
    if rng.random() < important:
        labels.append("IMPORTANT")
    if rng.random() < 0.12:
        labels.append("STARRED")
    return labels


@dataclass
class _Planned:
    sent_at: int
    thread: int
    sender: str
    to: str
    subject: str
    body: str
    labels: list[str]
    from_me: bool = False
    reply: bool = False
    spam: bool = False


def _plan(rng: random.Random, account: Account, count: int, now_ms: int) -> list[_Planned]:
    me = f"{account.name} <{account.email}>"
    plans: list[_Planned] = []
    thread = 0
    while len(plans) < count:
        thread += 1
        who = rng.choice(CORRESPONDENTS)
        index = rng.randrange(len(who.subjects))
        sent_at = now_ms - rng.randrange(DAY_MS // 24, 28 * DAY_MS)
        them = f"{who.name} <{who.address}>"
        roll = rng.random()
        if roll < 0.05:
            spam = rng.choice(SPAM_SUBJECTS)
            sender = "Prize Office <winner@spam.example>"
            body = "Click here to claim your reward now."
            plans.append(_Planned(sent_at, thread, sender, me, spam, body, ["SPAM"], spam=True))
            continue
        labels = ["TRASH", who.category] if roll > 0.94 else _labels_for(rng, who)
        plans.append(_Planned(sent_at, thread, them, me, who.subjects[index], who.bodies[index], labels))
        # Personal mail and forum posts often become conversations (replies alternate).
        if who.category not in ("CATEGORY_PERSONAL", "CATEGORY_FORUMS") or rng.random() < 0.4:
            continue
        reply_at = sent_at
        for turn in range(rng.randint(1, 2)):
            if len(plans) >= count:
                break
            reply_at = min(reply_at + rng.randrange(600_000, DAY_MS // 2), now_ms - 60_000)
            mine = turn % 2 == 0
            plans.append(
                _Planned(
                    reply_at,
                    thread,
                    me if mine else them,
                    them if mine else me,
                    who.subjects[index],
                    rng.choice(REPLIES),
                    ["SENT"] if mine else _labels_for(rng, who),
                    from_me=mine,
                    reply=True,
                )
            )
    return plans


def _styles(plans: list[_Planned]) -> dict[int, str]:
    """Each thread's style, in the order threads were planned; the large attachment only once."""
    styles: dict[int, str] = {}
    turn = 0
    for plan in plans:
        if plan.thread in styles or plan.spam:
            continue
        style = sample_styles.STYLES[turn % len(sample_styles.STYLES)]
        styles[plan.thread] = "alternative" if style == "big" and turn >= len(sample_styles.STYLES) else style
        turn += 1
    return styles


@dataclass
class _Thread:
    gmail_id: str | None = None
    message_ids: list[str] = field(default_factory=list)  # Message-ID headers, oldest first
    last_body: str = ""


def _content(plan: _Planned, style: str, message_id: str, thread: _Thread, number: int) -> MailContent:
    persona = sample_styles.PERSONAS.get(style)
    sender, to, subject, body, offset = plan.sender, plan.to, plan.subject, plan.body, 0
    if persona is not None:  # the thread is theirs: their name, language and charset
        them = persona.mailbox
        sender, to = (plan.sender, them) if plan.from_me else (them, plan.to)
        subject = persona.subject
        body = body if plan.reply else persona.body
        offset = 0 if plan.from_me else persona.offset_minutes
    if style == "utf8_qp":
        subject = f"{subject} ✨"
    draft = sample_styles.Draft(
        message_id,
        sender,
        to,
        f"Re: {subject}" if plan.reply else subject,
        body,
        plan.sent_at,
        list(thread.message_ids),
        offset,
        number,
        received=not plan.from_me,
    )
    if plan.spam:
        return sample_styles.spam(draft)
    if plan.reply:
        charset = persona.charset if persona is not None and not plan.from_me else "utf-8"
        return sample_styles.reply(draft, thread.last_body, charset)
    return sample_styles.first_message(style, draft)


def generate(account: Account, count: int, now_ms: int) -> None:
    """Deliver ``count`` generated messages to ``account``, oldest first."""
    if count <= 0:
        return
    rng = random.Random(f"sample-mail:{account.email.lower()}")
    planned = _plan(rng, account, count, now_ms)
    styles = _styles(planned)
    threads: dict[int, _Thread] = {}
    for number, plan in enumerate(sorted(planned, key=lambda plan: plan.sent_at)):
        thread = threads.setdefault(plan.thread, _Thread())
        message_id = account.new_message_id(plan.sent_at)
        content = _content(plan, styles.get(plan.thread, "alternative"), message_id, thread, number)
        message = account.deliver(
            content,
            label_ids=plan.labels,
            internal_date_ms=plan.sent_at,
            thread_id=thread.gmail_id,
            message_id=message_id,
        )
        thread.gmail_id = thread.gmail_id or message.thread_id
        thread.message_ids.append(content.message_id)
        thread.last_body = content.text
