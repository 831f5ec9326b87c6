"""The summary as Markdown (the layout of ``layout.blocks``)."""

from registry.trainingsummary.layout import Fields, Heading, TableBlock, Text, blocks
from registry.trainingsummary.schemas import TrainingContentSummary


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_md(summary: TrainingContentSummary) -> bytes:
    lines: list[str] = []
    for block in blocks(summary):
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Fields):
            lines += [f"- **{label}:** {_cell(value)}" for label, value in block.rows] + [""]
        elif isinstance(block, TableBlock):
            lines += ["| " + " | ".join(block.header) + " |", "|" + "---|" * len(block.header)]
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows] + [""]
        elif isinstance(block, Text):
            lines += [block.text, ""]
    return ("\n".join(lines).rstrip() + "\n").encode()
