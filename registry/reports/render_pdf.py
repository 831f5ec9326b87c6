"""Reports as PDF (reportlab). ``invariant=1`` drops the creation time and random document id,
so identical reports give identical bytes."""

import io
from collections.abc import Iterable
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Image, Paragraph, Preformatted, SimpleDocTemplate, Spacer, Table, TableStyle

from registry.checks.schemas import found_by
from registry.reports.schemas import ClearanceReport, CompensationStatement, CopyrightEvidenceReport, Thumbnail

_STYLES = getSampleStyleSheet()
_CELL = ParagraphStyle("cell", fontName="Helvetica", fontSize=7, leading=8.5,
                       wordWrap="CJK")  # CJK wrapping breaks long ids anywhere
_WIDTH = 180 * mm  # A4 less the margins
_THUMB_W = 75 * mm
_GRID = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("FONTSIZE", (0, 0), (-1, -1), 8),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8"))])


def _p(text: object, style: str = "BodyText") -> Paragraph:
    return Paragraph(escape(str(text)), _STYLES[style])


def _small(text: object) -> Paragraph:
    return Paragraph(escape(str(text)), _STYLES["Code"])


def _cell(text: object) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)), _CELL)


def _table(header: list[str], rows: Iterable[list[object]], widths: list[float] | None = None) -> Table:
    data = [[_cell(h) for h in header]] + [[_cell(v) for v in row] for row in rows]
    widths = widths or [_WIDTH / len(header)] * len(header)
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(_GRID)
    return table


def _pdf(title: str, story: list[Flowable]) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=title, author="Media Provenance Registry",
                            creator="Media Provenance Registry", invariant=1,
                            leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm)
    doc.build([_p(title, "Title"), *story])
    return buffer.getvalue()


