# ruff: noqa: E501
"""The one benchmark command: builds real images, runs every measurement, writes bench/RESULTS.md and
bench/results/results.json.

    sh bench/setup.sh            # once: debootstrap (apt) and a minbase bookworm rootfs in bench/work
    .venv/bin/python bench/run.py [--repeat 3] [--quick]

Every figure is a ratio of two things measured in the same run on the same machine (it is shared and
noisy), and every time is the minimum of ``--repeat`` runs.  Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import imagebuild  # noqa: E402

from tests.support.registry import RegistryServer, start_registry  # noqa: E402

TOOLS = ROOT / "tools" / "bin"
PY = str(ROOT / ".venv" / "bin" / "python")
SITE = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
ONE_CORE = ["taskset", "-c", "0"]
# A keyed verify must not import these (keyless, audit, reports and policy stacks).
UNWANTED = (
    "sigstore",
    "yaml",
    "rich",
    "cyclonedx",
    "psycopg",
    "in_toto",
    "securesystemslib",
    "yara",
    "hyperscan",
    # stdlib modules a plain keyed verify has no use for (each costs milliseconds of a cold start here)
    "logging",
    "subprocess",
    "tempfile",
    "concurrent",
)


# --- measuring -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    max_rss_mb: float
    returncode: int


def run_once(cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """One child process: wall time, CPU time and peak RSS from ``wait4`` (the child's own rusage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        sys.stderr.write(
            f"bench: {' '.join(cmd)[:300]} exited {proc.returncode}: {err[-1500:].decode(errors='replace')}\n"
        )
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode)


def best(cmd: Sequence[str], repeat: int, **kw: Any) -> Run:
    runs = [run_once(cmd, **kw) for _ in range(repeat)]
    return min(runs, key=lambda r: r.wall)


def imagetrust(*args: str) -> list[str]:
    """The console script pip installs, as users run it (``python -m imagetrust`` adds runpy, ~5 ms)."""
    return [str(ROOT / ".venv" / "bin" / "imagetrust"), *args]


def audit_command(source: str, db: Path, *cache: str) -> list[str]:
    """The audit every audit row times: all scanners but malware, JSON to /dev/null; ``cache`` is
    ``--no-cache`` (the default) or ``--cache-dir DIR``."""
    return imagetrust(
        "audit",
        source,
        "--scanners",
        "vuln,secret,config",
        "--db",
        str(db),
        *(cache or ("--no-cache",)),
        "--format",
        "json",
        "-o",
        "/dev/null",
    )


# --- a counting proxy in front of the registry -----------------------------------------------------------
class CountingProxy:
    """Forwards HTTP/1.1 to the registry and counts requests; not a registry, only a meter."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.count = 0
        self.log: list[str] = []  # "METHOD path -> status", in arrival order
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body leave in separate writes: without this, Nagle's algorithm holds the body until
            # the client's delayed ACK (about 40 ms per response on a kept-alive connection)
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                with proxy._lock:
                    proxy.count += 1
                    proxy.log.append(f"{self.command} {self.path} -> {response.status}")
                self.send_response(response.status)
                for k, v in response.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v.replace(proxy.upstream, self.headers.get("Host", "")))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients closing idle keep-alive connections

        self.server = Server(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> int:
        with self._lock:
            n, self.count = self.count, 0
            self.log = []
        return n

    def take_log(self) -> list[str]:
        with self._lock:
            log, self.log, self.count = self.log, [], 0
        return log

    def close(self) -> None:
        self.server.shutdown()


# --- images ------------------------------------------------------------------------------------------------
@dataclass
class Images:
    layout: Path
    registry: RegistryServer
    refs: dict[str, str] = field(default_factory=dict)  # tag -> host/repo@digest


def skopeo_push(layout: Path, tag: str, dest: str) -> None:
    subprocess.run(
        [
            str(TOOLS / "skopeo"),
            "--insecure-policy",
            "copy",
            "--quiet",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{layout}:{tag}",
            f"docker://{dest}",
        ],
        check=True,
    )


def build_images(work: Path, rootfs: Path, registry: RegistryServer, quick: bool) -> Images:
    layout = work / "layout"
    images = Images(layout, registry)
    done = layout / "bench-refs.json"
    if done.exists():  # built by an earlier run: push again (the registry skips blobs it holds)
        saved = json.loads(done.read_text())
        for n in (1, 2):
            skopeo_push(layout, f"app{n}", f"{registry.host}/bench/app:{n}")
            images.refs[f"app{n}"] = f"{registry.host}/bench/app@{saved[f'app{n}']}"
        images.refs["_layers"] = json.dumps(saved["_layers"])
        return images
    shutil.rmtree(layout, ignore_errors=True)
    print("bench: building layers (rootfs, site-packages, app)", flush=True)
    base = imagebuild.dir_layer(layout, rootfs)
    pip = imagebuild.dir_layer(layout, SITE, prefix="usr/local/lib/python3.11/site-packages")
    for n in (1, 2):
        top = imagebuild.files_layer(
            layout,
            [("srv/app/build.txt", f"build {n}\n".encode()), ("srv/app/settings.py", b"DEBUG = False\n")],
        )
        digest = imagebuild.write_image(layout, f"app{n}", [base, pip, top])
        skopeo_push(layout, f"app{n}", f"{registry.host}/bench/app:{n}")
        images.refs[f"app{n}"] = f"{registry.host}/bench/app@{digest}"
    images.refs["_layers"] = json.dumps({"base": base.size, "pip": pip.size})
    digests = {k: v.rsplit("@", 1)[1] for k, v in images.refs.items() if k.startswith("app")}
    done.write_text(json.dumps({**digests, "_layers": {"base": base.size, "pip": pip.size}}))
    return images


def floor_seconds(layout: Path, manifest_ref: str) -> float:
    """Time for ONE process to sha256 every layer blob and gunzip it with isal (min of 3)."""
    code = f"""
