"""Policy documents (versioned, strict) and their pure evaluation into a decision."""
