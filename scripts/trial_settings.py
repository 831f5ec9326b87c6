"""A trial setting of the evaluation and benchmark scripts: ``NAME=VALUE`` overriding a
constant of one of the engine's modules for one run, the value of the constant's type."""

from __future__ import annotations

from types import ModuleType


def parse(text: str, modules: tuple[ModuleType, ...]) -> tuple[ModuleType, str, object]:
    """(module, name, value) of ``text``; the first of ``modules`` that has the constant."""
    name, value = text.split("=", 1)
    module = next((m for m in modules if hasattr(m, name)), None)
    if module is None:
        raise ValueError(f"no such setting: {name}")
    return module, name, type(getattr(module, name))(value)
