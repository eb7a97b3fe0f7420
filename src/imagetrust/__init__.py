"""imagetrust: decide whether a container image can be trusted, and show why."""

__version__ = "0.1.0"
