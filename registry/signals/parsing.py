"""Reading opt-out evidence into findings (pure: no database, no network).

Formats followed:
- robots.txt, RFC 9309: groups and Allow/Disallow matching by ``protego``; the extension
  lines it does not know are read here, within the crawler's group:
  - ``Content-Usage: [path] <prefs>`` (draft-ietf-aipref-attach-05), whose preferences use
    the vocabulary of draft-ietf-aipref-vocab-05: ``train-ai`` (AI training), with the
    earlier drafts' ``train-genai`` (generative AI training, a part of it) and ``bots`` /
    ``all`` (automated processing, its parent: read only when ``train-ai`` is not stated),
    ``search`` and ``ai-input`` (recorded, not about training); values ``y`` / ``n``.
  - Cloudflare's ``Content-Signal: [path] search=yes, ai-train=no, ai-input=no``.
  Both are RFC 9651 dictionaries, parsed by ``http-sfv``.
- the Content-Usage HTTP header (draft-ietf-aipref-attach-05), the same dictionary.
- W3C TDMRep (Final Community Group Report, 2024): ``/.well-known/tdmrep.json`` rules
  (``location`` in the robots.txt path syntax, ``tdm-reservation`` 0/1, ``tdm-policy``; the
  first rule whose location matches applies) and the ``tdm-reservation`` / ``tdm-policy``
  headers.
- ``X-Robots-Tag: [agent:] noai, noimageai`` (DeviantArt's directives, as crawlers read them).
- Spawning's ai.txt: robots.txt syntax whose Disallow lines name file types (``*.png``)
  or the whole site (``/``).
"""

import json
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import http_sfv
from protego import Protego

from registry.signals.findings import Finding, Kind, Reading, unreadable

# Crawlers whose published purpose is collecting AI training data: a robots.txt group of
# theirs that disallows the path reserves AI training whichever crawler observed it.
AI_TRAINING_AGENTS = frozenset({
    "gptbot", "ccbot", "google-extended", "claudebot", "anthropic-ai", "applebot-extended",
    "meta-externalagent", "bytespider", "cohere-training-data-crawler", "ai2bot",
})
# Purposes of the aipref vocabulary and Cloudflare's Content-Signal that a finding is kept for.
_AIPREF_KEYS = ("train-ai", "train-genai", "bots", "all", "search", "ai-input")
_CONTENT_SIGNAL_KEYS = ("ai-train", "search", "ai-input")
_X_ROBOTS_AI = {"noai": None, "noimageai": ["image/*"]}
# X-Robots-Tag directives that carry a value after a colon (not a user-agent scope).
_X_ROBOTS_VALUED = {"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"}
_MIME = mimetypes.MimeTypes()  # the built-in table only: the same answer on every machine


@dataclass
class _Line:
    number: int
    field: str
    value: str
    raw: str


@dataclass
class _Group:
    agents: list[str]
    lines: list[_Line] = field(default_factory=list)


def _groups(text: str) -> list[_Group]:
    """robots.txt groups (RFC 9309 section 2.1): user-agent lines open a group, the lines
    after them belong to it until the next user-agent line that follows a rule."""
    groups: list[_Group] = []
    current: _Group | None = None
    last_was_agent = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        name, value = (part.strip() for part in line.split(":", 1))
        name = name.lower()
        if name == "user-agent":
            if current is None or not last_was_agent:
                current = _Group([])
                groups.append(current)
            current.agents.append(value.lower())
            last_was_agent = True
        elif current is not None:
            current.lines.append(_Line(number, name, value, raw.strip()))
            last_was_agent = False
    return groups


def _group_lines(groups: list[_Group], agent: str) -> tuple[str, list[_Line]]:
    """The lines of the groups for ``agent`` (its product token, else ``*``), combined as
    RFC 9309 combines groups naming the same agent."""
    for name in (agent.lower(), "*"):
        matched = [g for g in groups if name in g.agents]
        if matched:
            return name, [line for g in matched for line in g.lines]
    return agent.lower(), []


NOT_A_DICTIONARY = "not an RFC 9651 dictionary"


