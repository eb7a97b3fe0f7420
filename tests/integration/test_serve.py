"""`imagetrust serve` as a real HTTPS admission webhook: AdmissionReview v1 requests posted over TLS (a
throwaway CA) to a subprocess, for images signed with REAL cosign 2 in the REAL docker-registry."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.test_verify_cosign import push_image
from tests.support.cosign import cosign_ok, generate_key_pair, sign
from tests.support.registry import RegistryServer

pytestmark = [pytest.mark.registry, pytest.mark.interop]


@dataclass(frozen=True)
class Tls:
    ca: Path
    cert: Path
    key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""
    d = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("test CA")).issuer_name(_name("test CA"))
        .public_key(ca_key.public_key()).serial_number(1)
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    leaf = (
        x509.CertificateBuilder().subject_name(_name("imagetrust-webhook")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(2)
        .not_valid_before(start).not_valid_after(end)
        .add_extension(san, critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "tls.crt").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (d / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Tls(d / "ca.pem", d / "tls.crt", d / "tls.key")


@dataclass
class Webhook:
    port: int
    context: ssl.SSLContext
    process: subprocess.Popen[bytes]
    log: Path

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, Any]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=40)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"null")
        finally:
            conn.close()

    def review(self, obj: dict[str, Any], kind: str = "Pod", uid: str = "uid-1") -> dict[str, Any]:
        doc = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": uid,
                "kind": {"group": "", "version": "v1", "kind": kind},
                "operation": "CREATE",
                "namespace": "default",
                "object": obj,
            },
        }
        status, answer = self.request("POST", "/validate", json.dumps(doc).encode())
        assert status == 200, answer
        assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
        response: dict[str, Any] = answer["response"]
        assert response["uid"] == uid
        return response

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_webhook(tls: Tls, log: Path, *args: str) -> Webhook:
    port = _free_port()
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "imagetrust", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--tls-cert", str(tls.cert), "--tls-key", str(tls.key), "--no-cache", *args],
            stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
    context = ssl.create_default_context(cafile=str(tls.ca))
    hook = Webhook(port, context, process, log)
    for _ in range(200):
        if process.poll() is not None:
            raise AssertionError(f"serve exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if hook.request("GET", "/healthz")[0] == 200:
                return hook
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"serve did not start: {log.read_text()[-2000:]}")


def stop(hook: Webhook) -> None:
    hook.process.terminate()
    hook.process.wait(timeout=10)


@dataclass(frozen=True)
class Images:
    signed: str  # HOST/serve/signed:v1
    unsigned: str
    key: Path  # cosign.pub


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, registry_plain: RegistryServer) -> Images:
    keydir = generate_key_pair(tmp_path_factory.mktemp("serve-key"))
    tmp = tmp_path_factory.mktemp("serve-images")
    repo, digest = push_image(tmp, registry_plain, "serve/signed:v1", "serve-signed")
    sign(keydir, f"{repo}@{digest}")
    unsigned, _ = push_image(tmp, registry_plain, "serve/unsigned:v1", "serve-unsigned")
    return Images(f"{repo}:v1", f"{unsigned}:v1", keydir / "cosign.pub")


@pytest.fixture(scope="module")
def stalled_registry() -> Iterator[str]:
    """A TCP port that accepts connections and never answers: verification can only time out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"127.0.0.1:{s.getsockname()[1]}/stalled/app:v1"


