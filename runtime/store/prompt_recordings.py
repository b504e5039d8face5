"""Uploaded prompt recordings in the database (migration 0007).

A recording is kept per prompt name and language, with its audio, so that a
restarted runtime — or a second server on the same database — writes it to
the directory Asterisk reads and plays it (runtime/live/prompt_uploads.py).
A new upload for the same prompt and language replaces the old one.

Both writes go through the outbox like every other (the audio is base64 in
the op, so the spool can keep it through an outage) and are idempotent:
``prompt_recording`` is "the recording is now these bytes", ``prompt_recording_active``
is "the recording is now on/off".
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any, Optional

from sqlalchemy import LargeBinary
from sqlmodel import Column, Field, Session, SQLModel, select

from runtime.store.database import WRITERS, WriteOp, _now, _time_from_text, _time_text


class PromptRecordingRow(SQLModel, table=True):
    """An uploaded recording that replaces the site file's media of one prompt in one language."""

    __tablename__ = "prompt_recordings"
    name: str = Field(primary_key=True)        # the prompt's name in the site catalogue
    language: str = Field(primary_key=True)    # a site language
    audio: bytes = Field(sa_column=Column(LargeBinary, nullable=False))   # the WAV file
    sha256: str                                # of the audio: names the file on disk
    sample_rate: int
    duration: float                            # seconds
    filename: str = ""                         # as uploaded, for the administrators
    active: bool = True                        # false: the site file's media plays
    uploaded_by: str = ""
    uploaded_at: dt.datetime
    updated_at: Optional[dt.datetime] = None


def prompt_recording_op(name: str, language: str, audio: bytes, sha256: str, sample_rate: int,
                        duration: float, filename: str, uploaded_by: str,
                        active: bool = True) -> WriteOp:
    moment = _time_text(_now())
    return WriteOp("prompt_recording", {
        "name": name, "language": language, "audio": base64.b64encode(audio).decode("ascii"),
        "sha256": sha256, "sample_rate": sample_rate, "duration": duration,
        "filename": filename, "uploaded_by": uploaded_by, "active": active,
        "uploaded_at": moment})


def prompt_recording_active_op(name: str, language: str, active: bool) -> WriteOp:
    return WriteOp("prompt_recording_active", {"name": name, "language": language,
                                               "active": active,
                                               "updated_at": _time_text(_now())})


def _write_recording(session: Session, data: dict[str, Any]) -> None:
    uploaded = _time_from_text(data["uploaded_at"]) or _now()
    row = session.get(PromptRecordingRow, (data["name"], data["language"]))
    if row is None:
        row = PromptRecordingRow(name=data["name"], language=data["language"], audio=b"",
                                 sha256="", sample_rate=0, duration=0.0, uploaded_at=uploaded)
    row.audio = base64.b64decode(data["audio"])
    row.sha256, row.sample_rate = str(data["sha256"]), int(data["sample_rate"])
    row.duration, row.filename = float(data["duration"]), str(data["filename"])
    row.uploaded_by, row.active = str(data["uploaded_by"]), bool(data["active"])
    row.uploaded_at = row.updated_at = uploaded
    session.add(row)


def _write_active(session: Session, data: dict[str, Any]) -> None:
    row = session.get(PromptRecordingRow, (data["name"], data["language"]))
    if row is None:  # switched for a recording that was replaced meanwhile: nothing to switch
        return
    row.active = bool(data["active"])
    row.updated_at = _time_from_text(data["updated_at"]) or _now()
    session.add(row)


WRITERS["prompt_recording"] = _write_recording
WRITERS["prompt_recording_active"] = _write_active


def prompt_recordings(store) -> list[PromptRecordingRow]:
    """Every stored recording (with its audio), by name and language."""
    with Session(store.engine) as session:
        return list(session.exec(select(PromptRecordingRow).order_by(
            PromptRecordingRow.name, PromptRecordingRow.language)))
