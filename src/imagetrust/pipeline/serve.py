"""``serve``: a Kubernetes validating admission webhook (AdmissionReview v1) that verifies signatures only.

Every container image of the admitted object (containers, init and ephemeral containers of a Pod or of a
workload's pod template) is resolved to a digest on each request (a tag may have moved), and the digest is
verified against the policy's signature and attestation rules; content checks are left to ``check`` and
``rescan`` because an admission answer must be fast.  Verdicts are cached per digest for a TTL.

The whole answer is bounded by a per-request deadline below the API server's 30-second webhook limit.  An
image that could not be checked in time, or at all, is denied unless the server fails open; an image that
failed verification is always denied.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from imagetrust.errors import CouldNotCheck, ImageTrustError, InvalidReference, LocalInputError
from imagetrust.oci.digest import Digest
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.pipeline.check import KeylessMaterial, collect_verification, verify_options
from imagetrust.pipeline.settings import SourceSettings
from imagetrust.pipeline.verify import verify_image
from imagetrust.policy.evaluate import Outcome, evaluate
from imagetrust.policy.model import KeyAuthority, Policy
from imagetrust.registry.open import open_store
from imagetrust.report.verify import VerifyResult

Log = Callable[[Mapping[str, Any]], None]

# Where each kind keeps its pod spec.
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")


class AdmissionRequestError(LocalInputError):
    """An AdmissionReview that cannot be answered because it is malformed (HTTP 400)."""


def verification_only(policy: Policy) -> Policy:
    """The policy's signature and attestation rules, without content checks (admission is verify-only)."""
    rules = tuple(
        replace(
            r, vulnerabilities=None, secrets=None, malware=None, config=None, packages=None, licenses=None
        )
        for r in policy.rules
    )
    return replace(policy, rules=rules)


def pod_images(obj: Any, kind: str) -> list[tuple[str, str]]:
    """(``initContainers[0]``-style location, image) for every container of the object's pod spec."""
    path = _POD_SPEC_PATHS.get(kind)
    if path is None:
        return []
    spec: Any = obj
    for key in path:
        spec = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        raise AdmissionRequestError(f"{kind} object has no pod spec at {'.'.join(path)}")
    out: list[tuple[str, str]] = []
    for where in _CONTAINER_FIELDS:
        containers = spec.get(where) or []
        if not isinstance(containers, list):
            raise AdmissionRequestError(f"{kind} {where} is not a list")
        for i, container in enumerate(containers):
            image = container.get("image") if isinstance(container, dict) else None
            name = container.get("name", i) if isinstance(container, dict) else i
            if not isinstance(image, str) or not image:
                raise AdmissionRequestError(f"{kind} {where}[{name}] has no image")
            out.append((f"{where}[{name}]", image))
    return out


@dataclass(frozen=True)
class ImageVerdict:
    image: str
    digest: Digest | None
    allowed: bool
    reason: str
    definitive: bool  # verified or failed; False: could not check (never cached)
    cached: bool = False


@dataclass(frozen=True)
class AdmissionSettings:
    policy: Policy
    source: SourceSettings
    keyless: KeylessMaterial = field(default_factory=KeylessMaterial)
    cache_ttl_seconds: float = 300.0
    deadline_seconds: float = 25.0  # the API server gives up at 30 s (timeoutSeconds at most 30)
    fail_open: bool = False
    workers: int = 8


