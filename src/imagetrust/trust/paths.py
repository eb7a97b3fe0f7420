"""Where shipped trust material lives; no sigstore import here, so cheap commands stay cheap."""

from __future__ import annotations

import os
from pathlib import Path

from imagetrust.errors import LocalInputError

PUBLIC_GOOD_FILE = "public-good.trusted_root.json"
TRUST_ROOTS_ENV = "IMAGETRUST_TRUST_ROOTS"


def trust_roots_dir() -> Path:
    """``$IMAGETRUST_TRUST_ROOTS``, else the copy shipped inside an installed wheel, else the source tree's.

    The wheel carries ``trust-roots/`` as ``imagetrust/trust-roots`` (pyproject ``force-include``), so an
    installed imagetrust finds the pinned root without a checkout.
    """
    configured = os.environ.get(TRUST_ROOTS_ENV)
    if configured:
        return Path(configured)
    packaged = Path(__file__).resolve().parents[1] / "trust-roots"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "trust-roots"


def public_good_trusted_root() -> Path:
    """The pinned Sigstore public-good trusted root (see trust-roots/README.md for its provenance)."""
    path = trust_roots_dir() / PUBLIC_GOOD_FILE
    if not path.is_file():
        raise LocalInputError(
            f"{path}: pinned public-good trusted root not found; pass --trusted-root or set {TRUST_ROOTS_ENV}"
        )
    return path
