"""Prompt recordings uploaded at run time (the web console's prompt administration).

An administrator uploads a WAV recording for one prompt of the site catalogue
in one language. The runtime then, at once:

1. checks that Asterisk can play it (runtime/live/prompt_audio.py) — else a
   :class:`~runtime.live.prompt_audio.BadRecording` says why;
2. writes it to the prompt directory Asterisk reads (site ``ari.prompt_dir``),
   under a name made from its content hash, written aside and renamed into
   place so that Asterisk never opens half a file;
3. points the catalogue's media for that prompt and language at it
   (``sound:<asterisk_prompt_dir>/<name>/<language>-<hash>``: an absolute
   path without extension, which Asterisk resolves to the ``.wav`` or
   ``.wav16`` file), so the next play of the prompt plays the recording;
4. queues the recording, audio and all, in the outbox: during a database
   outage it plays from the directory and is saved when the database is back.

At start the runtime writes every stored recording to the directory again
(:meth:`PromptUploads.restore`): a restart, a new machine or a second server
on the same database plays the same recordings. A deactivated recording stays
stored (and can be previewed) but the site file's media plays.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from runtime.live.prompt_audio import ASTERISK_WAV_EXTENSIONS, check_wav
from runtime.site.model import DEFAULT_PROMPT_DIR
from runtime.site.prompts import PromptCatalogue
from runtime.store.outbox import Outbox
from runtime.store.prompt_recordings import prompt_recording_active_op, prompt_recording_op

log = logging.getLogger("qscript.prompts")

#: Characters of the content hash in a file name: unique per recording in practice,
#: and a new upload never overwrites a file a call may be playing.
_HASH_CHARS = 16


@dataclass(frozen=True)
class Recording:
    """One uploaded recording as the runtime holds it (the audio is on disk)."""

    name: str
    language: str
    sha256: str
    sample_rate: int
    duration: float
    filename: str
    active: bool
    uploaded_by: str
    uploaded_at: dt.datetime

    @property
    def stem(self) -> str:
        return f"{self.language}-{self.sha256[:_HASH_CHARS]}"

    @property
    def extension(self) -> str:
        return ASTERISK_WAV_EXTENSIONS[self.sample_rate]


class PromptUploads:
    """The uploaded recordings of a running site, their files and their media switch."""

    def __init__(self, site, outbox: Outbox, directory: Path, asterisk_directory: str):
        self.site = site
        self.outbox = outbox
        self.directory = directory
        self.asterisk_directory = asterisk_directory.rstrip("/")
        self._recordings: dict[tuple[str, str], Recording] = {}
        self._lock = threading.Lock()   # uploads may run in worker threads

    @classmethod
    def for_site(cls, site, outbox: Outbox) -> "PromptUploads":
        """The site's directories (``ari.prompt_dir``, ``ari.asterisk_prompt_dir``)."""
        ari = getattr(site, "ari", None)
        configured = Path(getattr(ari, "prompt_dir", None) or DEFAULT_PROMPT_DIR)
        base = Path(getattr(site, "base_dir", None) or ".")
        directory = configured if configured.is_absolute() else (base / configured).resolve()
        seen_by_asterisk = getattr(ari, "asterisk_prompt_dir", None) or str(directory)
        return cls(site, outbox, directory, seen_by_asterisk)

    # ------------------------------------------------------------ reading

    @property
    def catalogue(self) -> PromptCatalogue | None:
        return getattr(self.site, "prompts", None)

    def recordings(self) -> list[Recording]:
        with self._lock:
            return sorted(self._recordings.values(), key=lambda r: (r.name, r.language))

    def recording(self, name: str, language: str) -> Recording | None:
        return self._recordings.get((name, language))

    def path_of(self, recording: Recording) -> Path:
        return self.directory / recording.name / f"{recording.stem}.{recording.extension}"

    def media_of(self, recording: Recording) -> str:
        """The media URI Asterisk plays the recording by (no extension: Asterisk picks
        the format from the files it finds)."""
        return f"sound:{self.asterisk_directory}/{recording.name}/{recording.stem}"

    def site_media(self, name: str, language: str) -> str | None:
        """What the site file plays for this prompt and language (no upload counted)."""
        catalogue = self.catalogue
        prompt = catalogue.prompts.get(name) if catalogue is not None else None
        if prompt is None or catalogue is None:
            return None
        return prompt.media_for(catalogue.fallback_languages(language))

    def languages(self) -> tuple[str, ...]:
        return tuple(getattr(self.site, "languages", ()) or ())

    # ------------------------------------------------------------ changing

    def upload(self, name: str, language: str, audio: bytes, filename: str = "",
               uploaded_by: str = "") -> tuple[Recording, concurrent.futures.Future[str]]:
        """Check, write and switch to a new recording; its saving is queued in the outbox.

        ValueError (BadRecording for the audio) or LookupError (an unknown prompt or
        language) with a message for the administrator; nothing changes then.
        """
        self._check_target(name, language)
        info = check_wav(audio)
        recording = Recording(name, language, hashlib.sha256(audio).hexdigest(),
                              info.sample_rate, round(info.duration, 3),
                              _clean_filename(filename), True, uploaded_by,
                              dt.datetime.now(dt.timezone.utc))
        self._write_file(recording, audio)
        with self._lock:
            previous = self._recordings.get((name, language))
            self._recordings[(name, language)] = recording
            self._switch(recording)
            saving = self.outbox.submit(prompt_recording_op(
                name, language, audio, recording.sha256, recording.sample_rate,
                recording.duration, recording.filename, uploaded_by))
        if previous is not None and previous.stem != recording.stem:
            self._remove_file(previous)
        log.info("prompt %s (%s): recording %s uploaded by %s (%.1fs, %d Hz)", name, language,
                 recording.sha256[:12], uploaded_by or "?", recording.duration,
                 recording.sample_rate)
        return recording, saving

    def set_active(self, name: str, language: str, active: bool) -> concurrent.futures.Future[str]:
        """Play the recording (True) or the site file's media (False), from the next play."""
        with self._lock:
            recording = self._recordings.get((name, language))
            if recording is None:
                raise LookupError(f'no recording is uploaded for prompt "{name}" in "{language}"')
            recording = _replace(recording, active=bool(active))
            self._recordings[(name, language)] = recording
            self._switch(recording)
            return self.outbox.submit(prompt_recording_active_op(name, language, bool(active)))

    def restore(self, rows: Iterable) -> None:
        """Take the stored recordings (rows of ``prompt_recordings``): write each file that
        is not in the directory, and play the active ones. Rows for prompts or languages
        the site no longer has are left in the database and logged."""
        for row in rows:
            try:
                self._check_target(row.name, row.language)
                info = check_wav(row.audio)
            except (LookupError, ValueError) as error:
                log.warning("stored recording of prompt %s (%s) not used: %s", row.name,
                            row.language, error)
                continue
            uploaded = row.uploaded_at if row.uploaded_at.tzinfo else \
                row.uploaded_at.replace(tzinfo=dt.timezone.utc)
            recording = Recording(row.name, row.language, row.sha256, info.sample_rate,
                                  row.duration, row.filename, row.active, row.uploaded_by,
                                  uploaded)
            if not self.path_of(recording).exists():
                try:
                    self._write_file(recording, row.audio)
                except ValueError as error:  # serve anyway: the site file's media plays
                    log.error("stored recording of prompt %s (%s) not played: %s", row.name,
                              row.language, error)
                    continue
            with self._lock:
                self._recordings[(row.name, row.language)] = recording
                self._switch(recording)

    # ------------------------------------------------------------ helpers

    def _check_target(self, name: str, language: str) -> None:
        catalogue = self.catalogue
        if catalogue is None or name not in catalogue:
            known = sorted(catalogue.names()) if catalogue is not None else []
            raise LookupError(f'unknown prompt "{name}"; recordings are uploaded for the '
                              f"prompts of the site file ({', '.join(known) or 'it has none'})")
        if language not in self.languages():
            raise LookupError(f'unknown language "{language}"; the site\'s languages are '
                              + ", ".join(self.languages()))

    def _switch(self, recording: Recording) -> None:
        """Point the catalogue at the recording, or back at the site file's media."""
        catalogue = self.catalogue
        if catalogue is None:
            return
        key = (recording.name, recording.language)
        if recording.active:
            catalogue.uploaded[key] = self.media_of(recording)
        else:
            catalogue.uploaded.pop(key, None)

    def _write_file(self, recording: Recording, audio: bytes) -> None:
        """Write aside, then rename into place: Asterisk sees no file or the whole file.
        Readable by all: Asterisk usually runs as its own user."""
        path = self.path_of(recording)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path.parent, 0o755)
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(temporary, "wb") as handle:
                handle.write(audio)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
            self._remove_other_formats(path)
        except OSError as error:
            raise ValueError(f"cannot write the recording to the prompt directory "
                             f"{self.directory} ({error.strerror or error}); check ari.prompt_dir "
                             "in the site file and that the runtime may write there") from None

    @staticmethod
    def _remove_other_formats(path: Path) -> None:
        """Asterisk plays ``sound:<stem>`` from whichever of ``<stem>.wav``/``.wav16`` it
        likes best: a file of the same stem in another format (left by an older qscript,
        or by hand) must not be the one it picks."""
        for extension in set(ASTERISK_WAV_EXTENSIONS.values()) - {path.suffix[1:]}:
            try:
                path.with_suffix("." + extension).unlink()
            except FileNotFoundError:
                pass

    def _remove_file(self, recording: Recording) -> None:
        try:
            self.path_of(recording).unlink()
        except OSError:
            pass  # gone already, or never written: nothing plays it any more anyway


def _replace(recording: Recording, **changes) -> Recording:
    from dataclasses import replace
    return replace(recording, **changes)


def _clean_filename(filename: str) -> str:
    """The uploaded file's own name, for display only: no path, no control characters."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable())[:200]
