"""The configuration rule catalogue: one entry per check, with the external ids it corresponds to."""

from __future__ import annotations

from dataclasses import dataclass

from imagetrust.audit.findings import Severity


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    description: str
    remediation: str
    refs: tuple[str, ...] = ()  # CIS-DI / DKL / Trivy DS ids covering the same ground


_H, _M, _L, _C = Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.CRITICAL

RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "CFG-001",
            _H,
            "Image runs as root",
            "No USER is set, or it is root/UID 0: a process escaping the container starts as root.",
            "Create an unprivileged user and end the build with `USER <name or uid>`.",
            ("CIS-DI-0001", "DS-0002", "CIS-4.1"),
        ),
        Rule(
            "CFG-002",
            _C,
            "Secret-looking value in ENV or build argument",
            "Environment variables and build arguments are stored in the image config and history, "
            "readable by anyone who can pull the image.",
            "Pass secrets at run time or with BuildKit secret mounts (`RUN --mount=type=secret`).",
            ("CIS-DI-0010", "DS-0031", "CIS-4.10"),
        ),
        Rule(
            "CFG-003",
            _M,
            "Sensitive port exposed",
            "The image exposes a remote-administration port (SSH, telnet, RDP, VNC, Docker API, ...).",
            "Remove the EXPOSE and the service; administer containers through the orchestrator.",
            ("DS-0004", "CIS-5.8"),
        ),
        Rule(
            "CFG-004",
            _C,
            "Exposed port out of range",
            "EXPOSE names a port outside 0-65535.",
            "Use a valid port number.",
            ("DS-0008",),
        ),
        Rule(
            "CFG-005",
            _H,
            "ADD fetches a remote URL",
            "ADD of an http(s) or git URL downloads content at build time without checksum verification.",
            "Pin a checksum (`ADD --checksum=`, or curl plus sha256sum) or COPY a vendored file.",
            ("CIS-DI-0009", "CIS-4.9"),
        ),
        Rule(
            "CFG-006",
            _L,
            "ADD used where COPY suffices",
            "ADD unpacks archives and fetches URLs implicitly; for plain files COPY says what happens.",
            "Use COPY for local files.",
            ("CIS-DI-0009", "DS-0005", "CIS-4.9"),
        ),
        Rule(
            "CFG-007",
            _C,
            "RUN uses sudo",
            "sudo in a build step has unpredictable TTY and signal behaviour and hides privilege changes.",
            "Switch USER around the steps that need root instead of sudo.",
            ("DKL-DI-0001", "DS-0010"),
        ),
        Rule(
            "CFG-008",
            _M,
            "sudo installed in the image",
            "A sudo binary lets a compromised process regain root inside the container.",
            "Remove sudo from the final image.",
            ("DKL-DI-0001",),
        ),
        Rule(
            "CFG-009",
            _H,
            "SSH server installed in the image",
            "An SSH daemon in a container is an extra remote entry point with its own credentials.",
            "Remove the SSH server; use `kubectl exec`/`docker exec` for access.",
            ("CIS-4.3", "CIS-5.7"),
        ),
        Rule(
            "CFG-010",
            _L,
            "OS package manager present in the final image",
            "A package manager lets an attacker install tools after a compromise.",
            "Use a multi-stage build whose final stage has no package manager (distroless, scratch).",
            ("CIS-DI-0003", "CIS-4.3"),
        ),
        Rule(
            "CFG-011",
            _M,
            "Compiler present in the final image",
            "Compilers let an attacker build exploits inside the container.",
            "Build in an earlier stage and copy only the artefacts into the final stage.",
            ("CIS-DI-0003", "CIS-4.3"),
        ),
        Rule(
            "CFG-012",
            _L,
            "setuid/setgid file",
            "setuid and setgid executables are privilege-escalation paths.",
            "Remove the bits (`chmod u-s,g-s <file>`) unless the program needs them.",
            ("CIS-DI-0008", "CIS-4.8"),
        ),
        Rule(
            "CFG-013",
            _M,
            "World-writable file or directory without sticky bit",
            "Any user in the container can replace or plant content there.",
            "Tighten the mode (e.g. 755/644), or set the sticky bit on shared directories.",
            (),
        ),
        Rule(
            "CFG-014",
            _L,
            "Package manager cache left in the image",
            "Downloaded packages and index files remain in the image: bigger images, stale metadata.",
            "Clean in the same RUN: `apt-get clean && rm -rf /var/lib/apt/lists/*`, `apk add --no-cache`, "
            "`dnf clean all`.",
            ("DKL-DI-0005", "DKL-DI-0004"),
        ),
        Rule(
            "CFG-015",
            _H,
            "Package install without cache cleanup in the same RUN",
            "A cleanup in a later layer does not remove the files from the earlier one.",
            "Add `yum clean all`, `dnf clean all`, `microdnf clean all`, `zypper clean`, "
            "`rm -rf /var/lib/apt/lists/*` or `apk add --no-cache` to the installing RUN.",
            ("DS-0015", "DS-0019", "DS-0020", "DS-0025", "DS-0027", "DKL-DI-0004", "DKL-DI-0005"),
        ),
        Rule(
            "CFG-016",
            _M,
            "Base image uses the latest (or no) tag",
            "A floating tag makes builds unreproducible and can silently pull a different base.",
            "Pin the base by version tag and digest (`FROM image:1.2@sha256:...`).",
            ("DKL-DI-0006", "DS-0001"),
        ),
        Rule(
            "CFG-017",
            _L,
            "No HEALTHCHECK",
            "Without a health check the runtime cannot tell a hung container from a working one.",
            "Add `HEALTHCHECK CMD ...` to the final stage.",
            ("CIS-DI-0006", "DS-0026", "CIS-4.6"),
        ),
        Rule(
            "CFG-018",
            _H,
            "Remote script piped into a shell",
            "`curl ... | sh` runs whatever the server returns at build time, unverified.",
            "Download to a file, verify a pinned checksum or signature, then run it.",
            (),
        ),
        Rule(
            "CFG-019",
            _L,
            "apt-get install without --no-install-recommends",
            "Recommended packages add attack surface the image does not need.",
            "Use `apt-get install -y --no-install-recommends`.",
            ("DS-0029",),
        ),
        Rule(
            "CFG-020",
            _M,
            "chmod 777 in a build step",
            "Mode 777 makes files writable and executable by every user in the container.",
            "Grant the least mode needed (755 for programs, 644 for data) and the right owner.",
            (),
        ),
        Rule(
            "CFG-021",
            _H,
            "Package index update alone in a RUN",
            "A cached `apt-get update` layer goes stale; later installs use old indexes.",
            "Combine update and install in one RUN.",
            ("CIS-DI-0007", "DS-0017", "CIS-4.7"),
        ),
        Rule(
            "CFG-022",
            _H,
            "apt-get dist-upgrade used",
            "A dist-upgrade inside the build changes essential packages of the base image unpredictably.",
            "Rebuild on an updated base image instead.",
            ("DKL-DI-0003", "DS-0024"),
        ),
        Rule(
            "CFG-023",
            _H,
            "apt-get install without -y",
            "Without -y the build blocks on a prompt or fails.",
            "Add `-y`/`--yes`/`--assume-yes`.",
            ("DS-0021",),
        ),
        Rule(
            "CFG-024",
            _H,
            "Deprecated MAINTAINER used",
            "MAINTAINER is deprecated.",
            "Use `LABEL org.opencontainers.image.authors=...`.",
            ("DS-0022",),
        ),
        Rule(
            "CFG-025",
            _H,
            "Multiple CMD instructions in a stage",
            "Only the last CMD takes effect; the others mislead readers.",
            "Keep one CMD per stage.",
            ("DS-0016",),
        ),
        Rule(
            "CFG-026",
            _C,
            "Multiple ENTRYPOINT instructions in a stage",
            "Only the last ENTRYPOINT takes effect.",
            "Keep one ENTRYPOINT per stage.",
            ("DS-0007",),
        ),
        Rule(
            "CFG-027",
            _M,
            "Multiple HEALTHCHECK instructions in a stage",
            "Only the last HEALTHCHECK takes effect.",
            "Keep one HEALTHCHECK per stage.",
            ("DS-0023",),
        ),
        Rule(
            "CFG-028",
            _H,
            "WORKDIR path not absolute",
            "A relative WORKDIR depends on the previous one and is easy to misread.",
            "Use an absolute path.",
            ("DS-0009",),
        ),
        Rule(
            "CFG-029",
            _M,
            "RUN cd to change directory",
            "`RUN cd` only lasts for that RUN; WORKDIR states the intent.",
            "Use WORKDIR.",
            ("DS-0013",),
        ),
        Rule(
            "CFG-030",
            _C,
            "COPY --from refers to the current stage",
            "A stage cannot copy from itself.",
            "Name an earlier stage.",
            ("DS-0006",),
        ),
        Rule(
            "CFG-031",
            _C,
            "COPY of several sources to a destination not ending with /",
            "With several sources the destination must be a directory ending with `/`.",
            "End the destination with `/`.",
            ("DS-0011",),
        ),
        Rule(
            "CFG-032",
            _C,
            "Duplicate stage alias",
            "Two stages with the same alias make `--from` ambiguous.",
            "Give each stage a unique alias.",
            ("DS-0012",),
        ),
        Rule(
            "CFG-033",
            _L,
            "Both wget and curl used",
            "Two download tools in one image enlarge it for no benefit.",
            "Use one of them.",
            ("DS-0014",),
        ),
        Rule(
            "CFG-034",
            _H,
            "Sensitive host directory as VOLUME",
            "A VOLUME on /dev, /proc or /sys invites mounting host kernel interfaces.",
            "Remove the VOLUME.",
            ("DKL-DI-0002",),
        ),
        Rule(
            "CFG-035",
            _H,
            "WORKDIR on a system directory",
            "Working in a system directory lets build steps and the app overwrite system files.",
            "Use a dedicated directory such as /app.",
            ("DS-0030",),
        ),
        Rule(
            "CFG-036",
            _C,
            "Account with an empty password",
            "An account whose /etc/shadow password field is empty allows login without a password.",
            "Lock the account (`passwd -l`) or set `*`/`!` in /etc/shadow.",
            ("DKL-LI-0001",),
        ),
        Rule(
            "CFG-037",
            _M,
            "Duplicate UID or GID",
            "Two accounts sharing a UID/GID share every file permission.",
            "Give each account its own id.",
            ("DKL-LI-0002",),
        ),
    )
}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]


__all__ = ["RULES", "Rule", "rule"]
