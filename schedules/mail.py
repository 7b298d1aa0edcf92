"""Reminder mail: composed in Chinese, sent through SMTP (INCUBATOR_SMTP_URL).

The URL: `smtp://[user[:password]@]host[:port][?from=ADDRESS&starttls=true&timeout=SECONDS]`, or
`smtps://...` for SMTP over TLS (port 465 by default). Every mail of one reminder carries the same
Message-ID (derived from the reminder's id), however often it is tried.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

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
    password: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpMailer:
        try:
            parts = urlsplit(url)
            hostname = parts.hostname
        except ValueError as e:  # an unclosed [ of an IPv6 address, say
            raise MailError(f"{SMTP_ENV} is not a URL ({e}): {_hide_password(url)!r}") from None
        if parts.scheme not in ("smtp", "smtps") or not hostname:
            raise MailError(
                f"{SMTP_ENV} must look like smtp://user:password@host:587?from=park@example.org "
                f"(or smtps://...), got {_hide_password(url)!r}"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = set(query) - {"from", "starttls", "timeout"}
        if unknown:
            raise MailError(
                f"{SMTP_ENV}: unknown parameter(s) {', '.join(sorted(unknown))}; "
                f"allowed: from, starttls, timeout"
            )
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
            timeout = float(query.get("timeout", 30))
        except ValueError as e:
            raise MailError(f"{SMTP_ENV}: {e}") from None
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


def _hide_password(url: str) -> str:
    """The URL with whatever stands between "user:" and "@" masked (also when unparsable)."""
    return re.sub(r"^([a-z]+://[^:/@]*):[^@]*@", r"\1:***@", url)
