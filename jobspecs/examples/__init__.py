"""The example spec files shipped with the package (see README.md in this folder).

Owns only the location of the files, so tools and tests can find them wherever the package
is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

EXAMPLES_DIR: Final = Path(__file__).resolve().parent


def example_path(name: str) -> Path:
    """Path of an example file such as ``"tiny-cpu.yaml"``; ``FileNotFoundError`` if absent."""
    path = EXAMPLES_DIR / name
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in EXAMPLES_DIR.glob("*.yaml")))
        raise FileNotFoundError(f"no example named {name!r}; available: {known}")
    return path
