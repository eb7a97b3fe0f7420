"""Per-ecosystem version order: one module per scheme, and ``comparator_for(osv_ecosystem)``.

Every comparator is pure, total on the strings it accepts, and raises ``InvalidVersion`` for strings its
ecosystem cannot parse instead of guessing.  ``tests/accuracy/test_version_ground_truth.py`` measures
them against osv-scalibr's ground-truth pairs.
"""

from imagetrust.audit.vulns.versions.registry import (
    Comparator,
    comparator_for,
    supported_ecosystems,
)

__all__ = ["Comparator", "comparator_for", "supported_ecosystems"]
