"""Trust material: the keys, certificates and roots that verification is measured against."""
