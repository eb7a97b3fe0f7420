"""SLSA provenance (v0.2 and v1) checks in the style of slsa-verifier: builder, source, ref, build type.

Every value checked comes from the signed predicate.  When the statement was signed with a certificate
(keyless), the builder id must also equal the certificate's identity: the workflow that held the signing
identity is the builder, whatever the provenance says about itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imagetrust.errors import ConfigError, VerificationFailed
from imagetrust.verify.results import VerifiedProvenance, VerifiedStatement

SLSA_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_V1 = "https://slsa.dev/provenance/v1"
GITHUB_GENERATOR_PREFIX = "https://github.com/slsa-framework/slsa-github-generator/"


@dataclass(frozen=True)
class ProvenanceExpectation:
    """What the provenance must say.  ``source_uri`` may omit the scheme (``github.com/org/repo``).

    ``builder_id`` without ``@`` matches any version of that builder; with ``@`` it must match exactly.
    """

    builder_id: str
    source_uri: str
    source_tag: str | None = None  # "v1.2.3" -> ref must be refs/tags/v1.2.3
    source_branch: str | None = None  # "main" -> ref must be refs/heads/main
    build_type: str | None = None

    def __post_init__(self) -> None:
        if not self.builder_id or not self.source_uri:
            raise ConfigError("provenance check needs a builder id and a source URI")
        if self.source_tag is not None and self.source_branch is not None:
            raise ConfigError("provenance check takes a source tag or a source branch, not both")


def _get(mapping: Any, *path: str) -> Any:
    value = mapping
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise VerificationFailed(f"provenance {what} is missing")
    return value


def _split_source(uri: str) -> tuple[str, str | None]:
    """``git+https://github.com/o/r@refs/heads/main`` -> (``https://github.com/o/r``, ``refs/heads/main``)."""
    uri = uri.removeprefix("git+")
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise VerificationFailed(f"provenance source {uri!r} is not a URI")
    location, at, ref = rest.partition("@")
    return f"{scheme}://{location}", (ref if at else None)


def _normalise_expected_source(uri: str) -> str:
    uri = uri.removeprefix("git+")
    return uri if "://" in uri else f"https://{uri}"


def _v02(predicate: Mapping[str, Any]) -> tuple[str, str, str, str | None]:
    builder = _text(_get(predicate, "builder", "id"), "builder.id")
    build_type = _text(predicate.get("buildType"), "buildType")
    uri = _get(predicate, "invocation", "configSource", "uri")
    if not uri:
        materials = predicate.get("materials")
        uri = _get(materials[0], "uri") if isinstance(materials, list) and materials else None
    source, ref = _split_source(_text(uri, "source (invocation.configSource.uri or materials)"))
    return builder, build_type, source, ref


def _v1(predicate: Mapping[str, Any]) -> tuple[str, str, str, str | None]:
    builder = _text(_get(predicate, "runDetails", "builder", "id"), "runDetails.builder.id")
    build_type = _text(_get(predicate, "buildDefinition", "buildType"), "buildDefinition.buildType")
    workflow = _get(predicate, "buildDefinition", "externalParameters", "workflow")
    repository = _get(workflow, "repository")
    if isinstance(repository, str) and repository:
        source, ref_in_uri = _split_source(repository)
        ref = _get(workflow, "ref")
        return builder, build_type, source, ref if isinstance(ref, str) and ref else ref_in_uri
    dependencies = _get(predicate, "buildDefinition", "resolvedDependencies")
    uri = _get(dependencies[0], "uri") if isinstance(dependencies, list) and dependencies else None
    source, ref = _split_source(_text(uri, "source (externalParameters.workflow or resolvedDependencies)"))
    return builder, build_type, source, ref


def _builder_version(builder_id: str) -> str | None:
    _, at, ref = builder_id.partition("@")
    return ref.removeprefix("refs/tags/") if at and ref.startswith("refs/tags/") else None


def _check_builder(actual: str, expected: str) -> None:
    if "@" in expected:
        if actual != expected:
            raise VerificationFailed(f"provenance builder is {actual!r}, expected {expected!r}")
    elif actual.partition("@")[0] != expected:
        raise VerificationFailed(f"provenance builder is {actual!r}, expected {expected!r} (any version)")
    if actual.startswith(GITHUB_GENERATOR_PREFIX) and _builder_version(actual) is None:
        # slsa-verifier trusts only released generator workflows, never a branch of them.
        raise VerificationFailed(f"provenance builder {actual!r} is not a tagged release (@refs/tags/vX)")


def verify_provenance(statement: VerifiedStatement, expected: ProvenanceExpectation) -> VerifiedProvenance:
    """Check a verified SLSA provenance statement; subject binding is ``require_subject``'s job."""
    predicate_type = statement.statement.predicate_type
    predicate = statement.statement.predicate
    if predicate_type == SLSA_V02:
        version, (builder, build_type, source, ref) = "0.2", _v02(predicate)
    elif predicate_type == SLSA_V1:
        version, (builder, build_type, source, ref) = "1", _v1(predicate)
    else:
        raise VerificationFailed(f"predicateType {predicate_type!r} is not SLSA provenance v0.2 or v1")
    _check_builder(builder, expected.builder_id)
    if statement.identity is not None and statement.identity.san != builder:
        raise VerificationFailed(
            f"provenance builder {builder!r} is not the certificate identity {statement.identity.san!r}"
        )
    wanted_source = _normalise_expected_source(expected.source_uri)
    if source != wanted_source:
        raise VerificationFailed(f"provenance source is {source!r}, expected {wanted_source!r}")
    if expected.source_tag is not None and ref != f"refs/tags/{expected.source_tag}":
        raise VerificationFailed(f"provenance source ref is {ref!r}, expected tag {expected.source_tag!r}")
    if expected.source_branch is not None and ref != f"refs/heads/{expected.source_branch}":
        raise VerificationFailed(
            f"provenance source ref is {ref!r}, expected branch {expected.source_branch!r}"
        )
    if expected.build_type is not None and build_type != expected.build_type:
        raise VerificationFailed(f"provenance buildType is {build_type!r}, expected {expected.build_type!r}")
    return VerifiedProvenance(
        statement=statement,
        slsa_version=version,
        builder_id=builder,
        builder_version=_builder_version(builder),
        build_type=build_type,
        source_uri=source,
        source_ref=ref,
    )
