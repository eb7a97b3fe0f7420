"""A person at a terminal sees progress on stderr; a pipe sees none, and the document is the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.images import LayerSpec, build_image, write_layout


def test_progress_only_on_a_terminal_and_never_in_the_document(tmp_path: Path) -> None:
    image = build_image([LayerSpec.from_files({f"f{i}": os.urandom(2048).hex() for i in range(200)})])
    layout = write_layout(tmp_path / "layout", {"v": image})
    args = [sys.executable, "-m", "imagetrust", "audit", f"oci:{layout}:v", "--no-cache", "--format", "json"]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}

    piped = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""

    leader, follower = os.openpty()
    with (tmp_path / "out.json").open("w") as out:
        process = subprocess.Popen(args, stdout=out, stderr=follower, env=env)
        os.close(follower)
        seen = b""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        assert process.wait(timeout=120) == 0
    os.close(leader)
    assert b"reading layers" in seen or b"scanning" in seen or b"cataloguing" in seen, seen[-500:]
    document = json.loads((tmp_path / "out.json").read_text())
    assert document == json.loads(piped.stdout)
