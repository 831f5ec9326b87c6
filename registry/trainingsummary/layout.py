"""The summary laid out as the template reads, once, for both the PDF and the Markdown:
a list of blocks (headings, label/value fields, tables, paragraphs) each renderer draws."""

from dataclasses import dataclass

from registry.trainingsummary.schemas import SourceEntry, TrainingContentSummary


@dataclass(frozen=True)
class Heading:
    level: int  # 1: the title, 2: a template section (1, 2, 3), 3: a subsection (1.1, 2.2.1, ...)
    text: str


@dataclass(frozen=True)
class Fields:
    rows: list[tuple[str, str]]


@dataclass(frozen=True)
class TableBlock:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Text:
    text: str


Block = Heading | Fields | TableBlock | Text
_NONE = "None recorded."
_SOURCE_HEADER = ["Source", "Pinned manifest", "Assets", "Bytes", "Modalities", "Licences", "Rights holders"]


def _or_none(value: object) -> str:
    return _NONE if value in (None, "", []) else str(value)


def _sources(entries: list[SourceEntry]) -> list[Block]:
    if not entries:
        return [Text("No training source of this kind.")]
    return [TableBlock(_SOURCE_HEADER, [
        [f"{e.name} {e.version} ({e.source_id})", e.manifest_id, str(e.assets), str(e.bytes),
         ", ".join(m.value for m in e.modalities),
         "; ".join(f"{lic.identifier} (AI training: {lic.ai_training})" for lic in e.licences),
         ", ".join(e.holders)] for e in entries])]


def blocks(s: TrainingContentSummary) -> list[Block]:
    g, src, proc = s.general, s.sources, s.processing
    crawled = src.crawled
    period = crawled.collection_period
    out: list[Block] = [
        Heading(1, f"Public Summary of Training Content: {g.model.name} {g.model.version}"),
        Fields([("Version of the summary", s.summary_version), ("Last update", s.last_update.isoformat()),
                ("Template", s.template)]),
        Heading(2, "1. General information"),
        Heading(3, "1.1 Provider identification"),
        Fields([("Provider name and contact details", f"{g.provider.name}, {g.provider.contact}"),
                ("Authorised representative", _or_none(g.provider.authorised_representative))]),
        Heading(3, "1.2 Model identification"),
        Fields([("Versioned model name", f"{g.model.name} {g.model.version} ({g.model.id})"),
                ("Trained by", g.model.owner),
                ("Date of placement on the EU market", _or_none(g.model.placed_on_market)),
                ("Model dependencies (modified or fine-tuned model)", _or_none(g.model.dependencies)),
                ("Training period", f"{g.model.trained_from} to {g.model.trained_until}" if g.model.trained_from
                 else f"until {g.model.trained_until}")]),
        Heading(3, "1.3 Modalities, overall training data size and other characteristics"),
        TableBlock(["Modality", "Used", "Assets", "Size", "Size range (template)"], [
            [m.modality.value, "yes" if m.used else "no", str(m.assets),
             "" if m.amount is None else f"{m.amount:g} {m.unit}", m.size_bin or ("not known" if m.used else "")]
            for m in g.modalities]),
        Fields([("Types of content", _or_none(g.content_types)),
                ("Languages", _or_none(", ".join(g.languages))),
                ("Other relevant characteristics", _or_none(g.other_characteristics)),
                ("Latest date of data acquisition or collection", _or_none(g.latest_acquisition))]),
        Heading(2, "2. List of data sources"),
        Heading(3, "2.1 Publicly available datasets"), *_sources(src.public_datasets),
        Heading(3, "2.2 Private non-publicly available datasets obtained from third parties"),
        Heading(3, "2.2.1 Datasets commercially licensed by rightsholders or their representatives"),
        *_sources(src.licensed_from_rights_holders),
        Heading(3, "2.2.2 Private datasets obtained from other third parties"), *_sources(src.private_third_party),
        Heading(3, "2.3 Data crawled and scraped from online sources"),
        Fields([("Crawlers used", _or_none("; ".join(f"{c.name}: {c.purpose}" if c.purpose else c.name
                                                     for c in crawled.crawlers))),
                ("Description of the crawlers", _or_none(crawled.crawler_descriptions)),
                ("Collection period", _NONE if period is None else f"{period.start} to {period.end or 'ongoing'}"),
                ("Domains crawled", str(crawled.domain_count)),
                ("Most relevant domain names", crawled.top_domains_rule)]),
        *_sources(crawled.sources),
    ]
    if crawled.top_domains:
        out.append(TableBlock(["Domain", "Bytes", "Assets"],
                              [[d.domain, str(d.bytes), str(d.assets)] for d in crawled.top_domains]))
    for title, part in (("2.4 User data", src.user_data), ("2.5 Synthetic data", src.synthetic),
                        ("2.6 Other sources of data", src.other)):
        out += [Heading(3, title), Fields([("Description", _or_none(part.description))]), *_sources(part.sources)]
    out += [
        Heading(2, "3. Data processing aspects"),
        Heading(3, "3.1 Respect of reservation of rights from text and data mining exception or limitation"),
        Fields([("Signatory of the Code of Practice", {True: "yes", False: "no", None: _NONE}[
                    proc.code_of_practice_signatory]),
                ("Measures taken", _or_none(proc.tdm_measures))]),
        TableBlock(["Source", "Opt-out protocols checked", "Reserved by", "Works reserved through the registry"], [
            [e.source_name, ", ".join(e.protocols_checked) or "none recorded", ", ".join(e.reserved_by) or "none",
             "; ".join(f"{w.asset_id} (opt-out {w.opt_out_id} from {w.effective_from.date()}, by {w.matched_by})"
                       for w in e.opted_out_works) or "none"] for e in proc.tdm_evidence]),
        *([TableBlock(["Source", "Signal observed", "Observed", "Reading", "SHA-256"], [
            [e.source_name, f"{o.kind.value} {o.url}" + (f" (work {o.asset_id})" if o.asset_id else ""),
             o.observed_at.date().isoformat(), f"{o.term.value}: {o.findings_summary}", o.sha256]
            for e in proc.tdm_evidence for o in e.signal_snapshots])]
          if any(e.signal_snapshots for e in proc.tdm_evidence) else []),
        Heading(3, "3.2 Removal of illegal content"), Text(_or_none(proc.illegal_content)),
        Heading(3, "3.3 Other information"), Text(_or_none(proc.other_information)),
    ]
    return out
