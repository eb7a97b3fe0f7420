# ruff: noqa: E501
"""Which registry requests a keyed ``verify`` makes, next to cosign 2's, for a cosign-signed and attested image.

    .venv/bin/python bench/verify_probe.py [--importtime]

Pushes one tiny image to a local docker-registry, signs and attests it (SLSA v0.2) with cosign 2 and a
fresh key, then prints every request (method, path, status) that ``imagetrust verify --key --type
slsaprovenance`` and ``cosign verify`` + ``cosign verify-attestation`` send through the counting proxy.
``--importtime`` also runs the verify under ``python -X importtime`` and lists unwanted modules.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import imagebuild  # noqa: E402
import run  # noqa: E402

UNWANTED = run.UNWANTED


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--hyperfine", action="store_true", help="time the verify with hyperfine (--runs 10)")
    parser.add_argument("--before", type=Path, help="a src/ tree to time as well (e.g. from git archive)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="verify-probe-") as tmp:
        work = Path(tmp)
        with run.registry(work) as server:
            layout = work / "layout"
            layer = imagebuild.files_layer(layout, [("srv/hello.txt", b"hello\n")])
            digest = imagebuild.write_image(layout, "t", [layer])
            run.skopeo_push(layout, "t", f"{server.host}/probe/app:v1")
            ref = f"{server.host}/probe/app@{digest}"
            keys = work / "keys"
            keys.mkdir()
            run.cosign("generate-key-pair", cwd=keys)
            (keys / "predicate.json").write_text(
                '{"builder": {"id": "https://probe.example/b"}, "buildType": "t"}'
            )
            run.sign_and_attest(ref, keys)
            proxy = run.CountingProxy(server.host)
            via = ref.replace(server.host, proxy.host)
            pub = str(keys / "cosign.pub")
            env = {**os.environ, "DOCKER_CONFIG": str(keys)}
            ours, sig_cmd, att_cmd = run.keyed_verify_commands(via, pub)
            proxy.take()
            done = subprocess.run(ours, env=env, capture_output=True, text=True)
            log = proxy.take_log()
            print(f"imagetrust verify: exit {done.returncode}, {len(log)} requests")
            print("\n".join("  " + line for line in log))
            for cmd in (sig_cmd, att_cmd):
                done = subprocess.run(cmd, env=env, capture_output=True, text=True)
                log = proxy.take_log()
                print(f"cosign {cmd[1]}: exit {done.returncode}, {len(log)} requests")
                print("\n".join("  " + line for line in log))
            if args.hyperfine:
                quoted = " ".join(ours)
                cmds = [quoted]
                if args.before:
                    cmds.insert(0, f"env PYTHONPATH={args.before} {quoted}")
                subprocess.run(
                    ["hyperfine", "--warmup", "2", "--runs", "10", "-N", *cmds], env=env, check=False
                )
            if args.importtime:
                done = subprocess.run(
                    [run.PY, "-X", "importtime", *ours], env=env, capture_output=True, text=True
                )
                mods = [
                    line.split("|")[-1].strip()
                    for line in done.stderr.splitlines()
                    if line.startswith("import time:")
                ]
                bad = sorted(
                    {m for m in mods if m.split(".")[0] in UNWANTED or m.startswith("imagetrust.audit")}
                )
                print(f"importtime: {len(mods)} modules; unwanted: {', '.join(bad) or 'none'}")
                top = sorted(
                    (
                        line
                        for line in done.stderr.splitlines()
                        if line.startswith("import time:")
                        and "|" in line
                        and line.split("|")[1].strip().isdigit()
                    ),
                    key=lambda line: -int(line.split("|")[1]),
                )[:25]
                print("\n".join(top))
            proxy.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
