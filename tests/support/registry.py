"""The real Debian ``docker-registry`` (distribution 2.8) as a local process, in three auth modes.

Modes: ``plain`` (HTTP, anonymous), ``tls`` (HTTPS with a throwaway CA + htpasswd/bcrypt users) and
``token`` (HTTP on loopback, bearer tokens from ``tests.support.tokenserver``).  Each server listens on
127.0.0.1 on a free port and keeps its storage in a temp dir, so tests can tamper with the bytes it serves.
Also: a tiny real OCI image built here, and helpers to push it with our client or with skopeo.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import io
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor
from imagetrust.registry.options import RegistryOptions
from imagetrust.registry.repository import RegistryRepository
from tests.support.tokenserver import TokenServer, User

# --------------------------------------------------------------------------------------------- PKI


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


class Pki:
    """A throwaway CA issuing a TLS server cert for 127.0.0.1 and a JWT signing cert."""

    def __init__(self) -> None:
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        public = self.ca_key.public_key()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("imagetrust test CA"))
            .issuer_name(_name("imagetrust test CA"))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)

    def _leaf(
        self,
        key: ec.EllipticCurvePrivateKey,
        common: str,
        usage: x509.ObjectIdentifier,
        san: x509.SubjectAlternativeName | None,
    ) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()), critical=False
            )
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def server_cert(self, directory: Path) -> tuple[Path, Path]:
        """cert.pem (leaf + CA) and key.pem for a server on 127.0.0.1 / localhost."""
        key = ec.generate_private_key(ec.SECP256R1())
        san = x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        )
        cert = self._leaf(key, "127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH, san)
        cert_path = directory / "server.crt"
        key_path = directory / "server.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self.ca_pem)
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cert_path, key_path

    def signing_cert(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        return key, self._leaf(key, "imagetrust test token signer", ExtendedKeyUsageOID.CODE_SIGNING, None)


# ---------------------------------------------------------------------------------------- registry


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RegistryServer:
    """A running docker-registry process.  ``host`` is ``127.0.0.1:PORT`` (what references use)."""

    mode: str
    host: str
    root: Path  # filesystem storage root
    process: subprocess.Popen[bytes]
    log: Path
    ca_file: Path | None = None  # CA bundle clients must trust (tls mode)
    cert_dir: Path | None = None  # skopeo --*-cert-dir (tls mode)
    users: dict[str, str] = field(default_factory=dict)  # name -> password
    token_server: TokenServer | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.mode == "tls" else "http"

    def blob_data_path(self, digest: Digest) -> Path:
        """Where the registry keeps the bytes of a blob (manifests are blobs too)."""
        return (
            self.root
            / "docker"
            / "registry"
            / "v2"
            / "blobs"
            / digest.algorithm
            / digest.hex[:2]
            / digest.hex
            / "data"
        )

    def stop(self) -> None:
        if self.token_server is not None:
            self.token_server.stop()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _config(
    mode: str, port: int, storage: Path, extra_auth: dict[str, object] | None, tls: tuple[Path, Path] | None
) -> str:
    http: dict[str, object] = {
        "addr": f"127.0.0.1:{port}",
        "secret": base64.b64encode(os.urandom(16)).decode(),
        "headers": {"X-Content-Type-Options": ["nosniff"]},
    }
    if tls is not None:
        http["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": http,
    }
    if extra_auth:
        config["auth"] = extra_auth
    return json.dumps(config, indent=2)  # JSON is YAML


def _wait_ready(server: RegistryServer, timeout: float = 15.0) -> None:
    context = ssl.create_default_context(cafile=str(server.ca_file)) if server.ca_file else None
    deadline = time.monotonic() + timeout
    url = f"{server.scheme}://{server.host}/v2/"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {server.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1, context=context):
                return
        except urllib.error.HTTPError as e:
            if e.code == 401:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(
        f"docker-registry at {url} not ready after {timeout} s: {server.log.read_text()[-2000:]}"
    )


def start_registry(
    binary: Path,
    workdir: Path,
    mode: str,
    *,
    users: dict[str, str] | None = None,
    token_users: dict[str, User] | None = None,
    refresh_tokens: dict[str, str] | None = None,
) -> RegistryServer:
    """Start docker-registry: ``plain``, ``tls`` (htpasswd ``users``) or ``token`` (``token_users``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    port = free_port()
    auth: dict[str, object] | None = None
    tls = None
    ca_file = None
    cert_dir = None
    token_server = None
    if mode == "tls":
        pki = Pki()
        tls = pki.server_cert(workdir)
        ca_file = workdir / "ca.pem"
        ca_file.write_bytes(pki.ca_pem)
        cert_dir = workdir / "certs.d"
        cert_dir.mkdir(exist_ok=True)
        (cert_dir / "ca.crt").write_bytes(pki.ca_pem)
        lines = []
        for name, password in (users or {}).items():
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            lines.append(f"{name}:{hashed}")
        htpasswd = workdir / "htpasswd"
        htpasswd.write_text("\n".join(lines) + "\n")
        auth = {"htpasswd": {"realm": "imagetrust-test", "path": str(htpasswd)}}
    elif mode == "token":
        pki = Pki()
        key, cert = pki.signing_cert()
        bundle = workdir / "token-root.pem"
        bundle.write_bytes(pki.ca_pem)
        token_server = TokenServer(key, cert, token_users or {}, refresh_tokens=refresh_tokens).start()
        auth = {
            "token": {
                "realm": token_server.realm,
                "service": token_server.service,
                "issuer": token_server.issuer,
                "rootcertbundle": str(bundle),
            }
        }
        users = {name: user.password for name, user in (token_users or {}).items()}
    elif mode != "plain":
        raise ValueError(f"unknown registry mode {mode!r}")
    config_path = workdir / "config.yml"
    config_path.write_text(_config(mode, port, storage, auth, tls))
    log = workdir / "registry.log"
    with log.open("wb") as log_handle:
        process = subprocess.Popen(
            [str(binary), "serve", str(config_path)],
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = RegistryServer(
        mode=mode,
        host=f"127.0.0.1:{port}",
        root=storage,
        process=process,
        log=log,
        ca_file=ca_file,
        cert_dir=cert_dir,
        users=dict(users or {}),
        token_server=token_server,
    )
    _wait_ready(server)
    return server


# ------------------------------------------------------------------------------------- tiny image


@dataclass(frozen=True)
class TinyImage:
    """A one-layer OCI image, as blobs in memory and as an OCI layout on disk (for skopeo)."""

    layout: Path
    tag: str
    manifest_raw: bytes
    manifest: Descriptor
    config_raw: bytes
    config: Descriptor
    layer_raw: bytes
    layer: Descriptor

    def blobs(self) -> list[tuple[Descriptor, bytes]]:
        return [(self.config, self.config_raw), (self.layer, self.layer_raw)]


def _descriptor(media_type: str, data: bytes) -> Descriptor:
    return Descriptor(media_type, Digest.of(data), len(data))


def build_tiny_image(
    layout: Path,
    *,
    tag: str = "v1",
    note: str = "hello from imagetrust",
    annotation: str = "aaaaaaaaaaaaaaaa",
) -> TinyImage:
    """Build a real OCI layout with one gzip layer holding ``etc/note.txt``."""
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("etc/note.txt", note.encode()), ("etc/os-release", b"ID=tiny\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = tar_buffer.getvalue()
    layer_raw = gzip.compress(tar_bytes, mtime=0)
    config_raw = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(tar_bytes).hexdigest()}"]},
            "history": [{"created_by": "imagetrust test fixture"}],
        },
        separators=(",", ":"),
    ).encode()
    config = _descriptor(media.OCI_CONFIG, config_raw)
    layer = _descriptor(media.OCI_LAYER_GZIP, layer_raw)
    manifest_raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media.OCI_MANIFEST,
            "config": config.to_json(),
            "layers": [layer.to_json()],
            "annotations": {"org.example.fixture": annotation},
        },
        separators=(",", ":"),
    ).encode()
    manifest = _descriptor(media.OCI_MANIFEST, manifest_raw)
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for descriptor, data in ((config, config_raw), (layer, layer_raw), (manifest, manifest_raw)):
        (blobs / descriptor.digest.hex).write_bytes(data)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entry = manifest.to_json()
    entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (layout / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": [entry]})
    )
    return TinyImage(layout, tag, manifest_raw, manifest, config_raw, config, layer_raw, layer)


