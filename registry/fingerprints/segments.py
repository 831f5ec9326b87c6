"""Files of immutable index segments: each segment is written once under a unique name;
a snapshot's state file lists the names it uses, and files it does not list are pruned."""

import itertools
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

S = TypeVar("S")

_counter = itertools.count()


def new_name() -> str:
    return f"{time.time_ns():x}-{os.getpid()}-{next(_counter)}"


def write_new(directory: Path, named: Iterable[tuple[str, S]],
              save: Callable[[S, Path], None], dirty: Callable[[S], bool]) -> list[str]:
    """Save segments whose file is missing (or that changed in place); return all names."""
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for name, segment in named:
        path = directory / f"{name}.npz"
        if not path.exists() or dirty(segment):
            tmp = directory / f"{name}.tmp"
            save(segment, tmp)
            os.replace(tmp, path)
        names.append(name)
    return names


def prune(directory: Path, keep: Iterable[str]) -> None:
    wanted = {f"{name}.npz" for name in keep}
    if directory.exists():
        for entry in os.scandir(directory):
            if entry.name not in wanted:
                os.unlink(entry.path)
