"""A source version as a Hugging Face dataset card: YAML front matter (emitted by PyYAML) and a
short Markdown body. A licence the Hub knows is named by its Hub id; any other licence is
``license: other`` with ``license_name`` and ``license_link``, as the Hub asks."""

from typing import Any

import yaml

from registry.interchange.facts import Links, SourceFacts, acquisition, licence_url
from registry.licences.models import Licence
from registry.licences.spdx import listed_licence_id

MEDIA_TYPE = "text/markdown; charset=utf-8"

# SPDX ids of the Hub's licence list, where the Hub's id is not simply the lowercased SPDX id.
_HUB_SPELLING = {"ODC-By-1.0": "odc-by", "ODbL-1.0": "odbl", "PDDL-1.0": "pddl"}
# The SPDX ids (lowercased) that the Hub lists under the same name.
_HUB_IDS = {
    "apache-2.0", "mit", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd-2-clause", "bsd-3-clause",
    "bsd-3-clause-clear", "cc0-1.0", "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0",
    "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0",
    "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0", "epl-1.0",
    "epl-2.0", "eupl-1.1", "eupl-1.2", "agpl-3.0", "gpl-2.0", "gpl-3.0", "lgpl-2.1", "lgpl-3.0", "isc",
    "mpl-2.0", "osl-3.0", "postgresql", "ofl-1.1", "ncsa", "unlicense", "zlib", "lppl-1.3c", "ms-pl",
    "etalab-2.0",
}


def hub_licence_id(licence: Licence) -> str | None:
    """The Hub's id for a licence, or None when the Hub does not list it."""
    spdx_id = listed_licence_id(licence.identifier)
    if spdx_id is None:
        return None
    if spdx_id in _HUB_SPELLING:
        return _HUB_SPELLING[spdx_id]
    return spdx_id.lower() if spdx_id.lower() in _HUB_IDS else None


def front_matter(facts: SourceFacts, links: Links) -> dict[str, Any]:
    licence = facts.licence  # the source's own licence: the card's licence
    metadata: dict[str, Any] = {"pretty_name": f"{facts.source.name} {facts.source.version}"}
    hub_id = hub_licence_id(licence)
    if hub_id:
        metadata["license"] = hub_id
    else:
        metadata |= {"license": "other", "license_name": _licence_name(licence),
                     "license_link": licence_url(licence, links)}
    kinds = sorted({g.media_type.split("/")[0] for g in facts.groups})
    metadata["tags"] = ["provenance-registry", *kinds]
    return metadata


def _licence_name(licence: Licence) -> str:
    # The Hub asks for a short id-like name: the custom reference without its prefix.
    return licence.identifier.removeprefix("LicenseRef-").lower()


def dataset_card(facts: SourceFacts, links: Links) -> str:
    source, manifest = facts.source, facts.manifest
    header = yaml.safe_dump(front_matter(facts, links), sort_keys=False, allow_unicode=True)
    lines = [f"# {source.name} (version {source.version})", ""]
    if source.description:
        lines += [source.description, ""]
    lines += ["## Provenance", "",
              f"- Registry record: {links.source(source.id)}",
              f"- Acquisition: {acquisition(source)}",
              f"- Rights holders: {', '.join(h.name for h in facts.holders) or 'none recorded'}",
              f"- Files: {facts.asset_count}"]
    if manifest:
        lines += [f"- Signed manifest: {manifest.id}, payload SHA-256 `{manifest.payload_sha256}` "
                  f"({links.envelope(manifest.id)})"]
    else:
        lines += ["- Signed manifest: none yet"]
    lines += ["", "## Licences", ""]
    counts = {lic.id: 0 for lic in facts.licences}
    for group in facts.groups:
        counts[group.licence.id] += len(group.assets)
    for lic in facts.licences:
        lines.append(f"- {lic.name} ({lic.identifier}): {counts[lic.id]} file(s), AI training "
                     f"{lic.ai_training.replace('_', ' ')} — {licence_url(lic, links)}")
    return f"---\n{header}---\n\n" + "\n".join(lines) + "\n"
