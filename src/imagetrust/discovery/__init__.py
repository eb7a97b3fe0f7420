"""Find what is attached to an image digest: cosign tags, OCI 1.1 referrers, the referrers fallback tag."""
