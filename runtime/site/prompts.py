"""The prompt catalogue and hot prompts.

A **prompt** is a name a script plays (``play "welcome"``) and, per language,
the media the runtime plays for it: an Asterisk sound name such as
``sv/welcome`` (no extension; Asterisk picks the best format it has) or any
media URI ARI accepts (``sound:...``, ``recording:...``). The site file maps
the name to one media for every language or to one per language::

    hold: custom/hold                          # every language
    welcome: {sv: sv/welcome, en: en/welcome}  # per language
    legal: {sv: sv/legal, any: common/legal}   # per language, "any" for the rest

Resolution for a call's language: that language, then its base language
(``en-GB`` -> ``en``), then the site's default language, then ``any``. The
loader insists that every prompt resolves for the default language, so a
known prompt always has media.

A **hot prompt** is a switch an operator flips at run time (during an outage,
say) that a script tests with ``hot_prompt_active("outage")`` and plays; the
site file gives the prompt it plays and whether it starts switched on.
:class:`HotPromptSwitches` holds the switch positions while the runtime runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Mapping

from .yamlmarks import did_you_mean

#: The key of the language-independent media in a per-language prompt.
ANY_LANGUAGE = "any"


class UnknownPrompt(LookupError):
    """A prompt or hot prompt name the site does not define."""


def _unknown(kind: str, name: str, known) -> UnknownPrompt:
    hint = did_you_mean(name, known)
    return UnknownPrompt(f'unknown {kind} "{name}"' + (f"; {hint}" if hint else ""))


@dataclass(frozen=True, slots=True)
class Prompt:
    """One catalogue entry: media per language, and/or media for any language."""

    name: str
    by_language: Mapping[str, str] = field(default_factory=dict)
    any_language: str | None = None

    def media_for(self, languages: list[str]) -> str | None:
        """The media for the first language in ``languages`` that has one, else ``any``."""
        for language in languages:
            if language in self.by_language:
                return self.by_language[language]
        return self.any_language


@dataclass(frozen=True)
class PromptCatalogue:
    """Every prompt of a site, resolved by name and call language."""

    default_language: str
    prompts: Mapping[str, Prompt] = field(default_factory=dict)
    #: Uploaded recordings in force, (name, language) -> media URI: they replace the
    #: site file's media of that language (runtime/live/prompt_uploads.py sets them
    #: while the runtime runs; a plain dict, so a play reads it without a lock).
    uploaded: dict[tuple[str, str], str] = field(default_factory=dict, compare=False)

    def __contains__(self, name: str) -> bool:
        return name in self.prompts

    def names(self) -> frozenset[str]:
        return frozenset(self.prompts)

    def media(self, name: str, language: str | None = None) -> str:
        """The media to play for prompt ``name`` in ``language`` (None: the default language)."""
        prompt = self.prompts.get(name)
        if prompt is None:
            raise _unknown("prompt", name, self.prompts)
        languages = self.fallback_languages(language)
        media = (self._uploaded_media(prompt, languages) if self.uploaded
                 else prompt.media_for(languages))
        if media is None:  # the loader refuses such catalogues; guard against hand-built ones
            raise UnknownPrompt(f'prompt "{name}" has no media for "{language}" nor for the '
                                f'default language "{self.default_language}"')
        return media

    def _uploaded_media(self, prompt: Prompt, languages: list[str]) -> str | None:
        """Like :meth:`Prompt.media_for`, an upload counting as that language's media: a
        recording uploaded for ``en`` plays for ``en-GB`` calls unless the site file
        has ``en-GB`` media of its own (the more specific language wins)."""
        for language in languages + [ANY_LANGUAGE]:
            uploaded = self.uploaded.get((prompt.name, language))
            if uploaded is not None:
                return uploaded
            if language in prompt.by_language:
                return prompt.by_language[language]
        return prompt.any_language

    def fallback_languages(self, language: str | None) -> list[str]:
        """The languages tried, in order, for a call in ``language``."""
        order = []
        if language:
            order.append(language)
            base = language.split("-")[0]
            if base != language:
                order.append(base)
        if self.default_language not in order:
            order.append(self.default_language)
        return order


@dataclass(frozen=True, slots=True)
class HotPrompt:
    """A switchable extra prompt: the catalogue prompt it plays and its state at start."""

    name: str
    prompt: str
    active: bool = False


class HotPromptSwitches:
    """The run-time on/off state of a site's hot prompts (safe to share between threads)."""

    def __init__(self, hot_prompts: Mapping[str, HotPrompt]):
        self._definitions = dict(hot_prompts)
        self._active = {name: hot.active for name, hot in hot_prompts.items()}
        self._lock = threading.Lock()

    def is_active(self, name: str) -> bool:
        self._check(name)
        return self._active[name]

    def set(self, name: str, active: bool) -> None:
        self._check(name)
        with self._lock:
            self._active[name] = bool(active)

    def activate(self, name: str) -> None:
        self.set(name, True)

    def deactivate(self, name: str) -> None:
        self.set(name, False)

    def active_prompts(self) -> list[HotPrompt]:
        """The hot prompts switched on now, in site-file order."""
        return [self._definitions[n] for n, on in self._active.items() if on]

    def snapshot(self) -> dict[str, bool]:
        with self._lock:
            return dict(self._active)

    def _check(self, name: str) -> None:
        if name not in self._definitions:
            raise _unknown("hot prompt", name, self._definitions)