import hashlib, json, sys, time
from pathlib import Path
from isal import isal_zlib
layout = Path({str(layout)!r})
index = json.loads((layout / 'index.json').read_text())
digest = next(m['digest'] for m in index['manifests'] if m['annotations']['org.opencontainers.image.ref.name'] == {manifest_ref!r})
manifest = json.loads((layout / 'blobs/sha256' / digest.split(':')[1]).read_bytes())
start = time.perf_counter()
for layer in manifest['layers']:
    path = layout / 'blobs/sha256' / layer['digest'].split(':')[1]
    h = hashlib.sha256()
    d = isal_zlib.decompressobj(31)
    with path.open('rb') as raw:
        while chunk := raw.read(1 << 20):
            h.update(chunk)
            d.decompress(chunk)
    assert 'sha256:' + h.hexdigest() == layer['digest']
print(time.perf_counter() - start)
"""
    times = []
    for _ in range(3):
        out = subprocess.run([*ONE_CORE, PY, "-c", code], capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip()))
    return min(times)


# --- the measurements --------------------------------------------------------------------------------------
@dataclass
class Row:
    name: str
    measured: str
    target: str
    met: bool | None
    command: str
    data: dict[str, Any] = field(default_factory=dict)


def audit_floor(images: Images, db: Path, repeat: int) -> Row:
    cmd = [*ONE_CORE, *audit_command(images.refs["app1"], db)]
    audit = best(cmd, repeat)
    floor = floor_seconds(images.layout, "app1")
    ratio = audit.wall / floor
    return Row(
        "audit floor ratio (1 core)",
        f"{ratio:.2f} (audit {audit.wall:.2f} s / floor {floor:.2f} s; peak RSS {audit.max_rss_mb:.0f} MB)",
        "<= 2.0",
        ratio <= 2.0,
        " ".join(cmd[3:]).replace(str(ROOT) + "/", ""),
        {
            "audit_s": audit.wall,
            "floor_s": floor,
            "ratio": ratio,
            "layers": json.loads(images.refs["_layers"]),
        },
    )


def secrets_vs_gitleaks(rootfs: Path, repeat: int, work: Path) -> Row:
    ours_cmd = imagetrust(
        "audit", f"dir:{rootfs}", "--scanners", "secret", "--no-cache", "--format", "json", "-o", "/dev/null"
    )
    theirs_cmd = [
        str(TOOLS / "gitleaks"),
        "detect",
        "--no-git",
        "--source",
        str(rootfs),
        "--report-format",
        "json",
        "--report-path",
        str(work / "gitleaks.json"),
        "--exit-code",
        "0",
        "--no-banner",
    ]
    ours = best(ours_cmd, repeat)
    theirs = best(theirs_cmd, 1)  # ~50x slower: one run (noise on a shared machine only slows it further)
    ratio = theirs.wall / ours.wall
    return Row(
        "secrets: gitleaks time / ours (same rootfs)",
        f"{ratio:.1f}x (ours {ours.wall:.2f} s, gitleaks {theirs.wall:.2f} s; CPU {ours.cpu:.2f} vs {theirs.cpu:.2f} s)",
        ">= 20x",
        ratio >= 20,
        "imagetrust audit dir:ROOTFS --scanners secret --no-cache  vs  gitleaks detect --no-git --source ROOTFS",
        {"ours_s": ours.wall, "gitleaks_s": theirs.wall, "ours_cpu": ours.cpu, "gitleaks_cpu": theirs.cpu},
    )


COSIGN_ENV = {"COSIGN_PASSWORD": "bench-only"}


def cosign(*args: str, cwd: Path) -> None:
    subprocess.run(
        [str(TOOLS / "cosign2"), *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={**os.environ, **COSIGN_ENV, "DOCKER_CONFIG": str(cwd)},
    )


def sign_and_attest(ref: str, keys: Path) -> None:
    """A keyed cosign signature and SLSA attestation (``keys/predicate.json``), no transparency log."""
    cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "-y", ref, cwd=keys)
    cosign(
        "attest",
        "--key",
        "cosign.key",
        "--tlog-upload=false",
        "-y",
        "--type",
        "slsaprovenance",
        "--predicate",
        "predicate.json",
        ref,
        cwd=keys,
    )


def keyed_verify_commands(target: str, pub: str) -> tuple[list[str], list[str], list[str]]:
    """Our keyed verify of a signature and a SLSA attestation, and cosign 2's two commands for the same."""
    ours = imagetrust("verify", target, "--key", pub, "--type", "slsaprovenance", "--no-cache")
    cosign2 = str(TOOLS / "cosign2")
    sig = [cosign2, "verify", "--key", pub, "--insecure-ignore-tlog", target]
    att = [
        cosign2,
        "verify-attestation",
        "--key",
        pub,
        "--insecure-ignore-tlog",
        "--type",
        "slsaprovenance",
        target,
    ]
    return ours, sig, att


