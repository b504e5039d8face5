"""The prompt catalogue's language fallback, and hot prompts' run-time switches."""

from __future__ import annotations

import pytest

from runtime.site import UnknownPrompt, load_site_text

SITE = """
languages: [sv, en, fi]
prompts:
  welcome: {sv: sv/welcome, en: en/welcome}
  hold: custom/hold
  legal: {en: en/legal, any: common/legal}
  outage-msg: {sv: sv/outage, en: en/outage, fi: fi/outage}
  storm-msg: {sv: sv/storm}
hot_prompts:
  outage: {prompt: outage-msg, active: true}
  storm: {prompt: storm-msg}
  holiday-msg: {prompt: hold, active: false}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return load_site_text(SITE, "site.yaml", tmp_path_factory.mktemp("site"))


@pytest.mark.parametrize("name, language, media", [
    ("welcome", "sv", "sv/welcome"),
    ("welcome", "en", "en/welcome"),
    ("welcome", "en-GB", "en/welcome"),     # a regional variant falls back to its language
    ("welcome", "fi", "sv/welcome"),        # no Finnish recording: the default language
    ("welcome", None, "sv/welcome"),        # no language: the default language
    ("hold", "en", "custom/hold"),          # one media for every language
    ("hold", None, "custom/hold"),
    ("legal", "en", "en/legal"),
    ("legal", "sv", "common/legal"),        # neither sv nor the default: the "any" entry
    ("legal", "fi", "common/legal"),
])
def test_prompt_media_fallback(site, name, language, media):
    assert site.prompt_media(name, language) == media


def test_an_unknown_prompt(site):
    with pytest.raises(UnknownPrompt, match='unknown prompt "welcom"; did you mean "welcome"'):
        site.prompt_media("welcom", "sv")


def test_fallback_order(site):
    assert site.prompts.fallback_languages("en-GB") == ["en-GB", "en", "sv"]
    assert site.prompts.fallback_languages("sv") == ["sv"]


def test_hot_prompts_start_in_their_initial_state(site):
    assert {n: h.active for n, h in site.hot_prompts.items()} == {
        "outage": True, "storm": False, "holiday-msg": False}
    switches = site.hot_prompt_switches()
    assert switches.is_active("outage") and not switches.is_active("storm")
    assert [h.name for h in switches.active_prompts()] == ["outage"]


def test_hot_prompts_switch_at_run_time(site):
    switches = site.hot_prompt_switches()
    switches.activate("storm")
    switches.deactivate("outage")
    assert switches.snapshot() == {"outage": False, "storm": True, "holiday-msg": False}
    assert [site.prompt_media(h.prompt, "en") for h in switches.active_prompts()] == ["sv/storm"]
    # Each runtime gets its own switches; the site itself does not change.
    assert site.hot_prompt_switches().is_active("outage")
    assert site.hot_prompts["outage"].active is True


def test_an_unknown_hot_prompt(site):
    with pytest.raises(UnknownPrompt, match='did you mean "outage"'):
        site.hot_prompt_switches().activate("outgae")


def test_a_site_without_prompts(tmp_path):
    site = load_site_text("site: x\n", "site.yaml", tmp_path)
    assert site.symbols().prompts == frozenset()
    with pytest.raises(UnknownPrompt):
        site.prompt_media("welcome")