def _thumb(thumb: Thumbnail, images: dict[str, bytes], label: str) -> list[Flowable]:
    caption = f"{label}" + (f" at {thumb.time_s:.2f} s" if thumb.time_s is not None else "")
    if thumb.png_sha256 and thumb.png_sha256 in images and thumb.width and thumb.height:
        height = _THUMB_W * thumb.height / thumb.width
        return [Image(io.BytesIO(images[thumb.png_sha256]), width=_THUMB_W, height=height),
                _small(caption), _small(f"png sha256 {thumb.png_sha256[:16]}…")]
    placeholder = Table([[_small(thumb.note or "no thumbnail")]], colWidths=[_THUMB_W],
                        rowHeights=[30 * mm])
    placeholder.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.8, colors.grey),
                                     ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                                     ("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    return [placeholder, _small(caption)]


def evidence_pdf(report: CopyrightEvidenceReport, images: dict[str, bytes]) -> bytes:
    g = report.generation
    story: list[Flowable] = [
        _p(f"Generation {g.id}: “{g.title}” ({g.production}), made by model {g.model}, "
           f"intended use {g.intended_use}; licences evaluated as of {report.evaluated_on}."),
        _p(f"Log checkpoint: size {report.checkpoint.size}, root {report.checkpoint.root}"),
    ]
    for n, m in enumerate(report.matches, start=1):
        holders = ", ".join(h.name for h in m.work.holders) or "unknown"
        story += [Spacer(1, 4 * mm), _p(f"Match {n}: {m.work.source_name}, asset {m.work.asset_id}", "Heading2"),
                  _p(f"Rights holder(s): {holders}. Licence: {m.work.licence.name} "
                     f"({m.work.licence.identifier}). {m.use.value}: {m.permitted.value}."),
                  _p(f"Check {m.check_id} ({m.item_name}) via {m.via}: verdict {m.verdict}, "
                     f"score {m.score}, distance {m.distance}. Manifest {m.manifest_id}."),
                  _p(f"Found by {found_by(m)}.")]
        story += [_p(f"– {r.message}") for r in m.reasons]
        for ev in m.spans:
            if ev.span:
                s = ev.span
                story.append(_small(f"span: generated {s.query_start_s}–{s.query_end_s} s ↔ registered "
                                    f"{s.reference_start_s}–{s.reference_end_s} s, speed {s.speed}, "
                                    f"agreement {s.agreement}, {s.matched_frames} frames"
                                    + (", mirrored" if s.mirrored else "")))
            pair = Table([[_thumb(ev.generated, images, "generated"),
                           _thumb(ev.registered, images, "registered")]],
                         colWidths=[_THUMB_W + 5 * mm] * 2)
            pair.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
            story.append(pair)
    story += [Spacer(1, 4 * mm), _p("Audit-log proofs", "Heading2"),
              _table(["role", "entity", "action", "idx", "leaf hash"],
                     [[p.role, p.entity_id, p.action, p.idx, p.inclusion.leaf_hash] for p in report.proofs],
                     [22 * mm, 38 * mm, 35 * mm, 12 * mm, 73 * mm]),
              Spacer(1, 3 * mm), Preformatted(report.checkpoint.note, _STYLES["Code"])]
    return _pdf("Copyright evidence report", story)


def clearance_pdf(report: ClearanceReport) -> bytes:
    scope = f"generation {report.generation_id}" if report.generation_id else f"production “{report.production}”"
    story: list[Flowable] = [_p(f"Clearance of {scope} for {report.use.value} on {report.on}: "
                                f"{report.verdict.upper()}", "Heading3")]
    story += [_p("End credits", "Heading2")] + [_p(line) for line in report.credits or ["none"]]
    story += [_p("Fees", "Heading2"), _table(["kind", "text", "source", "basis"],
                                             [[f.kind, f.text, f.source_id, f.basis] for f in report.fees],
                                             [20 * mm, 100 * mm, 40 * mm, 20 * mm])]
    if report.other_obligations:
        story += [_p("Other obligations", "Heading2"),
                  _table(["kind", "text"], [[o.kind, o.text] for o in report.other_obligations],
                         [30 * mm, 150 * mm])]
    story += [_p("Blockers", "Heading2"),
              _table(["code", "message", "basis", "source", "asset"],
                     [[b.code, b.message, b.basis, b.source_id, b.asset_id] for b in report.blockers],
                     [28 * mm, 72 * mm, 16 * mm, 32 * mm, 32 * mm])]
    story += [_p("Works drawn on", "Heading2"),
              _table(["asset", "source", "licence", "verdict", "generations"],
                     [[w.work.asset_id, w.work.source_name, w.work.licence.identifier, w.verdict.value,
                       ", ".join(w.generation_ids)] for w in report.works],
                     [40 * mm, 45 * mm, 30 * mm, 20 * mm, 45 * mm])]
    story += [_p("Training sources", "Heading2"),
              _table(["model", "source", "weight", "verdict"],
                     [[t.model_id, t.source_name, t.weight, t.verdict.value] for t in report.training],
                     [45 * mm, 75 * mm, 30 * mm, 30 * mm])]
    return _pdf("Clearance report", story)


def compensation_pdf(report: CompensationStatement) -> bytes:
    f = report.formula
    names = {s.source_id: s.source_name for s in report.sources}
    story: list[Flowable] = [
        _p(f"Model {report.model.name} {report.model.version} ({report.model.id}, {report.model.owner}); "
           f"period {report.period_start} to {report.period_end}; pool {report.pool} {report.currency}."),
        _p(f"Formula: training share {f.training_share}, match share {f.match_share} "
           f"(by {f.match_basis.value}); effective {f.effective_training_share} / {f.effective_match_share}."),
        _p(f.description), _p(f"Rounding: {f.rounding}."),
        _p("Training sources", "Heading2"),
        _table(["source", "weight", "normalised", "live assets", "units"],
               [[s.source_name, s.weight, s.normalised_weight, s.live_assets, s.attributable_units]
                for s in report.sources]),
        _p("Statement", "Heading2"),
        _table(["holder", "asset units by source", "training share", "matches", "share", "amount"],
               [[f"{line.holder_name} ({line.holder_id})",
                 "; ".join(f"{names[s.source_id]}: {s.asset_units}" for s in line.sources),
                 line.training_share, line.matches, f"{line.share} = {line.share_decimal}",
                 f"{line.amount} {report.currency}"] for line in report.lines]
               + [["total of all lines", "", f.effective_training_share, report.match_total, "1",
                   f"{report.distributed} {report.currency}"]],
               [42 * mm, 36 * mm, 20 * mm, 16 * mm, 36 * mm, 30 * mm]),
    ]
    if len(report.lines) < report.line_count:
        story.append(_p(f"Showing {len(report.lines)} of {report.line_count} lines (your own)."))
    return _pdf("Compensation statement", story)
