"""Reports as CSV: one flat table each, for spreadsheets and accounting imports."""

import csv
import io
from collections.abc import Iterable

from registry.reports.schemas import ClearanceReport, CompensationStatement, CopyrightEvidenceReport

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """Names and titles are user input: a leading quote stops spreadsheets from running
    a cell as a formula (OWASP CSV injection); numbers are written as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(header: list[str], rows: Iterable[list[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return buffer.getvalue().encode()


def evidence_csv(report: CopyrightEvidenceReport) -> bytes:
    """One row per matched span (an image match is one row without span times). What
    found the match comes last (columns added later; ``mirrored`` is the span's, or the
    match's for an image or a frame)."""
    header = ["generation_id", "check_id", "asset_id", "asset_sha256", "source", "holders",
              "licence", "use", "permitted", "reasons", "via", "verdict", "score", "distance",
              "query_start_s", "query_end_s", "reference_start_s", "reference_end_s", "speed",
              "mirrored", "generated_png_sha256", "registered_png_sha256", "manifest_id",
              "channel", "coverage", "inlier_cells", "scale", "rotation_deg", "tx", "ty",
              "picture_agreement"]
    rows = []
    for m in report.matches:
        t = m.transform
        for ev in m.spans:
            s = ev.span
            rows.append([report.generation.id, m.check_id, m.work.asset_id, m.work.sha256,
                         m.work.source_name, "; ".join(h.name for h in m.work.holders),
                         m.work.licence.identifier, m.use.value, m.permitted.value,
                         "; ".join(r.message for r in m.reasons), m.via, m.verdict, m.score,
                         m.distance, s and s.query_start_s, s and s.query_end_s,
                         s and s.reference_start_s, s and s.reference_end_s, s and s.speed,
                         s.mirrored if s else m.mirrored, ev.generated.png_sha256,
                         ev.registered.png_sha256, m.manifest_id, m.channel and m.channel.value,
                         m.coverage, m.inlier_cells, t and t.scale, t and t.rotation_deg,
                         t and t.tx, t and t.ty, m.picture_agreement])
    return _csv(header, rows)


def clearance_csv(report: ClearanceReport) -> bytes:
    """Sections in one table: verdict, credit lines, fees, other obligations, blockers, works."""
    header = ["section", "text", "source_id", "asset_id", "licence_id", "amount", "currency", "code"]
    rows: list[list[object]] = [["verdict", report.verdict, None, None, None, None, None, report.use.value]]
    rows += [["credit", line, None, None, None, None, None, None] for line in report.credits]
    rows += [["fee", f.text, f.source_id, None, f.licence_id, f.amount, f.currency, f.kind]
             for f in report.fees]
    rows += [["obligation", o.text, None, None, o.licence_id, None, None, o.kind]
             for o in report.other_obligations]
    rows += [["blocker", b.message, b.source_id, b.asset_id, b.licence_id, None, None, b.code]
             for b in report.blockers]
    rows += [["work", f"{w.work.source_name}: {w.work.licence.identifier}", w.work.source_id,
              w.work.asset_id, w.work.licence.id, None, None, w.verdict.value] for w in report.works]
    rows += [["training", f"{t.source_name} (weight {t.weight})", t.source_id, None, None, None,
              None, t.verdict.value] for t in report.training]
    return _csv(header, rows)


def compensation_csv(report: CompensationStatement) -> bytes:
    header = ["holder_id", "holder_name", "training_share", "match_share", "matches", "share",
              "share_decimal", "amount", "currency"]
    rows: list[list[object]] = [[line.holder_id, line.holder_name, line.training_share,
                                 line.match_share, line.matches, line.share, line.share_decimal,
                                 line.amount, report.currency] for line in report.lines]
    rows.append(["TOTAL", f"{report.model.name} {report.model.version}, "
                 f"{report.period_start}..{report.period_end}", report.formula.effective_training_share,
                 report.formula.effective_match_share, report.match_total, "1", "", report.distributed,
                 report.currency])
    return _csv(header, rows)
