"""Reminder mail: composed in Chinese, sent through SMTP (INCUBATOR_SMTP_URL).

The URL: `smtp://[user[:password]@]host[:port][?from=ADDRESS&starttls=true&timeout=SECONDS]`, or
`smtps://...` for SMTP over TLS (port 465 by default). Every mail of one reminder carries the same
Message-ID (derived from the reminder's id), however often it is tried.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from lifecycle.park import Park
from lifecycle.reminder import Reminder
from schedules.reminders import KIND_NAMES_ZH
from store.database import mask_url, why_malformed

SMTP_ENV = "INCUBATOR_SMTP_URL"
_YES, _NO = ("1", "true", "yes"), ("0", "false", "no")


class MailError(Exception):
    """The SMTP URL cannot be used."""


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int
    sender: str
    tls: bool = False  # SMTP over TLS from the start (smtps)
    starttls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpMailer:
        try:
            parts = urlsplit(url)
            hostname = parts.hostname
        except ValueError as e:  # an unclosed [ of an IPv6 address, say
            raise MailError(
                f"{SMTP_ENV} is not a URL ({why_malformed(e)}): '{mask_url(url)}'"
            ) from None
        if parts.scheme not in ("smtp", "smtps") or not hostname:
            raise MailError(
                f"{SMTP_ENV} must look like smtp://user:password@host:587?from=park@example.org "
                f"(or smtps://...), got '{mask_url(url)}'"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = set(query) - {"from", "starttls", "timeout"}
        if unknown:
            # A name that is no word may be part of a password holding "?": not repeated.
            named = sorted(
                n if re.fullmatch(r"[A-Za-z_]{1,30}", n) else "(masked)" for n in unknown
            )
            raise MailError(
                f"{SMTP_ENV}: unknown parameter(s) {', '.join(named)}; "
                f"allowed: from, starttls, timeout"
            )
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
            timeout = float(query.get("timeout", 30))
        except ValueError as e:  # its text quotes the port, which could be a password
            raise MailError(f"{SMTP_ENV}: {why_malformed(e)} in '{mask_url(url)}'") from None
        if timeout <= 0:
            raise MailError(f"{SMTP_ENV}: timeout must be a number of seconds above 0")
        starttls = query.get("starttls", "false").lower()
        if starttls not in _YES + _NO:
            raise MailError(f"{SMTP_ENV}: starttls must be true or false, got {starttls!r}")
        if starttls in _YES and parts.scheme == "smtps":
            raise MailError(f"{SMTP_ENV}: smtps:// is TLS from the start; starttls is for smtp://")
        sender = query.get("from", "incubator@localhost")
        if "@" not in sender:
            raise MailError(f"{SMTP_ENV}: from must be a mail address, got {sender!r}")
        return cls(
            host=hostname,
            port=port,
            sender=sender,
            tls=parts.scheme == "smtps",
            starttls=starttls in _YES,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=timeout,
        )

    def send(self, message: EmailMessage) -> None:
        if "From" not in message:
            message["From"] = self.sender
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def compose(reminder: Reminder, park: Park, address: str, sent_on: date) -> EmailMessage:
    """The mail of one reminder or escalation, in Chinese."""
    kind = KIND_NAMES_ZH.get(reminder.kind, reminder.kind)
    due = chinese_date(reminder.due_on)
    days = (reminder.due_on - sent_on).days
    when = f"还有{days}天" if days > 0 else "今天到期" if days == 0 else f"已逾期{-days}天"
    org = reminder.organization
    if reminder.level:
        subject = f"【督办】{org}：{kind}已逾期（{due}到期，第{reminder.level}次督办）"
    elif days > 0:
        subject = f"【提醒】{org}：{kind}将于{due}到期"
    elif days == 0:
        subject = f"【提醒】{org}：{kind}今天（{due}）到期"
    else:
        subject = f"【提醒】{org}：{kind}已于{due}到期，{when}"
    responsible = reminder.responsible or "未指派"
    body = "\n".join(
        [
            f"{reminder.recipient}：",
            "",
            f"{reminder.organization}的{kind}截止日期为{due}，{when}。",
            f"负责人：{responsible}",
            "请及时办理，并在孵化管理系统中登记。"
            if not reminder.level
            else "该事项已逾期，请督促负责人尽快办理。",
            "",
            f"——{park.name}孵化管理系统（自动发送）",
            f"提醒编号：{reminder.id}（{reminder.step}）",
        ]
    )
    message = EmailMessage()
    message["To"] = formataddr((reminder.recipient, address))
    message["Subject"] = subject
    message["Message-ID"] = reminder.message_id
    message["Date"] = format_datetime(reminder.issued_at)
    message.set_content(body)
    return message
