"""Documents imagetrust produces, and their renderers (JSON, text, ...)."""
