"""One function per parser that reads outside bytes: the single definition of "this input was handled".

A target returns normally when the parser accepted the input or refused it with an ``ImageTrustError``
(or, for the rpm internals, their documented ``ValueError`` subclasses, which ``catalog_database`` turns
into unknowns).  Anything else escaping is a bug: a crash a hostile image, registry or bundle could cause.
Targets also check a few invariants on what was accepted.

Used by the atheris entry points (``fuzz_<name>.py``) and by the hypothesis tests, so both hunt for the
same thing.  Each target takes ``bytes`` because that is what arrives from outside.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from imagetrust.audit.catalog.apk import ApkCataloger
from imagetrust.audit.catalog.dpkg import DpkgCataloger
from imagetrust.audit.catalog.rpm import catalog_database
from imagetrust.audit.unpack import ContentPolicy, LayerInput, unpack_layers
from imagetrust.audit.unpack.index import FileIndex
from imagetrust.audit.vulns.versions import registry as versions
from imagetrust.errors import ImageTrustError
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import parse_config, parse_manifest_or_index
from imagetrust.oci.reference import parse_registry_ref, parse_source
from imagetrust.verify.bundle import parse_bundle
from imagetrust.verify.dsse import pae, parse_envelope
from imagetrust.verify.statement import parse_statement

# Small bounds keep each execution fast; the bounds themselves are part of what is exercised.
SMALL = Limits(
    manifest_bytes=64 * 1024,
    config_bytes=64 * 1024,
    small_blob_bytes=64 * 1024,
    max_decompressed_bytes=1024 * 1024,
    max_files=200,
    max_path_length=512,
    max_file_content_bytes=64 * 1024,
    max_total_content_bytes=256 * 1024,
    json_depth=32,
)

Target = Callable[[bytes], None]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def reference(data: bytes) -> None:
    text = _text(data)
    for parse in (parse_registry_ref, parse_source):
        try:
            ref = parse(text)
        except ImageTrustError:
            continue
        str(ref)  # every accepted reference can be shown


def manifest(data: bytes) -> None:
    declared = (None, media.OCI_MANIFEST, media.OCI_INDEX, media.DOCKER_MANIFEST, "application/json")
    try:
        parsed = parse_manifest_or_index(
            data, Digest.of(data), declared_media_type=declared[len(data) % len(declared)], limits=SMALL
        )
    except ImageTrustError:
        return
    assert parsed.raw == data  # the verified bytes are kept, never a re-serialisation


def config(data: bytes) -> None:
    try:
        parse_config(data, Digest.of(data), limits=SMALL)
    except ImageTrustError:
        return


def dsse(data: bytes) -> None:
    try:
        envelope = parse_envelope(data, limits=SMALL)
    except ImageTrustError:
        return
    assert len(envelope.signatures) <= SMALL.dsse_signatures
    pae(envelope.payload_type, envelope.payload)


def statement(data: bytes) -> None:
    try:
        parsed = parse_statement(data, limits=SMALL)
    except ImageTrustError:
        return
    assert len(parsed.subjects) <= SMALL.statement_subjects


def bundle(data: bytes) -> None:
    try:
        parse_bundle(data, limits=SMALL)
    except ImageTrustError:
        return


def _catalog(cataloger: DpkgCataloger | ApkCataloger, path: str, data: bytes) -> None:
    files = FileIndex.from_contents({path: data}, limits=SMALL)
    try:
        result = cataloger.catalog(files)
    except ImageTrustError:
        return
    for package in result.packages:
        assert package.name, package
        assert package.version is not None


def dpkg(data: bytes) -> None:
    _catalog(DpkgCataloger(), "var/lib/dpkg/status", data)


def apk(data: bytes) -> None:
    _catalog(ApkCataloger(), "lib/apk/db/installed", data)


_RPM_PATHS = ("var/lib/rpm/rpmdb.sqlite", "var/lib/rpm/Packages", "usr/lib/sysimage/rpm/Packages.db")


def rpm(data: bytes) -> None:
    location = _RPM_PATHS[data[0] % len(_RPM_PATHS)] if data else _RPM_PATHS[1]
    try:
        catalog_database(data[1:], location, None)
    except ImageTrustError:
        return


def tar_layer(data: bytes) -> None:
    """A layer stream; the first byte picks the compression the descriptor claims."""
    compression = ("none", "gzip", "zstd")[data[0] % 3] if data else "none"
    body = data[1:]
    layer = LayerInput(io.BytesIO(body), Digest.of(body), compression)  # type: ignore[arg-type]
    try:
        index = unpack_layers([layer], ContentPolicy().want(lambda _p: True), (), SMALL)
    except ImageTrustError:
        return
    for path in index.live:
        parts = path.split("/")
        assert path and not path.startswith("/") and ".." not in parts and "" not in parts, path
    assert sum(len(v) for v in index.contents.values()) <= SMALL.max_total_content_bytes


_COMPARATORS = tuple(
    dict.fromkeys(versions.comparator_for(e) for e in sorted(versions.supported_ecosystems()))
)


def version(data: bytes) -> None:
    """Two versions separated by a NUL, compared under every scheme: antisymmetric or refused."""
    a, _, b = _text(data).partition("\x00")
    for comparator in _COMPARATORS:
        try:
            forward, backward = comparator.compare(a, b), comparator.compare(b, a)
        except ImageTrustError:
            continue
        assert (forward > 0) - (forward < 0) == -((backward > 0) - (backward < 0)), (comparator, a, b)


TARGETS: dict[str, Target] = {
    "reference": reference,
    "manifest": manifest,
    "config": config,
    "dsse": dsse,
    "statement": statement,
    "bundle": bundle,
    "dpkg": dpkg,
    "apk": apk,
    "rpm": rpm,
    "tar_layer": tar_layer,
    "version": version,
}