def verify_rows(images: Images, work: Path, repeat: int, count: int) -> list[Row]:
    keys = work / "keys"
    shutil.rmtree(keys, ignore_errors=True)
    keys.mkdir()
    cosign("generate-key-pair", cwd=keys)
    # A small image in a repository of its own for this run: verify never reads layers, and signatures
    # left in the registry's storage by earlier runs would add blobs to both tools' counts.
    run_id = int(time.time())
    small = work / "verify-layout"
    shutil.rmtree(small, ignore_errors=True)
    digest = imagebuild.write_image(
        small, "v", [imagebuild.files_layer(small, [("srv/hello.txt", b"hello\n")])]
    )
    skopeo_push(small, "v", f"{images.registry.host}/bench/verify-{run_id}:v1")
    ref = f"{images.registry.host}/bench/verify-{run_id}@{digest}"
    (keys / "predicate.json").write_text(
        json.dumps(
            {"builder": {"id": "https://bench.example/builder"}, "buildType": "https://bench.example/type"}
        )
    )
    sign_and_attest(ref, keys)
    proxy = CountingProxy(images.registry.host)
    try:
        via = ref.replace(images.registry.host, proxy.host)
        pub = str(keys / "cosign.pub")

        # Timed straight against the registry (the counting proxy adds latency per request); requests are
        # counted in separate runs through the proxy.
        ours_direct, sig_direct, att_direct = keyed_verify_commands(ref, pub)
        ours_cmd, sig_cmd, att_cmd = keyed_verify_commands(via, pub)
        env = {"DOCKER_CONFIG": str(keys)}
        ours_runs, theirs_runs, ours_req, theirs_req = [], [], [], []
        for _ in range(repeat):
            ours_runs.append(run_once(ours_direct, env=env))
            a, b = run_once(sig_direct, env=env), run_once(att_direct, env=env)
            theirs_runs.append(a.wall + b.wall)
            proxy.take()
            run_once(ours_cmd, env=env)
            ours_req.append(proxy.take())
            run_once(sig_cmd, env=env)
            run_once(att_cmd, env=env)
            theirs_req.append(proxy.take())
        assert all(r.returncode == 0 for r in ours_runs), "imagetrust verify did not verify"
        proxy.take()
        run_once(ours_cmd, env=env)
        ours_log = proxy.take_log()
        run_once(sig_cmd, env=env)
        run_once(att_cmd, env=env)
        theirs_log = proxy.take_log()
        timed = subprocess.run(
            [PY, "-X", "importtime", *ours_cmd],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        modules = {
            line.split("|")[-1].strip()
            for line in timed.stderr.splitlines()
            if line.startswith("import time:")
        }
        unwanted = sorted(
            m for m in modules if m.split(".")[0] in UNWANTED or m.startswith("imagetrust.audit")
        )
        ours_t, theirs_t = min(r.wall for r in ours_runs), min(theirs_runs)
        ratio = ours_t / theirs_t
        single = Row(
            "cold keyed verify (signature + SLSA attestation): ours / cosign",
            f"{ratio:.2f} (ours {ours_t:.2f} s, cosign verify + verify-attestation {theirs_t:.2f} s); "
            f"requests ours {min(ours_req)} vs cosign {min(theirs_req)}; keyed verify imports {len(modules)} "
            f"modules, unwanted: {', '.join(unwanted) or 'none'}",
            "<= 1.5, requests <= cosign's",
            ratio <= 1.5 and min(ours_req) <= min(theirs_req),
            "imagetrust verify REF --key cosign.pub --type slsaprovenance --no-cache  vs  cosign verify + "
            "cosign verify-attestation --type slsaprovenance (--insecure-ignore-tlog); timed direct, requests "
            "counted through a proxy",
            {
                "ours_s": ours_t,
                "cosign_s": theirs_t,
                "ours_requests": ours_req,
                "cosign_requests": theirs_req,
                "ours_request_log": ours_log,
                "cosign_request_log": theirs_log,
                "modules_imported": len(modules),
                "unwanted_modules": unwanted,
            },
        )

        # many images: tiny distinct images, each signed
        print(f"bench: pushing and signing {count} images", flush=True)
        many_layout = work / "many"
        shutil.rmtree(many_layout, ignore_errors=True)
        refs = []
        run_id = int(
            time.time()
        )  # fresh repositories: the registry's storage outlives a run, signatures with it
        for n in range(count):
            layer = imagebuild.files_layer(many_layout, [(f"srv/id-{n}.txt", f"image {n}\n".encode())])
            digest = imagebuild.write_image(many_layout, f"i{n}", [layer])
            skopeo_push(many_layout, f"i{n}", f"{images.registry.host}/bench/many{n}-{run_id}:v1")
            target = f"{images.registry.host}/bench/many{n}-{run_id}@{digest}"
            cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "-y", target, cwd=keys)
            refs.append(target)  # straight to the registry: the Python proxy would be the bottleneck
        ours_many = best(
            imagetrust("verify", "--key", pub, "--no-cache", "--format", "json", *refs), repeat, env=env
        )
        assert ours_many.returncode == 0, "imagetrust verify of many images did not verify"
        start = time.perf_counter()
        for r in refs:
            run_once([str(TOOLS / "cosign2"), "verify", "--key", pub, "--insecure-ignore-tlog", r], env=env)
        theirs_many = time.perf_counter() - start
        speedup = theirs_many / ours_many.wall
        many = Row(
            f"{count} images verified: {count} cosign runs / one imagetrust run",
            f"{speedup:.1f}x (ours {ours_many.wall:.2f} s, cosign {theirs_many:.2f} s)",
            ">= 3x",
            speedup >= 3,
            f"imagetrust verify --key cosign.pub --no-cache REF1 ... REF{count}  vs  {count} x cosign verify",
            {"ours_s": ours_many.wall, "cosign_s": theirs_many},
        )
    finally:
        proxy.close()
    return [single, many]


