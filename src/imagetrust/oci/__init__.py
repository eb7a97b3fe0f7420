"""Pure OCI value types: digests, references, descriptors, manifests.  No I/O lives here."""
