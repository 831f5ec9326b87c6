"""The summary as PDF, laid out like the template (``layout.blocks``), with reportlab;
``invariant=1``: the same summary gives the same bytes."""

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from registry.trainingsummary.layout import Fields, Heading, TableBlock, Text, blocks
from registry.trainingsummary.schemas import TrainingContentSummary

_STYLES = getSampleStyleSheet()
# Words wrap whole; only a word wider than its column (an id, a digest) is split (splitLongWords).
_CELL = ParagraphStyle("summary-cell", fontName="Helvetica", fontSize=7, leading=8.5, splitLongWords=1)
_LABEL = ParagraphStyle("summary-label", parent=_CELL, fontName="Helvetica-Bold")
_WIDTH = 180 * mm
# Headings stay with what follows them (none left alone at the foot of a page).
_HEADINGS = {level: ParagraphStyle(f"summary-h{level}", parent=_STYLES[name], keepWithNext=1)
             for level, name in ((1, "Title"), (2, "Heading2"), (3, "Heading3"))}
_GRID = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")])
_HEADER = TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8"))])
_LABELS = TableStyle([("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eef2f8"))])


def _cell(text: str, style: ParagraphStyle = _CELL) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _flowables(block: object) -> list[Flowable]:
    if isinstance(block, Heading):
        return [Paragraph(escape(block.text), _HEADINGS[block.level])]
    if isinstance(block, Fields):  # the template's boxes: label left, answer right
        table = Table([[_cell(label, _LABEL), _cell(value)] for label, value in block.rows],
                      colWidths=[55 * mm, _WIDTH - 55 * mm])
        table.setStyle(_GRID)
        table.setStyle(_LABELS)
        return [table, Spacer(1, 3 * mm)]
    if isinstance(block, TableBlock):
        data = [[_cell(h, _LABEL) for h in block.header]] + [[_cell(c) for c in row] for row in block.rows]
        table = Table(data, colWidths=[_WIDTH / len(block.header)] * len(block.header), repeatRows=1)
        table.setStyle(_GRID)
        table.setStyle(_HEADER)
        return [table, Spacer(1, 3 * mm)]
    assert isinstance(block, Text)
    return [Paragraph(escape(block.text).replace("\n", "<br/>"), _STYLES["BodyText"])]


def summary_pdf(summary: TrainingContentSummary) -> bytes:
    story = [f for block in blocks(summary) for f in _flowables(block)]
    footer = f"Summary version {summary.summary_version}, last update {summary.last_update.isoformat()}"

    def on_page(canvas: Canvas, doc: SimpleDocTemplate) -> None:  # every page says which version it is
        canvas.setFont("Helvetica", 7)
        canvas.drawString(15 * mm, 8 * mm, f"{footer}; page {doc.page}")

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, invariant=1, author=summary.general.provider.name,
                            title=f"Public Summary of Training Content, {summary.general.model.name} "
                                  f"{summary.general.model.version}, version {summary.summary_version}",
                            creator="Media Provenance Registry", leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm)
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
