"""Content audit: unpack layers into a file index, catalog packages, scan content."""
