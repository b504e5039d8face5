"""Mailing voice messages over SMTP.

A voice message is sent as an e-mail with the recording attached (WAV), and
a short text saying who called, when, and the digits they entered. Building
the message and sending it run in a worker thread (smtplib is blocking, and
encoding a long recording takes tens of milliseconds) so callers are never delayed;
a failed send is retried a few times with backoff and logged — the recording
stays on the Asterisk server either way, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import smtplib
from email.message import EmailMessage

from runtime.core.driver import CallInfo, Recording

log = logging.getLogger("qscript.mail")


class Mailer:
    def __init__(self, host: str = "127.0.0.1", port: int = 25, sender: str = "qscript@localhost",
                 starttls: bool = False, username: str | None = None,
                 password_env: str | None = None, timeout: float = 10.0, attempts: int = 3,
                 ssl: bool = False):
        self.host, self.port, self.sender = host, port, sender
        self.ssl = ssl
        self.starttls, self.username = starttls, username
        self.password_env, self.timeout, self.attempts = password_env, timeout, attempts
        self.sent = 0
        self.failed = 0

    @classmethod
    def from_site(cls, site) -> "Mailer | None":
        mail = getattr(site, "mail", None)
        if mail is None:
            return None
        return cls(host=getattr(mail, "smtp_host", "127.0.0.1"), port=getattr(mail, "smtp_port", 25),
                   sender=getattr(mail, "sender", None) or getattr(mail, "from_address", None)
                   or "qscript@localhost",
                   starttls=bool(getattr(mail, "starttls", False)),
                   username=getattr(mail, "username", None),
                   password_env=getattr(mail, "password_env", None),
                   timeout=float(getattr(mail, "timeout", 10.0)),
                   ssl=bool(getattr(mail, "ssl", False)))

    def build_message(self, address: str, recording: Recording, call: CallInfo) -> EmailMessage:
        message = EmailMessage()
        caller = call.caller or "a withheld number"
        message["Subject"] = f"Voice message from {caller}"
        message["From"] = self.sender
        message["To"] = address
        message["Date"] = dt.datetime.now(dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
        message.set_content(
            f"{caller} left a voice message ({recording.duration:.0f} s) after calling "
            f"{call.dialled}.\nCall id: {call.call_id}\n")
        if recording.data:
            message.add_attachment(recording.data, maintype="audio", subtype="wav",
                                   filename=f"{recording.name}.wav")
        return message

    def _send_now(self, message: EmailMessage) -> None:
        connection = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        with connection(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, os.environ.get(self.password_env or "", ""))
            smtp.send_message(message)

    async def send_voicemail(self, address: str, recording: Recording, call: CallInfo) -> bool:
        # Built in the worker too: encoding a recording of minutes (megabytes of
        # WAV) as base64 takes tens of milliseconds, too long for the event loop.
        message = await asyncio.to_thread(self.build_message, address, recording, call)
        delay = 1.0
        for attempt in range(1, self.attempts + 1):
            try:
                await asyncio.to_thread(self._send_now, message)
                self.sent += 1
                return True
            except (OSError, smtplib.SMTPException) as error:
                log.warning("mailing the voice message to %s failed (attempt %d/%d): %s",
                            address, attempt, self.attempts, error)
                await asyncio.sleep(delay)
                delay *= 2
        self.failed += 1
        log.error("voice message %s for %s was not mailed; it is kept on the Asterisk server",
                  recording.name, address)
        return False
