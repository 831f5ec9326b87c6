"""SPDX licence expressions, validated against the SPDX list by ``license-expression``."""

import re
from functools import lru_cache

from license_expression import ExpressionError, LicenseSymbol, Licensing, get_spdx_licensing

# SPDX spec, annex D: user-defined references are LicenseRef-[idstring].
_LICENSE_REF = re.compile(r"^LicenseRef-[A-Za-z0-9.\-]+$")


@lru_cache(maxsize=1)
def _licensing() -> Licensing:
    return get_spdx_licensing()


def normalise_expression(expression: str) -> str:
    expression = expression.strip()
    try:
        info = _licensing().validate(expression)
    except (ExpressionError, AttributeError, TypeError, ValueError):
        raise ValueError(f"'{expression}' is not a well-formed SPDX licence expression") from None
    unknown = [s for s in info.invalid_symbols if not _LICENSE_REF.match(s)]
    if unknown:
        raise ValueError("unknown SPDX licence id(s): " + ", ".join(unknown)
                         + " (use an SPDX id, or a custom 'LicenseRef-…' reference)")
    if info.errors and not info.invalid_symbols:
        raise ValueError("; ".join(info.errors))
    if info.normalized_expression:
        return str(info.normalized_expression)
    return expression


def listed_licence_id(expression: str) -> str | None:
    """The SPDX License List id when the expression is exactly one listed licence (not a
    compound expression, not a LicenseRef-), else None."""
    try:
        parsed = _licensing().parse(expression)
    except (ExpressionError, AttributeError, TypeError, ValueError):
        return None
    if isinstance(parsed, LicenseSymbol) and not str(parsed.key).startswith("LicenseRef-"):
        return str(parsed.key)
    return None
