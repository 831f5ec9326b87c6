"""The compensation formula: a royalty pool divided among rights holders, exactly.

Pure arithmetic on exact fractions (no database, no floats) so that anyone holding the
statement's inputs can recompute every line:

    share(h) = T * sum over sources s of (w_s / W) * (u_{s,h} / U_s)  +  M * (m_h / M_total)

- ``T`` (training share, default 0.80) is split across the model's training sources by their
  normalised weights ``w_s / W``; within a source by its live assets: an asset with its own
  rights holder is one unit for that holder, any other asset one unit split equally among the
  source's holders (``u_{s,h}`` of ``U_s`` units). A source with no attributable asset is
  left out and the weights are normalised over the others.
- ``M = 1 - T`` (match share) is split by the holders' matched works (or spans) in the
  model's generations checked within the period; a work with several holders counts 1/n
  for each. With no match in the period the match share folds into the training share;
  with nothing attributable to training it all goes to matches.
- Rounding: each amount is rounded down to the currency's minor unit, then the minor units
  left over go one each to the largest remainders (ties by holder id), so the lines add up
  to the pool exactly.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from registry.core.errors import Conflict

DEFAULT_TRAINING_SHARE = Decimal("0.80")
FORMULA_TEXT = (
    "share(h) = T * sum_s (w_s / W) * (u_s,h / U_s) + M * (m_h / M_total). T, the training "
    "share, is split across the model's training sources by normalised weight, then within a "
    "source by live assets: an asset with its own rights holder is one unit for that holder, "
    "any other asset one unit split equally among the source's holders; sources without an "
    "attributable asset are left out. M = 1 - T is split by matched works (or spans) in the "
    "model's generations checked within the period, a work with n holders counting 1/n for "
    "each. With no match in the period M folds into T; with nothing attributable to "
    "training everything goes to matches.")
ROUNDING_RULE = ("each amount is rounded down to the currency's minor unit; the minor units "
                 "left over go one each to the lines with the largest remainders (ties by "
                 "holder id), so the lines add up to the pool exactly")


@dataclass
class SourceInput:
    source_id: str
    weight: Decimal
    units: dict[str, Fraction]  # holder id -> asset units held in this source
    live_assets: int


@dataclass
class HolderShare:
    holder_id: str
    training: Fraction = Fraction(0)
    matches: Fraction = Fraction(0)
    by_source: dict[str, Fraction] = field(default_factory=dict)  # share of the pool via s
    share: Fraction = Fraction(0)
    amount: Decimal = Decimal(0)


@dataclass
class Division:
    training_share: Fraction  # effective, after folding
    match_share: Fraction
    normalised_weights: dict[str, Fraction]  # attributable sources only
    match_total: Fraction
    holders: list[HolderShare]  # sorted by holder id


def fraction_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def decimal_text(value: Fraction, places: int = 12) -> str:
    """A share as a decimal, rounded half-even to ``places`` (the fraction is the exact value)."""
    quantum = Decimal(1).scaleb(-places)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return str(exact.quantize(quantum))


def divide(pool: Decimal, exponent: int, training_share: Decimal, sources: list[SourceInput],
           matches: dict[str, Fraction]) -> Division:
    attributable = [s for s in sources if sum(s.units.values(), Fraction(0)) > 0 and s.weight > 0]
    total_weight = sum((Fraction(s.weight) for s in attributable), Fraction(0))
    match_total = sum(matches.values(), Fraction(0))
    t, m = Fraction(training_share), 1 - Fraction(training_share)
    if match_total == 0:
        t, m = Fraction(1), Fraction(0)
    if total_weight == 0:
        t, m = Fraction(0), Fraction(1)
    if total_weight == 0 and match_total == 0:
        raise Conflict("nothing to divide: the model's training sources have no attributable "
                       "assets and its generations have no matches in the period")
    holders: dict[str, HolderShare] = {}
    weights = {s.source_id: Fraction(s.weight) / total_weight for s in attributable} if t else {}
    for s in attributable if t else []:
        units = sum(s.units.values(), Fraction(0))
        for holder_id, u in s.units.items():
            part = t * weights[s.source_id] * u / units
            line = holders.setdefault(holder_id, HolderShare(holder_id))
            line.training += part
            line.by_source[s.source_id] = part
    for holder_id, count in matches.items() if m else []:
        line = holders.setdefault(holder_id, HolderShare(holder_id))
        line.matches = m * count / match_total
    lines = sorted(holders.values(), key=lambda h: h.holder_id)
    for line in lines:
        line.share = line.training + line.matches
    _allocate(pool, exponent, lines)
    return Division(t, m, weights, match_total, lines)


def _allocate(pool: Decimal, exponent: int, lines: list[HolderShare]) -> None:
    """Largest-remainder rounding in whole minor units (see the module docstring)."""
    scale = 10 ** exponent
    pool_units = int(pool.scaleb(exponent))
    exact = {line.holder_id: Fraction(pool_units) * line.share for line in lines}
    units = {h: int(v.numerator // v.denominator) for h, v in exact.items()}
    leftover = pool_units - sum(units.values())
    by_remainder = sorted(lines, key=lambda line: (-(exact[line.holder_id] - units[line.holder_id]),
                                                   line.holder_id))
    for line in by_remainder[:leftover]:
        units[line.holder_id] += 1
    quantum = Decimal(1).scaleb(-exponent)
    for line in lines:
        line.amount = (Decimal(units[line.holder_id]) / scale).quantize(quantum)
