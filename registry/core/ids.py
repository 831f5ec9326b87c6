"""Public identifiers: a type prefix plus a time-ordered random part.

Time-ordered ids make cursor pagination a plain ``WHERE id > :cursor ORDER BY id`` and
keep list order close to creation order, without a second sort column.
"""

import os
import time

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return f"{prefix}_{''.join(reversed(chars))}"
