"""Vulnerability matching: advisory data, per-ecosystem version order, and the matcher."""
