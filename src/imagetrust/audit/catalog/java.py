"""Java archives (jar, war, ear and their nested archives): Maven ``pom.properties``, else the manifest.

Archives nest (``WEB-INF/lib/*.jar``, Spring Boot ``BOOT-INF/lib``), so members ending in an archive
suffix are opened in memory too, up to ``java_archive_depth`` levels and ``max_file_content_bytes`` each.
A location inside an archive is written ``outer.war!WEB-INF/lib/inner.jar``.
"""

from __future__ import annotations

import io
import re
import zipfile

from imagetrust.audit.catalog._lang import Unreadable, read
from imagetrust.audit.catalog.model import CatalogResult, OSRelease, Package
from imagetrust.audit.catalog.purl import make_purl
from imagetrust.audit.unpack import EntryType, FileIndex, Unknown
from imagetrust.limits import DEFAULT_LIMITS, Limits

SUFFIXES = (".jar", ".war", ".ear", ".jpi", ".hpi", ".par", ".sar", ".nar", ".kar", ".rar")
_POM = re.compile(r"^META-INF/maven/[^/]+/[^/]+/pom\.properties$")
_FILENAME_VERSION = re.compile(r"^(?P<name>.+?)-(?P<version>\d[\w.+-]*)$")


def maven_purl(group: str | None, artifact: str, version: str) -> str:
    return make_purl("maven", group, artifact, version, {})


class JavaCataloger:
    name = "java-archive"

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def wanted(self, path: str) -> bool:
        return path.lower().endswith(SUFFIXES)

    def catalog(self, files: FileIndex, distro: OSRelease | None = None) -> CatalogResult:
        result = CatalogResult()
        for path in sorted(files.live):
            entry = files.live[path]
            if entry.type is not EntryType.FILE or not self.wanted(path):
                continue  # symlinks to a jar (Debian's versioned names) are the same archive
            try:
                data = read(files, path, "java archive")
            except Unreadable as e:
                result += CatalogResult(unknowns=(Unknown(path, str(e)),))
                continue
            result += read_archive(data, path, self.limits)
        return result


def read_archive(data: bytes, location: str, limits: Limits, depth: int = 0) -> CatalogResult:
    """Packages in one archive and its nested archives; what cannot be opened is an Unknown."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        return CatalogResult(unknowns=(Unknown(location, f"java archive is not a readable zip: {e}"),))
    packages: list[Package] = []
    unknowns: list[Unknown] = []
    seen: set[str] = set()  # a shaded jar may carry the same pom.properties twice
    nested: CatalogResult = CatalogResult()
    with archive:
        for info in members:
            if _POM.match(info.filename):
                props = _small(archive, info, limits, location, unknowns)
                pkg = _from_pom(props, location) if props is not None else None
                if pkg is not None and pkg.purl not in seen:
                    seen.add(pkg.purl)
                    packages.append(pkg)
        if not packages:
            pkg = _from_manifest(archive, location, limits, unknowns)
            if pkg is not None and pkg.purl not in seen:
                seen.add(pkg.purl)
                packages.append(pkg)
            elif pkg is None and not any(u.path == location for u in unknowns):
                unknowns.append(Unknown(location, "java archive names no artifact or version"))
        for info in members:
            if info.is_dir() or not info.filename.lower().endswith(SUFFIXES):
                continue
            inner = f"{location}!{info.filename}"
            if depth + 1 > limits.java_archive_depth:
                unknowns.append(
                    Unknown(
                        inner,
                        f"archive nested deeper than {limits.java_archive_depth} levels (java_archive_depth)",
                    )
                )
                continue
            blob = _small(archive, info, limits, inner, unknowns, text=False)
            if blob is not None:
                nested += read_archive(blob, inner, limits, depth + 1)
    return CatalogResult(tuple(packages), tuple(unknowns)) + nested


def _small(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limits: Limits,
    location: str,
    unknowns: list[Unknown],
    text: bool = True,
) -> bytes | None:
    """A member's bytes, refused above the per-file bound (the declared size is checked, then enforced)."""
    cap = limits.max_file_content_bytes
    if info.file_size > cap:
        unknowns.append(Unknown(location, f"member {info.filename} larger than {cap} bytes not read"))
        return None
    try:
        with archive.open(info) as stream:
            data = stream.read(cap + 1)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as e:
        unknowns.append(Unknown(location, f"member {info.filename} unreadable: {e}"))
        return None
    if len(data) > cap:
        unknowns.append(Unknown(location, f"member {info.filename} inflates past {cap} bytes"))
        return None
    return data


def _properties(data: bytes) -> dict[str, str]:
    """Java ``.properties``: ``key=value`` or ``key: value``; comments start with ``#`` or ``!``."""
    out: dict[str, str] = {}
    for line in data.decode("latin-1").splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        parts = re.split(r"\s*[=:]\s*", line, maxsplit=1)
        key, value = parts[0].strip(), parts[1].strip() if len(parts) > 1 else ""
        if key and key not in out:
            out[key] = value
    return out


def _from_pom(data: bytes, location: str) -> Package | None:
    props = _properties(data)
    group, artifact, version = props.get("groupId"), props.get("artifactId"), props.get("version")
    if not artifact or not version:
        return None
    return Package(
        name=f"{group}:{artifact}" if group else artifact,
        version=version,
        type="maven",
        purl=maven_purl(group, artifact, version),
        locations=(location,),
    )


def _manifest(data: bytes) -> dict[str, str]:
    """Main section of MANIFEST.MF; continuation lines start with one space."""
    out: dict[str, str] = {}
    last = None
    for line in data.decode("utf-8", "replace").splitlines():
        if not line:
            break  # end of the main section
        if line.startswith(" ") and last:
            out[last] += line[1:]
            continue
        key, sep, value = line.partition(":")
        if sep:
            last = key.strip()
            out.setdefault(last, value.strip())
    return out


def _from_manifest(
    archive: zipfile.ZipFile, location: str, limits: Limits, unknowns: list[Unknown]
) -> Package | None:
    try:
        info = archive.getinfo("META-INF/MANIFEST.MF")
    except KeyError:
        fields: dict[str, str] = {}
    else:
        raw = _small(archive, info, limits, location, unknowns)
        fields = _manifest(raw) if raw is not None else {}
    stem = location.rsplit("!", 1)[-1].rsplit("/", 1)[-1].rsplit(".", 1)[0]
    from_name = _FILENAME_VERSION.match(stem)
    artifact = (
        fields.get("Implementation-Title")
        or fields.get("Bundle-SymbolicName", "").split(";")[0].strip()
        or (from_name.group("name") if from_name else stem)
    )
    version = (
        fields.get("Implementation-Version")
        or fields.get("Bundle-Version")
        or fields.get("Specification-Version")
        or (from_name.group("version") if from_name else "")
    )
    if not artifact or not version:
        return None
    group = fields.get("Implementation-Vendor-Id") or None
    licenses = (fields["Bundle-License"],) if fields.get("Bundle-License") else ()
    return Package(
        name=f"{group}:{artifact}" if group else artifact,
        version=version,
        type="maven",
        purl=maven_purl(group, artifact, version),
        licenses=licenses,
        locations=(location,),
    )
