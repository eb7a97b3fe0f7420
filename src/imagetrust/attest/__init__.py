"""Signed statements about images: build, sign (DSSE), attach (referrer + cosign tag), copy."""