def skopeo_push(
    skopeo: Path, image: TinyImage, server: RegistryServer, destination: str, *, creds: str | None = None
) -> None:
    """``skopeo copy oci:LAYOUT:TAG docker://HOST/DEST`` — a real peer client writes the registry."""
    args = [str(skopeo), "--insecure-policy", "copy", "--quiet", "--preserve-digests"]
    if server.mode == "tls":
        assert server.cert_dir is not None
        args += ["--dest-cert-dir", str(server.cert_dir)]
    else:
        args += ["--dest-tls-verify=false"]
    args += ["--dest-creds", creds] if creds else ["--dest-no-creds"]
    args += [f"oci:{image.layout}:{image.tag}", f"docker://{server.host}/{destination}"]
    env = {**os.environ, "REGISTRY_AUTH_FILE": str(image.layout / "no-auth.json")}
    done = subprocess.run(args, capture_output=True, timeout=60, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"skopeo copy failed: {done.stderr.decode(errors='replace')[-2000:]}")


def tamper(path: Path, old: bytes, new: bytes) -> None:
    """Replace bytes in the registry's storage in place, keeping the length, so it serves lies."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert old in data, f"{old!r} not in {path}"
    path.write_bytes(data.replace(old, new, 1))


def options_for(server: RegistryServer, user: str | None = None, **overrides: object) -> RegistryOptions:
    """Client options for a test server: its CA, the named user's password, and no docker config."""
    values: dict[str, object] = {"docker_config": None, "ca_file": server.ca_file}
    if user is not None:
        values["username"] = user
        values["password"] = server.users[user]
    values.update(overrides)
    return RegistryOptions(**values)  # type: ignore[arg-type]


def push_image(repository: RegistryRepository, image: TinyImage, tag: str | None = None) -> Digest:
    """Push the image's blobs and manifest with our own client."""
    for descriptor, data in image.blobs():
        repository.push_blob(descriptor, data)
    return repository.push_manifest(image.manifest_raw, media.OCI_MANIFEST, tag or image.tag)