def memory_row(work: Path, db: Path) -> Row:
    layout = work / "big"
    if not (layout / "index.json").exists():
        print("bench: generating the 1 GB layer", flush=True)
        layer = imagebuild.files_layer(layout, imagebuild.generated_files(1024, 1 << 20, 7, "data"))
        imagebuild.write_image(layout, "big", [layer])
    run = run_once(audit_command(f"oci:{layout}:big", db))
    return Row(
        "peak RSS, one 1 GB layer (1,024 x 1 MiB generated text files)",
        f"{run.max_rss_mb:.0f} MB (audit {run.wall:.1f} s)",
        "< 300 MB",
        run.max_rss_mb < 300,
        "imagetrust audit oci:big:big --scanners vuln,secret,config --no-cache  (rusage of the child)",
        {"max_rss_mb": run.max_rss_mb, "wall_s": run.wall},
    )


def _scaling_audit(layout: Path, db: Path) -> Run:
    """The audit every scaling point times (best of two)."""
    return best(audit_command(f"oci:{layout}:x", db), 2)


def scaling_rows(work: Path, db: Path, quick: bool) -> list[Row]:
    rows = []
    sizes = (64, 128, 256) if quick else (128, 256, 512)
    files = (5_000, 20_000, 50_000)
    points = []
    for mb in sizes:
        layout = work / f"size{mb}"
        if not (layout / "index.json").exists():
            layer = imagebuild.files_layer(layout, imagebuild.generated_files(mb, 1 << 20, mb, "data"))
            imagebuild.write_image(layout, "x", [layer])
        run = _scaling_audit(layout, db)
        points.append((mb, run.wall))
    rows.append(
        Row(
            "scaling with size (MiB of 1 MiB files -> s)",
            ", ".join(f"{mb} MiB: {t:.2f} s ({mb / t:.0f} MiB/s)" for mb, t in points),
            "(report)",
            None,
            "imagetrust audit oci:sizeN:x --scanners vuln,secret,config --no-cache",
            {"points": points},
        )
    )
    points = []
    for n in files:
        layout = work / f"files{n}"
        if not (layout / "index.json").exists():
            layer = imagebuild.files_layer(layout, imagebuild.generated_files(n, 512, n, "many"))
            imagebuild.write_image(layout, "x", [layer])
        run = _scaling_audit(layout, db)
        points.append((n, run.wall))
    rows.append(
        Row(
            "scaling with file count (512-byte files -> s)",
            ", ".join(f"{n:,} files: {t:.2f} s ({t / n * 1e6:.0f} us/file)" for n, t in points),
            "(report)",
            None,
            "imagetrust audit oci:filesN:x --scanners vuln,secret,config --no-cache",
            {"points": points},
        )
    )
    return rows


