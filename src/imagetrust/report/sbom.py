"""SBOM renderings of an audit: CycloneDX 1.6 JSON (cyclonedx-python-lib) and SPDX 2.3 JSON.

Both carry the same inventory as the audit document: every package with its purl and the layer that
brought it.  cyclonedx-python-lib is imported only when a CycloneDX document is asked for.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from imagetrust import __version__
from imagetrust.audit.result import AuditResult

_SPDX_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")


def cyclonedx_json(result: AuditResult, *, now: datetime | None = None) -> str:
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    bom = Bom()
    bom.metadata.timestamp = now or datetime.now(UTC)
    image_component = Component(
        name=result.source,
        type=ComponentType.CONTAINER,
        version=str(result.resolved.digest),
        bom_ref=str(result.resolved.digest),
    )
    bom.metadata.component = image_component
    seen: set[str] = set()
    for audit in result.platforms:
        for located in audit.packages:
            p = located.package
            ref = f"{p.purl}#{audit.image.digest.hex[:12]}" if len(result.platforms) > 1 else p.purl
            if ref in seen:
                continue
            seen.add(ref)
            properties = [Property(name="imagetrust:location", value=loc) for loc in p.locations]
            if located.layer:
                properties.append(Property(name="imagetrust:layer", value=str(located.layer)))
            if audit.image.platform:
                properties.append(Property(name="imagetrust:platform", value=str(audit.image.platform)))
            component = Component(
                name=p.name,
                version=p.version,
                type=ComponentType.LIBRARY,
                purl=PackageURL.from_string(p.purl),
                bom_ref=ref,
                properties=properties,
            )
            bom.components.add(component)
            bom.register_dependency(image_component, [component])
    return str(JsonV1Dot6(bom).output_as_string(indent=2)) + "\n"


def _spdx_id(text: str) -> str:
    return "SPDXRef-" + _SPDX_ID_UNSAFE.sub("-", text)[:200]


def spdx_json(result: AuditResult, *, now: datetime | None = None) -> str:
    created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    image_id = _spdx_id(f"image-{result.resolved.digest.hex[:16]}")
    packages: list[dict[str, Any]] = [
        {
            "SPDXID": image_id,
            "name": result.source,
            "versionInfo": str(result.resolved.digest),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "primaryPackagePurpose": "CONTAINER",
            "checksums": [{"algorithm": "SHA256", "checksumValue": result.resolved.digest.hex}],
        }
    ]
    relationships = [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": image_id}
    ]
    used: set[str] = {image_id}
    for audit in result.platforms:
        for located in audit.packages:
            p = located.package
            base = _spdx_id(f"pkg-{p.type}-{p.name}-{p.version}")
            spdx_id = base
            counter = 1
            while spdx_id in used:
                counter += 1
                spdx_id = f"{base}-{counter}"
            used.add(spdx_id)
            entry: dict[str, Any] = {
                "SPDXID": spdx_id,
                "name": p.name,
                "versionInfo": p.version,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": p.purl,
                    }
                ],
            }
            comment = [f"location: {loc}" for loc in p.locations]
            if located.layer:
                comment.append(f"layer: {located.layer}")
            if comment:
                entry["comment"] = "; ".join(comment)
            packages.append(entry)
            relationships.append(
                {"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": spdx_id}
            )
    namespace_seed = hashlib.sha256(f"{result.resolved.digest}{created}".encode()).hexdigest()[:32]
    document = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"imagetrust audit of {result.source}",
        "documentNamespace": f"https://imagetrust.dev/spdx/{result.resolved.digest.hex}/{namespace_seed}",
        "creationInfo": {"created": created, "creators": [f"Tool: imagetrust-{__version__}"]},
        "packages": packages,
        "relationships": relationships,
    }
    return json.dumps(document, indent=2) + "\n"
