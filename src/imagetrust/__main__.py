"""``python -m imagetrust``."""

from imagetrust.cli.main import entry

entry()
