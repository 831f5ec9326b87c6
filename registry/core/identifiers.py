"""Validation of the external identifiers the registry records, via python-stdnum."""

import re

from stdnum import isan, isni
from stdnum.iso7064 import mod_11_2, mod_37_36

_IPI = re.compile(r"^\d{9,11}$")
_ORCID = re.compile(r"^(\d{4})-(\d{4})-(\d{4})-(\d{3}[\dX])$")
_EIDR = re.compile(r"^10\.5240/([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-Z])$")


def normalise_isni(value: str) -> str:
    if not isni.is_valid(value):
        raise ValueError("not a valid ISNI (16 characters with a valid check digit)")
    return isni.compact(value)


def normalise_orcid(value: str) -> str:
    value = value.strip().removeprefix("https://orcid.org/")
    match = _ORCID.match(value)
    if not match or not mod_11_2.is_valid("".join(match.groups())):
        raise ValueError("not a valid ORCID iD (0000-0000-0000-000X with a valid check digit)")
    return value


def normalise_ipi(value: str) -> str:
    compact = value.replace(" ", "").replace(".", "")
    if not _IPI.match(compact):
        raise ValueError("not a valid IPI name number (9 to 11 digits)")
    return compact.zfill(11)


def normalise_eidr(value: str) -> str:
    value = value.strip().upper()
    match = _EIDR.match(value)
    if not match or not mod_37_36.is_valid("".join(match.groups())):
        raise ValueError("not a valid EIDR id (10.5240/XXXX-XXXX-XXXX-XXXX-XXXX-C)")
    return value


def normalise_isan(value: str) -> str:
    if not isan.is_valid(value):
        raise ValueError("not a valid ISAN")
    return isan.format(value)