def _dictionary(value: str) -> dict[str, Any] | None:
    """The preferences, or None when the value does not parse (RFC 9651 4.2: then the
    whole field is ignored)."""
    parsed = http_sfv.Dictionary()
    try:
        parsed.parse(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    return {key: member.value for key, member in parsed.items()}


def _path_and_prefs(value: str) -> tuple[str, str]:
    """A Content-Usage / Content-Signal line's optional path, and its preferences."""
    if value.startswith("/"):
        path, _, prefs = value.partition(" ")
        return path, prefs.strip()
    return "/", value


def _longest_match(lines: list[_Line], path: str) -> list[_Line]:
    """Of path-scoped lines, those whose path is the longest prefix of ``path``."""
    scoped = [(p, line) for line in lines for p in [_path_and_prefs(line.value)[0]] if path.startswith(p)]
    longest = max((len(p) for p, _ in scoped), default=-1)
    return [line for p, line in scoped if len(p) == longest]


def _preferences(line: _Line, agent: str, signal: str, keys: Iterable[str], yes: str,
                 no: str) -> list[Finding]:
    prefs = _dictionary(_path_and_prefs(line.value)[1])
    if prefs is None:
        return [unreadable(signal, f"line {line.number}", line.raw, NOT_A_DICTIONARY, agent)]
    return _preference_findings(prefs, f"line {line.number}", agent, signal, keys, yes, no, line.raw)


def _preference_findings(prefs: dict[str, Any], location: str, agent: str | None, signal: str,
                         keys: Iterable[str], yes: str, no: str, statement: str) -> list[Finding]:
    findings = []
    for key in keys:
        value = str(prefs.get(key, "")).lower()
        if value not in (yes, no):
            continue  # unknown values are no statement (draft-ietf-aipref-vocab-05, 6)
        if key in ("bots", "all") and str(prefs.get("train-ai", "")).lower() in (yes, no):
            continue  # the specific category overrides its parent
        findings.append(Finding(signal=signal, location=location, user_agent=agent, purpose=key,
                                reading=Reading.permitted if value == yes else Reading.reserved,
                                statement=statement[:500]))
    return findings


def parse_robots_txt(text: str, agent: str, path: str) -> list[Finding]:
    robots = Protego.parse(text)
    groups = _groups(text)
    group_agent, lines = _group_lines(groups, agent)
    findings = []
    named = {a for g in groups for a in g.agents}
    # The crawler's own group, and the groups of named AI-training crawlers.
    for token in sorted({agent.lower()} | (AI_TRAINING_AGENTS & named)):
        if not robots.can_fetch(path, token):
            findings.append(Finding(
                signal="robots_disallow", location=f"group User-agent: {_group_lines(groups, token)[0]}",
                user_agent=token, purpose="ai-training-crawler" if token in AI_TRAINING_AGENTS else "crawl",
                reading=Reading.reserved, statement=f"Disallow covering {path}"))
    usage = [line for line in lines if line.field == "content-usage"]
    for line in _longest_match(usage, path):
        findings += _preferences(line, group_agent, "content_usage", _AIPREF_KEYS, "y", "n")
    signals = [line for line in lines if line.field == "content-signal"]
    for line in _longest_match(signals, path):
        findings += _preferences(line, group_agent, "content_signal", _CONTENT_SIGNAL_KEYS, "yes", "no")
    return findings


def parse_ai_txt(text: str, agent: str, path: str, media_types: list[str]) -> list[Finding]:
    """Spawning's ai.txt: the whole site disallowed, or the file types of these media."""
    rules = Protego.parse(text)
    if not rules.can_fetch(path, agent):
        return [Finding(signal="ai_txt_disallow", location="ai.txt", user_agent=agent.lower(),
                        purpose="ai-training", reading=Reading.reserved,
                        statement=f"Disallow covering {path}")]
    covered = [media for media in media_types
               if any(not rules.can_fetch(f"{path.rstrip('/')}/file{ext}", agent)
                      for ext in _MIME.guess_all_extensions(media))]
    if not covered:
        return []
    return [Finding(signal="ai_txt_disallow", location="ai.txt", user_agent=agent.lower(),
                    purpose="ai-training", reading=Reading.reserved, media_types=covered,
                    statement="Disallow of the file types of " + ", ".join(covered))]


def _location_matches(location: str, path: str) -> bool:
    # tdmrep.json locations use the robots.txt path syntax: matched by the same library.
    return not Protego.parse(f"User-agent: *\nDisallow: {location}").can_fetch(path, "*")


def _tdm_finding(reservation: Any, policy: Any, location: str, statement: str) -> Finding:
    """A TDMRep reservation (0 or 1) with its optional policy URL; unreadable otherwise."""
    if isinstance(reservation, bool) or reservation not in (0, 1, "0", "1"):
        return unreadable("tdm_reservation", location, statement,
                          f"tdm-reservation must be 0 or 1, not {reservation!r}")
    if policy is not None and (not isinstance(policy, str) or len(policy) > 2000
                               or not policy.startswith(("https://", "http://"))):
        return unreadable("tdm_reservation", location, statement, "tdm-policy must be an http(s) URL")
    reading = (Reading.permitted if not int(reservation) else
               Reading.reserved_with_policy if policy else Reading.reserved)
    return Finding(signal="tdm_reservation", location=location, user_agent=None, purpose="tdm",
                   reading=reading, statement=statement[:500], policy=policy)


def parse_tdmrep_json(text: str, path: str) -> list[Finding]:
    """The first rule whose location matches; rules that are not rules are recorded."""
    try:
        rules = json.loads(text)
    except ValueError as exc:
        return [unreadable("tdm_reservation", "tdmrep.json", text, f"not JSON: {exc}")]
    if not isinstance(rules, list):
        return [unreadable("tdm_reservation", "tdmrep.json", text, "not a JSON array of rules")]
    findings = []
    for index, rule in enumerate(rules):
        where, statement = f"rules[{index}]", json.dumps(rule, sort_keys=True)
        if not isinstance(rule, dict) or not isinstance(rule.get("location"), str):
            findings.append(unreadable("tdm_reservation", where, statement,
                                       "a rule is an object with a location string"))
        elif _location_matches(rule["location"], path):
            return findings + [_tdm_finding(rule.get("tdm-reservation"), rule.get("tdm-policy"),
                                            where, statement)]
    return findings


def _x_robots_tag(value: str, index: int, agent: str) -> list[Finding]:
    scope: str | None = None
    head, sep, rest = value.partition(":")
    if sep and "," not in head and head.strip().lower() not in _X_ROBOTS_VALUED:
        scope, value = head.strip().lower(), rest
    if scope is not None and scope != agent.lower() and scope not in AI_TRAINING_AGENTS:
        return []
    directives = {d.strip().lower() for d in value.split(",")}
    return [Finding(signal="x_robots_tag", location=f"header X-Robots-Tag #{index}", user_agent=scope,
                    purpose=name, reading=Reading.reserved, media_types=media,
                    statement=f"X-Robots-Tag: {value.strip()}"[:500] if scope is None
                    else f"X-Robots-Tag: {scope}: {value.strip()}"[:500])
            for name, media in _X_ROBOTS_AI.items() if name in directives]


def parse_headers(headers: list[tuple[str, str]], agent: str) -> list[Finding]:
    by_name: dict[str, list[str]] = {}
    for name, value in headers:
        by_name.setdefault(name.strip().lower(), []).append(value.strip())
    findings = []
    if "content-usage" in by_name:
        # Field lines of one name combine into one comma-separated value (RFC 9110, 5.3).
        combined = ", ".join(by_name["content-usage"])
        prefs = _dictionary(combined)
        statement = f"Content-Usage: {combined}"
        findings += ([unreadable("content_usage", "header Content-Usage", statement, NOT_A_DICTIONARY)]
                     if prefs is None else
                     _preference_findings(prefs, "header Content-Usage", None, "content_usage",
                                          _AIPREF_KEYS, "y", "n", statement))
    if "tdm-reservation" in by_name:
        values = sorted(set(by_name["tdm-reservation"]))
        policies = by_name.get("tdm-policy", [])
        policy = policies[0] if policies else None
        statement = f"tdm-reservation: {', '.join(values)}" + (f"; tdm-policy: {policy}" if policy else "")
        findings.append(_tdm_finding(values[0], policy, "header tdm-reservation", statement) if len(values) == 1
                        else unreadable("tdm_reservation", "header tdm-reservation", statement,
                                        "conflicting values"))
    for index, value in enumerate(by_name.get("x-robots-tag", []), start=1):
        findings += _x_robots_tag(value, index, agent)
    return findings


def parse(kind: Kind, *, content: str | None, headers: list[tuple[str, str]] | None, agent: str,
          path: str, media_types: list[str]) -> list[Finding]:
    """The findings of one observation, for the crawler ``agent`` and the site path ``path``."""
    if kind is Kind.http_headers:
        return parse_headers(headers or [], agent)
    text = content or ""
    if kind is Kind.robots_txt:
        return parse_robots_txt(text, agent, path)
    if kind is Kind.ai_txt:
        return parse_ai_txt(text, agent, path, media_types)
    return parse_tdmrep_json(text, path)
