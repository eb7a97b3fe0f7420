"""atheris entry point for the ``dpkg`` target (tests/fuzz/targets.py); see docs/fuzzing.md."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["imagetrust"]):
    from tests.fuzz.targets import TARGETS


def main() -> None:
    atheris.Setup(sys.argv, TARGETS["dpkg"])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
