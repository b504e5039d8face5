"""Is an uploaded recording one Asterisk plays as it is? (WAV, PCM, mono, 16-bit, 8/16 kHz)

Asterisk plays ``.wav`` files through ``format_wav``: signed 16-bit little-endian
PCM, one channel, at 8 kHz (the ``wav`` format, extension ``.wav``) or 16 kHz
(``wav16``, extension ``.wav16`` — Asterisk refuses a 16 kHz file named ``.wav``
with "Unexpected frequency mismatch"). Anything else (stereo, 44.1 kHz, 8-bit,
float, compressed WAV, an MP3 renamed .wav) would fail at play time, on a live
call, with the caller hearing nothing; so it is refused at upload with a
message that says what the file is and what to make of it.

The header is read here rather than with :mod:`wave`: ``wave`` stops at the
first thing it does not support with messages such as "unknown format: 3",
which do not tell an administrator what to do.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

#: Sample rate -> the file extension Asterisk's format_wav reads it under.
ASTERISK_WAV_EXTENSIONS = {8000: "wav", 16000: "wav16"}
#: The largest recording accepted: about 5 minutes at 16 kHz (prompts are seconds long;
#: each upload also passes through the outbox's spool as one line).
MAX_RECORDING_BYTES = 10 * 1024 * 1024
_PCM = 1
_EXTENSIBLE = 0xFFFE
_CONVERT_HINT = ("convert it with e.g. `sox input.wav -r 8000 -c 1 -b 16 -e signed-integer "
                 "output.wav` (8 kHz or 16 kHz, mono, 16-bit PCM)")


class BadRecording(ValueError):
    """An upload Asterisk could not play; the message says why and how to fix it."""


@dataclass(frozen=True)
class WavInfo:
    sample_rate: int
    channels: int
    bits: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    @property
    def extension(self) -> str:
        """The extension Asterisk finds this file under (``wav`` or ``wav16``)."""
        return ASTERISK_WAV_EXTENSIONS[self.sample_rate]


def check_wav(data: bytes) -> WavInfo:
    """The format of a WAV file Asterisk can play; :class:`BadRecording` otherwise."""
    if not data:
        raise BadRecording("the file is empty")
    if len(data) > MAX_RECORDING_BYTES:
        # (The console reads one byte past the limit, so the size itself is not shown.)
        raise BadRecording(f"the file is too large: at most {MAX_RECORDING_BYTES:,} bytes "
                           "(about 5 minutes at 16 kHz) are accepted")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise BadRecording(f"this is not a WAV file ({_what_it_looks_like(data)}); upload a "
                           f"WAV recording: {_CONVERT_HINT}")
    chunks = _chunks(data)
    fmt = chunks.get(b"fmt ")
    if fmt is None or len(fmt) < 16:
        raise BadRecording("the WAV file has no complete format (fmt) chunk; it is damaged")
    audio_format, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if audio_format == _EXTENSIBLE and len(fmt) >= 26:
        audio_format = struct.unpack("<H", fmt[24:26])[0]  # the sub-format's first two bytes
    problems = []
    if audio_format != _PCM:
        problems.append(f"it is {_FORMATS.get(audio_format, f'format {audio_format}')}, "
                        "not PCM")
    if channels != 1:
        problems.append(f"it has {channels} channels, not 1 (mono)")
    if bits != 16:
        problems.append(f"it has {bits}-bit samples, not 16-bit")
    if rate not in ASTERISK_WAV_EXTENSIONS:
        problems.append(f"it is sampled at {rate:,} Hz, not 8,000 or 16,000 Hz")
    if problems:
        raise BadRecording("Asterisk cannot play this WAV file: " + "; ".join(problems)
                           + f"; {_CONVERT_HINT}")
    samples = chunks.get(b"data")
    if samples is None:
        raise BadRecording("the WAV file has no audio (data chunk); it is damaged")
    frames = len(samples) // 2
    if frames == 0:
        raise BadRecording("the WAV file holds no audio (0 seconds)")
    return WavInfo(rate, channels, bits, frames)


def _chunks(data: bytes) -> dict[bytes, bytes]:
    """The RIFF chunks of a WAV file by id (the first of each); a cut-off last chunk is
    kept as far as it goes (recorders that died leave such files, and they play)."""
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        chunks.setdefault(chunk_id, data[offset + 8:offset + 8 + size])
        offset += 8 + size + (size & 1)  # chunks are padded to an even length
    return chunks


_FORMATS = {3: "32-bit float", 6: "A-law", 7: "mu-law", 2: "ADPCM", 17: "IMA ADPCM",
            49: "GSM", 85: "MP3"}


def _what_it_looks_like(data: bytes) -> str:
    if data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "it looks like an MP3"
    if data[:4] == b"OggS":
        return "it looks like an Ogg file"
    if data[:4] == b"fLaC":
        return "it looks like a FLAC file"
    return f"it starts with {data[:8]!r}"