class VerdictCache:
    """Definitive verdicts by digest, each kept for ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, ImageVerdict]] = {}

    def get(self, digest: Digest, now: float) -> ImageVerdict | None:
        with self._lock:
            entry = self._entries.get(str(digest))
            if entry is None or entry[0] <= now:
                self._entries.pop(str(digest), None)
                return None
            return entry[1]

    def put(self, verdict: ImageVerdict, now: float) -> None:
        if verdict.digest is None or not verdict.definitive or self._ttl <= 0:
            return
        with self._lock:
            if len(self._entries) > 10_000:  # drop expired entries before growing further
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries[str(verdict.digest)] = (now + self._ttl, verdict)


class Admission:
    """Answers AdmissionReview requests; thread-safe, one per server."""

    def __init__(self, settings: AdmissionSettings, log: Log | None = None) -> None:
        self.settings = settings
        self._policy = verification_only(settings.policy)
        self._cache = VerdictCache(settings.cache_ttl_seconds)
        self._pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="verify")
        self._log = log or (lambda _event: None)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------------------------- one image

    def _resolve(self, image: str) -> tuple[str, str, Digest]:
        """(image name, pinned reference, digest): the tag is resolved on every request."""
        ref = parse_registry_ref(image)
        source = self.settings.source
        store = open_store(ref, source.registry, source.limits, None)
        digest = ref.digest if ref.digest is not None else store.resolve().digest
        return ref.name, str(ref.with_digest(digest)), digest

    def verify(self, image: str) -> ImageVerdict:
        try:
            name, pinned, digest = self._resolve(image)
        except InvalidReference as e:
            return ImageVerdict(image, None, False, f"{image}: {e.diagnostics()}", True)
        except ImageTrustError as e:
            return ImageVerdict(image, None, False, f"{image}: could not resolve: {e.diagnostics()}", False)
        cached = self._cache.get(digest, time.monotonic())
        if cached is not None:
            return replace(cached, image=image, cached=True)
        verdict = self._verify_digest(image, name, pinned, digest)
        self._cache.put(verdict, time.monotonic())
        return verdict

    def _verify_digest(self, image: str, name: str, pinned: str, digest: Digest) -> ImageVerdict:
        source = self.settings.source
        results: list[VerifyResult] = []
        errors: list[str] = []
        for options in verify_options(self._policy, self.settings.keyless):
            try:
                result = verify_image(pinned, source, options)
            except CouldNotCheck as e:
                errors.append(e.diagnostics())
                continue
            except ImageTrustError as e:
                return ImageVerdict(image, digest, False, f"{image}: {e.diagnostics()}", False)
            results.append(result)
        keys = tuple(a.key for a in self._policy.authorities() if isinstance(a, KeyAuthority))
        store = open_store(parse_registry_ref(pinned), source.registry, source.limits, None)
        try:
            verification = collect_verification(store, digest, results, errors, keys, source)
        except ImageTrustError as e:
            return ImageVerdict(image, digest, False, f"{image}: could not check: {e.diagnostics()}", False)
        decision = evaluate(self._policy, name, verification, None, datetime.now(UTC))
        reason = f"{image} ({digest}): " + "; ".join(decision.reasons[:3])
        if decision.outcome is Outcome.PASS:
            return ImageVerdict(image, digest, True, reason, True)
        return ImageVerdict(image, digest, False, reason, decision.outcome is Outcome.FAIL)

    # ----------------------------------------------------------------------------------- one request

    def _verdicts(self, images: list[str], deadline: float) -> Iterator[ImageVerdict]:
        futures: dict[str, Future[ImageVerdict]] = {i: self._pool.submit(self.verify, i) for i in images}
        for image, future in futures.items():
            try:
                yield future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                seconds = self.settings.deadline_seconds
                yield ImageVerdict(image, None, False, f"{image}: not verified within {seconds:g}s", False)
            except Exception as e:  # a bug must deny (or fail open), never crash the server
                yield ImageVerdict(image, None, False, f"{image}: internal error: {type(e).__name__}", False)

    def review(self, body: bytes) -> dict[str, Any]:
        """The AdmissionReview response for one request body; raises AdmissionRequestError if malformed."""
        started = time.monotonic()
        deadline = started + self.settings.deadline_seconds
        request = _parse_review(body, self.settings.source.limits.json_depth)
        uid = request["uid"]
        kind_field = request.get("kind") or {}
        obj = request.get("object")
        if not isinstance(kind_field, dict) or not isinstance(obj, dict | None):
            raise AdmissionRequestError("AdmissionReview request.kind and request.object must be objects")
        kind = str(kind_field.get("kind") or "")
        if request.get("operation") == "DELETE" or obj is None:
            return _response(uid, True, "nothing to run")
        located = pod_images(obj, kind)
        images = list(dict.fromkeys(image for _, image in located))
        limit = self.settings.source.limits.admission_images
        if len(images) > limit:
            return _response(uid, False, f"{len(images)} distinct images, more than the limit of {limit}")
        verdicts = list(self._verdicts(images, deadline))
        denied = [v for v in verdicts if not v.allowed and (v.definitive or not self.settings.fail_open)]
        let_through = [v for v in verdicts if not v.allowed and v not in denied]
        allowed = not denied
        warnings = [f"not verified, admitted because the webhook fails open: {v.reason}" for v in let_through]
        message = "; ".join(v.reason for v in denied) if denied else "all images verified"
        self._log(
            {
                "event": "admission",
                "uid": uid,
                "kind": kind,
                "namespace": request.get("namespace"),
                "name": request.get("name") or _name_of(obj),
                "allowed": allowed,
                "images": [
                    {
                        "image": v.image,
                        "digest": str(v.digest) if v.digest else None,
                        "allowed": v.allowed,
                        "cached": v.cached,
                        "reason": v.reason,
                    }
                    for v in verdicts
                ],
                "seconds": round(time.monotonic() - started, 3),
            }
        )
        return _response(uid, allowed, f"imagetrust: {message}", warnings)


def _name_of(obj: dict[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _parse_review(body: bytes, max_depth: int) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise AdmissionRequestError(f"request body is not JSON: {e}") from e
    if not isinstance(doc, dict) or doc.get("kind") != "AdmissionReview":
        raise AdmissionRequestError("request body is not an AdmissionReview")
    if doc.get("apiVersion") != "admission.k8s.io/v1":
        raise AdmissionRequestError(f"AdmissionReview apiVersion {doc.get('apiVersion')!r} is not v1")
    request = doc.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("uid"), str) or not request["uid"]:
        raise AdmissionRequestError("AdmissionReview has no request.uid")
    if _depth(request) > max_depth:
        raise AdmissionRequestError(f"AdmissionReview nests deeper than {max_depth} levels")
    return request


def _depth(value: Any, level: int = 0) -> int:
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _response(uid: str, allowed: bool, message: str, warnings: list[str] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        response["status"] = {"code": 403, "reason": "Forbidden", "message": message[:4000]}
    if warnings:
        response["warnings"] = [w[:500] for w in warnings[:10]]
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


# ------------------------------------------------------------------------------------------- HTTPS


def _handler(admission: Admission, log: Log) -> type[BaseHTTPRequestHandler]:
    limit = admission.settings.source.limits.admission_body_bytes

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body leave in separate writes: without this, Nagle's algorithm holds the body until
        # the client's delayed ACK (about 40 ms per response on a kept-alive connection)
        disable_nagle_algorithm = True
        timeout = 30  # a client that stalls mid-request loses its connection, not a worker forever
        server_version = "imagetrust-admission"

        def log_message(self, format: str, *args: Any) -> None:
            return  # every request is logged as a structured event instead

        def _send(self, code: int, doc: Mapping[str, Any]) -> None:
            data = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, code: int, message: str) -> None:
            log({"event": "bad_request", "status": code, "path": self.path, "error": message})
            self.close_connection = True
            self._send(code, {"error": message})

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(200, {"status": "ok"})
            else:
                self._error(404, f"no such path {self.path[:100]!r}")

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != "/validate":
                self._error(404, f"no such path {self.path[:100]!r}")
                return
            length_text = self.headers.get("Content-Length")
            if length_text is None or not length_text.isdigit():
                self._error(411, "a Content-Length is required")
                return
            length = int(length_text)
            if length > limit:
                self._error(413, f"request body of {length} bytes is over the limit of {limit}")
                return
            body = self.rfile.read(length)
            try:
                doc = admission.review(body)
            except AdmissionRequestError as e:
                self._error(400, e.diagnostics())
                return
            except Exception as e:  # a bug answers 500 (the API server applies failurePolicy) and is logged
                self._error(500, f"internal error: {type(e).__name__}")
                return
            self._send(200, doc)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    log: Log = staticmethod(lambda _e: None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken client (no TLS, reset, stalled) is logged and dropped; the server keeps serving."""
        import sys

        error = sys.exc_info()[1]
        self.log({"event": "connection_error", "error": f"{type(error).__name__}: {error}"[:300]})


def make_server(
    admission: Admission, host: str, port: int, cert: Path, key: Path, log: Log | None = None
) -> ThreadingHTTPServer:
    """An HTTPS server on (host, port); the TLS handshake happens in the request thread, not in accept."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise LocalInputError(f"--tls-cert {cert} / --tls-key {key}: cannot be loaded: {e}") from e
    server = _Server((host, port), _handler(admission, log or (lambda _e: None)))
    if log is not None:
        server.log = log
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    return server
