"""Rules over build instructions: a parsed Dockerfile, or the history of a built image."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from imagetrust.audit.config.dockerfile import Instruction, Stage, env_pairs
from imagetrust.audit.config.secrets import looks_secret
from imagetrust.audit.config.shell import has_short_flag, program, simple_commands, subcommand

SENSITIVE_PORTS = {
    22: "SSH", 23: "telnet", 21: "FTP", 111: "rpcbind", 135: "MS RPC", 139: "NetBIOS", 445: "SMB",
    512: "rexec", 513: "rlogin", 514: "rsh", 2375: "Docker API (plain)", 2376: "Docker API",
    3389: "RDP", 5900: "VNC", 5901: "VNC", 5985: "WinRM", 5986: "WinRM", 6443: "Kubernetes API",
    10250: "kubelet",
}  # fmt: skip
SENSITIVE_VOLUMES = ("/dev", "/proc", "/sys")
SYSTEM_WORKDIRS = ("/proc/", "/boot/", "/dev/", "/initrd/", "/lost+found/", "/sys/")
_PIPE_TO_SHELL = re.compile(
    r"\b(?:curl|wget)\b[^|;&\n]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:/usr)?(?:/bin/)?(?:ba|da|z|k|a)?sh\b"
    r"|\b(?:ba|z)?sh\s+(?:-c\s+)?[\"']?\$\(\s*(?:curl|wget)\b|\b(?:ba|z)?sh\s+<\(\s*(?:curl|wget)\b"
)
_CHMOD_777 = re.compile(r"\bchmod\s+(?:-\S+\s+)*(?:0?777|[ugoa]*a[ugoa]*\+rwx|ugo\+rwx)\b")
_URL = re.compile(r"^(?:https?://|git@|git://|ssh://)")


@dataclass(frozen=True)
class Hit:
    rule_id: str
    instruction: Instruction | None
    message: str
    stage: int | None = None


def _cmds(ins: Instruction) -> list[list[str]]:
    out = []
    for words in simple_commands(ins.command):
        while words and program(words) == "sudo":
            words = words[1:]
            while words and words[0].startswith("-"):
                words = words[1:]
        if words:
            out.append(words)
    return out


def _runs(stage: Stage) -> Iterable[Instruction]:
    return (i for i in stage.instructions if i.keyword == "RUN")


# --- RUN content -----------------------------------------------------------------------------------------


def check_run(ins: Instruction) -> list[Hit]:
    hits: list[Hit] = []
    text = ins.command
    raw_cmds = simple_commands(text)
    if any(program(c) == "sudo" for c in raw_cmds):
        hits.append(Hit("CFG-007", ins, "RUN uses sudo"))
    if _PIPE_TO_SHELL.search(text):
        hits.append(Hit("CFG-018", ins, "downloaded script piped into a shell"))
    if _CHMOD_777.search(text):
        hits.append(Hit("CFG-020", ins, "chmod 777"))
    cmds = _cmds(ins)
    updates = [c for c in cmds if _is_update(c)]
    installs = [c for c in cmds if _install_manager(c) is not None]
    if updates and not installs:
        hits.append(Hit("CFG-021", ins, f"`{' '.join(updates[0][:2])}` without an install in the same RUN"))
    for c in cmds:
        if program(c) == "apt-get" and "dist-upgrade" in c:
            hits.append(Hit("CFG-022", ins, "apt-get dist-upgrade"))
        if program(c) in ("apt-get", "apt") and subcommand(c) == "install":
            if program(c) == "apt-get" and not has_short_flag(c, "y", "--yes", "--assume-yes"):
                hits.append(Hit("CFG-023", ins, "apt-get install without -y"))
            if "--no-install-recommends" not in c and not any("Install-Recommends=" in w for w in c):
                hits.append(Hit("CFG-019", ins, f"{program(c)} install without --no-install-recommends"))
    hits += _cache_hits(ins, cmds, text)
    if any(program(c) == "cd" for c in cmds):
        hits.append(Hit("CFG-029", ins, "RUN cd"))
    return hits


def _is_update(c: list[str]) -> bool:
    prog, sub = program(c), subcommand(c)
    return (prog in ("apt-get", "apt", "apk") and sub == "update") or (
        prog == "zypper" and sub in ("refresh", "ref")
    )


def _install_manager(c: list[str]) -> str | None:
    prog, sub = program(c), subcommand(c)
    if prog in ("apt-get", "apt", "yum", "dnf", "microdnf", "tdnf") and sub in (
        "install",
        "reinstall",
        "upgrade",
    ):
        return prog
    if prog == "apk" and sub == "add":
        return prog
    if prog == "zypper" and sub in ("install", "in", "update", "up", "patch"):
        return prog
    return None


_CLEANUP = {
    "yum": re.compile(r"\byum\s+clean\s+all\b|rm\s+-\S*\s+\S*/var/cache/yum"),
    "dnf": re.compile(r"\bdnf\s+clean\s+all\b|rm\s+-\S*\s+\S*/var/cache/dnf"),
    "microdnf": re.compile(r"\bmicrodnf\s+clean\s+all\b"),
    "tdnf": re.compile(r"\btdnf\s+clean\s+all\b"),
    "zypper": re.compile(r"\bzypper\s+(?:\S+\s+)*(?:clean|cc)\b"),
    "apt-get": re.compile(r"rm\s+(?:-\S+\s+)*\S*/var/lib/apt/lists"),
    "apk": re.compile(r"rm\s+(?:-\S+\s+)*\S*/var/cache/apk"),
}


def _cache_hits(ins: Instruction, cmds: list[list[str]], text: str) -> list[Hit]:
    if any(name == "mount" and "type=cache" in val for name, val in ins.flags):
        return []
    hits = []
    seen: set[str] = set()
    for c in cmds:
        manager = _install_manager(c)
        if manager is None or manager in seen:
            continue
        seen.add(manager)
        key = "apt-get" if manager == "apt" else manager
        if key == "apk" and "--no-cache" in c:
            continue
        if not _CLEANUP[key].search(text):
            hits.append(Hit("CFG-015", ins, f"{manager} installs without cleaning its cache in the same RUN"))
    return hits


# --- other instructions ----------------------------------------------------------------------------------


def ports(ins: Instruction) -> list[str]:
    out = []
    for word in ins.args:
        if word.startswith("map["):  # BuildKit history: EXPOSE map[22/tcp:{}]
            out += re.findall(r"(\d+)/(?:tcp|udp|sctp)", word)
            continue
        out.append(word.split("/", 1)[0])
    return out


def port_hits(ins: Instruction | None, values: Iterable[str]) -> list[Hit]:
    hits = []
    for value in values:
        low, _, high = value.partition("-")
        try:
            numbers = [int(low), int(high or low)]
        except ValueError:
            continue  # an unexpanded variable: unknown, not wrong
        if any(n > 65535 or n < 0 for n in numbers):
            hits.append(Hit("CFG-004", ins, f"port {value} is out of range"))
            continue
        for port, name in SENSITIVE_PORTS.items():
            if numbers[0] <= port <= numbers[1]:
                hits.append(Hit("CFG-003", ins, f"port {port} ({name}) exposed"))
    return hits


def secret_hits(ins: Instruction) -> list[Hit]:
    hits = []
    pairs = env_pairs(ins) if ins.keyword in ("ENV", "ARG") else []
    for name, value in [*pairs, *ins.build_args]:
        if looks_secret(name, value):
            where = "build argument" if (name, value) in ins.build_args or ins.keyword == "ARG" else "ENV"
            hits.append(Hit("CFG-002", ins, f"{where} {name} has a value"))
    return hits


def add_hits(ins: Instruction) -> list[Hit]:
    hits = []
    sources = list(ins.args[:-1]) if len(ins.args) > 1 else list(ins.args)
    if any(_URL.match(s) for s in sources) and ins.flag("checksum") is None:
        hits.append(Hit("CFG-005", ins, "ADD of a remote URL without --checksum"))
    joined = " ".join(ins.args)
    history_form = (
        bool(ins.args) and ins.args[0].split(":", 1)[0] in ("file", "multi", "dir") and ":" in ins.args[0]
    )
    if not history_form and not any(s in joined for s in (".tar", "http://", "https://", "git@")):
        hits.append(Hit("CFG-006", ins, "ADD of local files"))
    return hits


def base_is_floating(reference: str) -> bool:
    """True for ``image``, ``image:latest``; False for pinned tags, digests, scratch and unexpanded refs."""
    if "$" in reference or reference == "scratch" or "@" in reference or not reference:
        return False
    last = reference.rsplit("/", 1)[-1]
    return ":" not in last or last.rsplit(":", 1)[1] == "latest"


def user_is_root(user: str | None) -> bool:
    if not user:
        return True
    name = user.split(":", 1)[0].strip()
    return name in ("", "root", "0")


# --- whole Dockerfile ------------------------------------------------------------------------------------


def dockerfile_hits(stages: Sequence[Stage], global_args: Sequence[Instruction]) -> list[Hit]:
    hits: list[Hit] = []
    for ins in global_args:
        hits += secret_hits(ins)
    aliases: dict[str, int] = {}
    for stage in stages:
        hits += [Hit(h.rule_id, h.instruction, h.message, stage.index) for h in _stage_hits(stage, aliases)]
        if stage.alias:
            key = stage.alias.lower()
            if key in aliases:
                hits.append(
                    Hit("CFG-032", stage.instructions[0], f"alias {stage.alias!r} reused", stage.index)
                )
            aliases[key] = stage.index
    if stages:
        final = stages[-1]
        users = [i for i in final.instructions if i.keyword == "USER"]
        last_user = users[-1].args[0] if users and users[-1].args else None
        if user_is_root(last_user):
            where = users[-1] if users else final.instructions[0]
            hits.append(Hit("CFG-001", where, "final stage runs as root", final.index))
        if not any(i.keyword == "HEALTHCHECK" for i in final.instructions):
            hits.append(Hit("CFG-017", final.instructions[0], "final stage has no HEALTHCHECK", final.index))
    return hits


def _stage_hits(stage: Stage, earlier_aliases: dict[str, int]) -> list[Hit]:
    hits: list[Hit] = []
    counts: dict[str, list[Instruction]] = {}
    tools: set[str] = set()
    for ins in stage.instructions:
        counts.setdefault(ins.keyword, []).append(ins)
        k = ins.keyword
        if k == "FROM":
            if stage.base.lower() not in earlier_aliases and base_is_floating(stage.base):
                hits.append(Hit("CFG-016", ins, f"base {stage.base!r} is not pinned to a version"))
        elif k == "RUN":
            hits += check_run(ins)
            hits += secret_hits(ins)
            tools |= {program(c) for c in simple_commands(ins.command)} & {"curl", "wget"}
        elif k in ("ENV", "ARG"):
            hits += secret_hits(ins)
        elif k == "EXPOSE":
            hits += port_hits(ins, ports(ins))
        elif k == "ADD":
            hits += add_hits(ins)
        elif k == "COPY":
            src = ins.flag("from")
            if src is not None and stage.alias and src.lower() == stage.alias.lower():
                hits.append(Hit("CFG-030", ins, f"COPY --from={src} names the current stage"))
            if len(ins.args) > 2 and not ins.args[-1].endswith("/"):
                hits.append(Hit("CFG-031", ins, f"destination {ins.args[-1]!r} does not end with /"))
        elif k == "MAINTAINER":
            hits.append(Hit("CFG-024", ins, "MAINTAINER"))
        elif k == "WORKDIR" and ins.args:
            hits += workdir_hits(ins, ins.args[0])
        elif k == "VOLUME":
            hits += volume_hits(ins, ins.args)
    for keyword, rule_id in (("CMD", "CFG-025"), ("ENTRYPOINT", "CFG-026"), ("HEALTHCHECK", "CFG-027")):
        if len(counts.get(keyword, [])) > 1:
            hits.append(Hit(rule_id, counts[keyword][-1], f"{len(counts[keyword])} {keyword} instructions"))
    if tools == {"curl", "wget"}:
        hits.append(Hit("CFG-033", stage.instructions[0], "both curl and wget used"))
    return hits


def workdir_hits(ins: Instruction | None, path: str) -> list[Hit]:
    path = path.strip('"')
    hits = []
    if not (path.startswith(("/", "$")) or re.match(r"^[A-Za-z]:[\\/]", path)):
        hits.append(Hit("CFG-028", ins, f"WORKDIR {path!r} is relative"))
    if (path.rstrip("/") + "/").startswith(SYSTEM_WORKDIRS):
        hits.append(Hit("CFG-035", ins, f"WORKDIR {path!r} is a system directory"))
    return hits


def volume_hits(ins: Instruction | None, paths: Iterable[str]) -> list[Hit]:
    hits = []
    for p in paths:
        norm = "/" + p.strip().strip("/")
        if any(norm == v or norm.startswith(v + "/") for v in SENSITIVE_VOLUMES):
            hits.append(Hit("CFG-034", ins, f"VOLUME {p}"))
    return hits


__all__ = [
    "Hit",
    "add_hits",
    "base_is_floating",
    "check_run",
    "dockerfile_hits",
    "port_hits",
    "ports",
    "secret_hits",
    "user_is_root",
    "volume_hits",
    "workdir_hits",
]
