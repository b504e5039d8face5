"""The ``web:`` section of a site file: the browser console's settings.

```yaml
web:
  allow: [127.0.0.1/32, 10.20.0.0/16]   # who may reach the console AND the control API
  deny: [10.20.9.0/24]                  # checked first: a denied address is refused
  session_timeout: 12h                  # idle time after which a console login ends
  secure_cookies: false                 # true when the console is served over HTTPS
  pause_reasons: [lunch, meeting, training, admin]
  crm_url: "https://crm.example.com/find?number={caller}&customer={digits}"
```

An empty ``allow`` list (the default) lets every address in that is not
denied; the listener itself is on the loopback interface unless ``qscript
serve --allow-remote-control`` says otherwise. ``crm_url`` placeholders are
filled URL-encoded from the agent's current call; an unknown placeholder is
a site error, not a broken link on every screen pop.
"""

from __future__ import annotations

import ipaddress
import re
import string
from dataclasses import dataclass, field

from yaml.nodes import Node

from .values import BadValue, parse_bool, parse_duration, parse_name
from .yamlmarks import Reader

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: What a CRM URL template may use: fields of the agent's current call.
CRM_PLACEHOLDERS = ("caller", "dialled", "digits", "language", "call_id", "agent", "group")
#: ``{saved.NAME}``: a value the script stored with ``save`` (e.g. a looked-up customer id).
_SAVED_PLACEHOLDER = re.compile(r"saved\.[A-Za-z_][A-Za-z0-9_]*")
DEFAULT_PAUSE_REASONS = ("pause", "lunch", "meeting", "training")
DEFAULT_SESSION_TIMEOUT = 12 * 3600.0


@dataclass(frozen=True, slots=True)
class WebConfig:
    allow: tuple[IpNetwork, ...] = ()
    deny: tuple[IpNetwork, ...] = ()
    session_timeout: float = DEFAULT_SESSION_TIMEOUT
    secure_cookies: bool = False
    pause_reasons: tuple[str, ...] = DEFAULT_PAUSE_REASONS
    crm_url: str = ""
    crm_fields: tuple[str, ...] = field(default=())

    def admits(self, address: str) -> bool:
        """May a request from ``address`` (a peer IP, possibly IPv4-mapped IPv6) come in?"""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:  # a Unix socket or an unknown peer: only without an allow list
            return not self.allow and not self.deny
        mapped = getattr(ip, "ipv4_mapped", None)
        if mapped is not None:
            ip = mapped
        if any(ip in network for network in self.deny if network.version == ip.version):
            return False
        return not self.allow or any(ip in network for network in self.allow
                                     if network.version == ip.version)


def parse_network(text: str) -> IpNetwork:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise BadValue(f'"{text}" is not an IP address or network',
                       "write 10.0.0.0/8, 192.168.1.7 or 2001:db8::/32") from None


def parse_crm_url(text: str) -> tuple[str, tuple[str, ...]]:
    """The template and the placeholders it uses; BadValue for an unknown one."""
    template = text.strip()
    if not template.lower().startswith(("http://", "https://")):
        raise BadValue(f'"{template}" is not an http(s) URL',
                       "e.g. https://crm.example.com/find?number={caller}")
    used = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise BadValue(f"crm_url: {error}", "write placeholders as {caller}; a literal brace as {{") \
            from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion or not (name in CRM_PLACEHOLDERS or _SAVED_PLACEHOLDER.fullmatch(name)):
            raise BadValue(f'unknown placeholder "{{{name}}}" in crm_url',
                           "placeholders: " + ", ".join("{" + p + "}" for p in CRM_PLACEHOLDERS)
                           + ", {saved.NAME}")
        used.append(name)
    return template, tuple(used)


def read_web(reader: Reader, node: Node | None) -> WebConfig:
    if node is None:
        return WebConfig()
    fields = reader.fields(node, "web", ("allow", "deny", "session_timeout", "secure_cookies",
                                         "pause_reasons", "crm_url"))
    no_crm: tuple[str, tuple[str, ...]] = ("", ())
    crm = reader.value(fields, "crm_url", "web", parse_crm_url, no_crm)
    reasons = _names(reader, fields.get("pause_reasons"), "web.pause_reasons", parse_name)
    return WebConfig(
        allow=tuple(_names(reader, fields.get("allow"), "web.allow", parse_network) or ()),
        deny=tuple(_names(reader, fields.get("deny"), "web.deny", parse_network) or ()),
        session_timeout=reader.value(fields, "session_timeout", "web", parse_duration,
                                     DEFAULT_SESSION_TIMEOUT),
        secure_cookies=reader.value(fields, "secure_cookies", "web", parse_bool, False),
        pause_reasons=tuple(reasons) if reasons else DEFAULT_PAUSE_REASONS,
        crm_url=crm[0], crm_fields=crm[1])


def _names(reader: Reader, node: Node | None, path: str, parser) -> list | None:
    if node is None:
        return None
    values = []
    for index, item in enumerate(reader.items(node, path)):
        value = reader.parse(item, f"{path}[{index}]", parser)
        if value is not None:
            values.append(value)
    return values