def warm_cache_row(images: Images, work: Path, db: Path, repeat: int) -> Row:
    colds, warms = [], []
    for i in range(repeat):
        cold_dir, warm_dir = work / f"cache-cold-{i}", work / f"cache-warm-{i}"
        for d in (cold_dir, warm_dir):
            shutil.rmtree(d, ignore_errors=True)
        colds.append(run_once(audit_command(images.refs["app2"], db, "--cache-dir", str(cold_dir))).wall)
        run_once(audit_command(images.refs["app1"], db, "--cache-dir", str(warm_dir)))
        warms.append(run_once(audit_command(images.refs["app2"], db, "--cache-dir", str(warm_dir))).wall)
    cold, warm = min(colds), min(warms)
    ratio = warm / cold
    return Row(
        "warm cache: audit of an image differing only in its top layer / cold audit",
        f"{ratio * 100:.0f}% (warm {warm:.2f} s, cold {cold:.2f} s)",
        "< 25%",
        ratio < 0.25,
        "imagetrust audit app1 --cache-dir C; then imagetrust audit app2 --cache-dir C  vs  app2 with an empty C",
        {"cold_s": cold, "warm_s": warm, "ratio": ratio},
    )


def startup_row() -> Row:
    run = best(imagetrust("verify", "--help"), 5)
    mods = subprocess.run(
        [
            PY,
            "-c",
            "import sys, imagetrust.cli.main; "
            "print(int('sigstore' in sys.modules), int('imagetrust.pipeline.audit' in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return Row(
        "startup: imagetrust verify --help",
        f"{run.wall:.2f} s; sigstore imported: {mods[0] == '1'}, audit stack imported: {mods[1] == '1'}",
        "low; keyed verify imports neither sigstore nor the audit stack",
        mods == ["0", "0"],
        "imagetrust verify --help (min of 5); python -X importtime for the breakdown",
        {"wall_s": run.wall},
    )


def build_db(work: Path) -> Path:
    from imagetrust.audit.vulns.db import AdvisoryDB
    from imagetrust.audit.vulns.sources import load_advisories

    path = work / "advisories.sqlite"
    if not path.exists():
        db = AdvisoryDB.create(path)
        name = "pypa-advisory-database-vulns.tar.gz"
        db.import_advisories(load_advisories(Path("/work/shared/data/vulndb") / name), name)
    return path


@contextlib.contextmanager
def registry(work: Path) -> Iterator[RegistryServer]:
    server = start_registry(TOOLS / "docker-registry", work / "registry", "plain")
    try:
        yield server
    finally:
        server.stop()


def _earlier_rows(fresh: list[Row]) -> list[Row]:
    """With ``--only``: the rows of the previous results.json that were not measured again, marked so."""
    path = HERE / "results" / "results.json"
    if not path.exists():
        return []
    previous = json.loads(path.read_text())
    names = {r.name for r in fresh}
    when = previous.get("header", "").split(" on ", 1)[-1].split(",", 1)[0]
    kept = []
    for r in previous.get("rows", []):
        if r["name"] in names:
            continue
        measured = (
            r["measured"] if "(earlier run" in r["measured"] else f"{r['measured']} (earlier run, {when})"
        )
        kept.append(Row(r["name"], measured, r["target"], r["met"], r["command"], r.get("data", {})))
    return kept


def write_results(rows: list[Row], args: argparse.Namespace) -> None:
    load = os.getloadavg()
    only = f" --only {args.only}" if args.only else ""
    header = (
        f"Produced by `.venv/bin/python bench/run.py --repeat {args.repeat}{' --quick' if args.quick else ''}{only}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores ({platform.machine()}), "
        f"load average {load[0]:.1f} at the end (the machine is shared).  Times are the minimum of the repeats."
    )
    if args.only:
        rows = rows + _earlier_rows(rows)
    lines = [
        "# Benchmark results",
        "",
        header,
        "",
        "| measurement | result | target | met | command |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        met = "n/a" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(f"| {r.name} | {r.measured} | {r.target} | {met} | `{r.command}` |")
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"header": header, "rows": [r.__dict__ for r in rows]}, indent=2, default=str) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--many", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="smaller scaling sizes")
    parser.add_argument("--only", help="comma list: floor,secrets,verify,memory,scaling,warm,startup")
    args = parser.parse_args()
    # Bytecode as an installed package has it (pip compiles at install; PYTHONDONTWRITEBYTECODE would
    # otherwise make every timed run compile our modules again).
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "src")], check=True, capture_output=True)
    work = Path(os.environ.get("BENCH_WORK", HERE / "work"))
    rootfs = work / "rootfs"
    only = set(args.only.split(",")) if args.only else None
    want = lambda name: only is None or name in only  # noqa: E731
    needs_rootfs = any(want(n) for n in ("floor", "secrets", "verify", "warm"))
    if needs_rootfs and not (rootfs / ".complete").exists():
        subprocess.run(["sh", str(HERE / "setup.sh")], check=True)
    db = build_db(work)
    rows: list[Row] = []
    with registry(work) as server:
        images = (
            build_images(work, rootfs, server, args.quick)
            if (want("floor") or want("verify") or want("warm"))
            else None
        )
        if want("startup"):
            rows.append(startup_row())
        if want("floor") and images:
            rows.append(audit_floor(images, db, args.repeat))
        if want("warm") and images:
            rows.append(warm_cache_row(images, work, db, args.repeat))
        if want("secrets"):
            rows.append(secrets_vs_gitleaks(rootfs, args.repeat, work))
        if want("verify") and images:
            rows.extend(verify_rows(images, work, args.repeat, args.many))
        if want("memory"):
            rows.append(memory_row(work, db))
        if want("scaling"):
            rows.extend(scaling_rows(work, db, args.quick))
    for r in rows:
        print(f"{r.name}: {r.measured} [target {r.target}]", flush=True)
    write_results(rows, args)


if __name__ == "__main__":
    main()
