"""Every size, count and time bound in one place, passed in rather than read from globals.

Hostile registries and images are normal input; each bound here is what stops one from exhausting memory,
disk or time.  Tests pin small values to prove each bound is enforced.
"""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    """Upper bounds on everything read from outside the process."""

    manifest_bytes: int = 4 * MiB  # distribution spec says registries SHOULD accept at least 4 MiB
    config_bytes: int = 8 * MiB
    json_depth: int = 64
    blob_bytes: int = 16 * GiB  # compressed size of one layer
    small_blob_bytes: int = 16 * MiB  # signatures, attestations, bundles read into memory
    index_entries: int = 1024  # manifests in one index
    layers: int = 512  # layers in one manifest
    referrers: int = 1000  # descriptors accepted from a referrers listing (all pages)
    referrer_pages: int = 20
    tags: int = 100_000  # tags accepted from a tag listing (all pages)
    archive_members: int = 1_000_000  # members indexed in one oci-archive / docker-archive tar
    error_body_bytes: int = 64 * KiB  # how much of an error response is read for its message
    token_bytes: int = 1 * MiB
    redirects: int = 5
    retries: int = 3  # extra attempts after the first, for 429/5xx/connection resets
    backoff_seconds: float = 0.5  # first backoff; doubles each retry
    max_retry_after_seconds: float = 30.0  # a larger Retry-After is treated as an outage
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    # requests' read timeout is per socket read: a server sending a byte a second never trips it.  A body
    # must arrive within request_deadline_seconds plus its length at min_bytes_per_second.
    request_deadline_seconds: float = 300.0
    min_bytes_per_second: int = 64 * KiB
    dsse_signatures: int = 16  # signatures accepted in one DSSE envelope
    statement_subjects: int = 1024  # subjects accepted in one in-toto Statement
    attached_items: int = 100  # signature/attestation layers or bundle referrers verified per subject
    bundle_entries: int = 32  # tlog entries or timestamps accepted in one sigstore bundle
    # layer unpacking (audit/unpack)
    max_decompressed_bytes: int = 64 * GiB  # all layers of one image, after decompression
    max_files: int = 2_000_000  # tar members across all layers
    max_path_length: int = 4096
    max_link_depth: int = 40  # symlinks followed while resolving one path (Linux uses 40)
    max_file_content_bytes: int = 64 * MiB  # one file kept in memory for a cataloger/scanner
    max_total_content_bytes: int = 512 * MiB  # all kept file contents together
    # secret scanning (audit/secrets)
    secret_findings: int = 10_000  # secret findings reported for one image
    secret_findings_per_file: int = 100
    # language catalogers (audit/catalog)
    embedded_metadata_bytes: int = 4 * MiB  # Go buildinfo / inflated cargo-auditable data of one binary
    # malware scanning (audit/malware)
    malware_scan_bytes: int = 64 * MiB  # one file (or archive member) buffered for YARA and archive recursion
    nested_archive_depth: int = 17  # archives inside archives inside an image file (ClamAV's MaxRecLevel)
    java_archive_depth: int = (
        4  # jars in jars read by the Java cataloger (Spring Boot is 2); each level is in memory
    )
    nested_archive_members: int = 10_000  # members read from one archive found in an image
    nested_archive_bytes: int = 512 * MiB  # bytes expanded from one image file, all nesting levels together
    malware_recursion_seconds: float = (
        120.0  # opening members of one image file; the rest is reported unknown
    )
    nested_archive_ratio: int = 1000  # expanded/compressed size above which a member is refused as a bomb
    # admission webhook (serve)
    admission_body_bytes: int = 3 * MiB  # one AdmissionReview request (the API server caps objects ~3 MiB)
    admission_images: int = 256  # distinct images checked for one admitted object


DEFAULT_LIMITS = Limits()