@pytest.fixture(scope="module")
def webhook(tls: Tls, images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    log = tmp_path_factory.mktemp("serve-log") / "stderr.log"
    hook = start_webhook(tls, log, "--key", str(images.key), "--deadline", "4")
    yield hook
    stop(hook)


def pod(*images: str, init: tuple[str, ...] = (), ephemeral: tuple[str, ...] = ()) -> dict[str, Any]:
    def containers(names: tuple[str, ...], prefix: str) -> list[dict[str, str]]:
        return [{"name": f"{prefix}{i}", "image": image} for i, image in enumerate(names)]

    spec: dict[str, Any] = {"containers": containers(images, "c")}
    if init:
        spec["initContainers"] = containers(init, "init")
    if ephemeral:
        spec["ephemeralContainers"] = containers(ephemeral, "debug")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


# ------------------------------------------------------------------------------------------------ tests


def test_pod_of_signed_images_is_allowed(webhook: Webhook, images: Images) -> None:
    response = webhook.review(pod(images.signed))
    assert response["allowed"] is True, response
    event = webhook.events()[-1]
    assert event["event"] == "admission" and event["allowed"] is True
    assert event["images"][0]["digest"].startswith("sha256:")


def test_unsigned_image_in_any_container_slot_or_workload_is_denied(webhook: Webhook, images: Images) -> None:
    response = webhook.review(pod(images.unsigned))
    assert response["allowed"] is False and response["status"]["code"] == 403
    assert images.unsigned in response["status"]["message"]
    for obj in (
        pod(images.signed, init=(images.unsigned,)),
        pod(images.signed, ephemeral=(images.unsigned,)),
    ):
        assert webhook.review(obj)["allowed"] is False
    template = {"template": {"spec": pod(images.signed, init=(images.unsigned,))["spec"]}}
    for kind, spec in (
        ("Deployment", template),
        ("StatefulSet", template),
        ("DaemonSet", template),
        ("ReplicaSet", template),
        ("Job", template),
        ("CronJob", {"jobTemplate": {"spec": template}}),
    ):
        response = webhook.review({"kind": kind, "metadata": {"name": "w"}, "spec": spec}, kind=kind)
        assert response["allowed"] is False and images.unsigned in response["status"]["message"], kind
    signed_only = {"jobTemplate": {"spec": {"template": {"spec": pod(images.signed)["spec"]}}}}
    assert webhook.review({"kind": "CronJob", "spec": signed_only}, kind="CronJob")["allowed"] is True


def test_unreachable_and_stalled_registries_are_denied_within_the_deadline(
    webhook: Webhook, stalled_registry: str
) -> None:
    response = webhook.review(pod("127.0.0.1:1/nowhere/app:v1"))
    assert response["allowed"] is False and "could not" in response["status"]["message"]
    started = time.monotonic()
    response = webhook.review(pod(stalled_registry))
    assert time.monotonic() - started < 10
    assert response["allowed"] is False and "not verified within 4s" in response["status"]["message"]


def test_the_tag_is_resolved_every_time_and_the_digest_verdict_cached(
    webhook: Webhook, images: Images, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    moving = images.signed.replace("serve/signed:v1", "serve/signed:moving")
    cosign_ok("cosign2", "copy", "-f", images.signed, moving, cwd=tmp_path)  # same digest, new tag
    assert webhook.review(pod(moving))["allowed"] is True
    assert webhook.review(pod(moving))["allowed"] is True
    assert webhook.events()[-1]["images"][0]["cached"] is True
    # The tag now names an unsigned image: the cached verdict for the old digest must not apply.
    push_image(tmp_path, registry_plain, "serve/signed:moving", "serve-moved")
    response = webhook.review(pod(moving))
    assert response["allowed"] is False and webhook.events()[-1]["images"][0]["cached"] is False


def test_malformed_requests_get_errors_and_the_server_keeps_serving(webhook: Webhook, images: Images) -> None:
    assert webhook.request("POST", "/validate", b"{not json")[0] == 400
    status, answer = webhook.request("POST", "/validate", json.dumps({"kind": "AdmissionReview"}).encode())
    assert status == 400 and "apiVersion" in answer["error"]
    no_uid = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}
    assert webhook.request("POST", "/validate", json.dumps(no_uid).encode())[0] == 400
    no_image = {"spec": {"containers": [{"name": "x"}]}}
    request = {"uid": "u", "kind": {"kind": "Pod"}, "object": no_image}
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    assert webhook.request("POST", "/validate", json.dumps(review).encode())[0] == 400
    for request in ({"uid": "u", "kind": "Pod", "object": {}}, {"uid": "u", "kind": {}, "object": [1]}):
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
        assert webhook.request("POST", "/validate", json.dumps(review).encode())[0] == 400
    assert webhook.request("POST", "/elsewhere", b"{}")[0] == 404
    # Over the body limit: refused from the header, before reading a byte of it.
    assert webhook.request("POST", "/validate", b"x", **{"Content-Length": str(64 << 20)})[0] == 413
    # A client that speaks no TLS at all, and one that connects and says nothing.
    with socket.create_connection(("127.0.0.1", webhook.port)) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
    socket.create_connection(("127.0.0.1", webhook.port)).close()
    assert webhook.request("GET", "/healthz") == (200, {"status": "ok"})
    assert webhook.review(pod(images.signed), uid="after-garbage")["allowed"] is True
    assert webhook.process.poll() is None


def test_fail_open_admits_only_what_could_not_be_checked(tls: Tls, images: Images, tmp_path: Path) -> None:
    hook = start_webhook(tls, tmp_path / "log", "--key", str(images.key), "--fail-open", "--cache-ttl", "0")
    try:
        response = hook.review(pod("127.0.0.1:1/nowhere/app:v1"))
        assert response["allowed"] is True and "fails open" in response["warnings"][0]
        assert hook.review(pod(images.unsigned))["allowed"] is False  # failed verification: still denied
    finally:
        stop(hook)
