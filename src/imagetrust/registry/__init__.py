"""The only code that reads images: registries over HTTP, and offline layouts and archives."""
