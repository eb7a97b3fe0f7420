"""Apply layer tar streams in order, with OCI whiteouts, into a ``FileIndex``; nothing touches disk."""

from __future__ import annotations

import bisect
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import replace

from imagetrust.audit.unpack.content import ContentPolicy, ContentSink, ContentVisitor
from imagetrust.audit.unpack.decompress import ByteBudget, DecompressingReader
from imagetrust.audit.unpack.index import FileIndex, ResolveError
from imagetrust.audit.unpack.model import (
    Entry,
    EntryType,
    Hide,
    KeptContent,
    LayerInput,
    LayerOp,
    LayerRecord,
    Unknown,
)
from imagetrust.audit.unpack.paths import OPAQUE_MARKER, WHITEOUT_PREFIX, UnsafePath, join, normalise
from imagetrust.audit.unpack.tarstream import TarMember, TarStream
from imagetrust.errors import LimitExceeded, MalformedContent
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci.digest import Digest

_CHUNK = 1 << 20

_TYPES = {
    tarfile.REGTYPE: EntryType.FILE,
    tarfile.AREGTYPE: EntryType.FILE,
    tarfile.CONTTYPE: EntryType.FILE,
    tarfile.DIRTYPE: EntryType.DIR,
    tarfile.SYMTYPE: EntryType.SYMLINK,
    tarfile.LNKTYPE: EntryType.HARDLINK,
    tarfile.CHRTYPE: EntryType.CHAR_DEVICE,
    tarfile.BLKTYPE: EntryType.BLOCK_DEVICE,
    tarfile.FIFOTYPE: EntryType.FIFO,
}


def unpack_layers(
    layers: Iterable[LayerInput],
    policy: ContentPolicy | None = None,
    visitors: Sequence[ContentVisitor] = (),
    limits: Limits = DEFAULT_LIMITS,
) -> FileIndex:
    """Merge ``layers`` (lowest first) into one index.

    Keeps the bytes of files ``policy`` wants, streams every regular file to ``visitors``, and records what
    could not be read as ``Unknown``.  Raises ``LimitExceeded`` when the image is larger than ``limits``.
    """
    unpacker = Unpacker(policy or ContentPolicy(), visitors, limits)
    for layer in layers:
        unpacker.apply(layer)
    return unpacker.index


class Unpacker:
    """Merges layers one at a time; a layer may be read from its tar stream or replayed from a record.

    ``apply(layer, record=True)`` returns the ``LayerRecord`` of what the layer did to the index, in order.
    Replaying it over the same lower layers (the per-layer cache keys on the whole chain below) rebuilds
    the same index without reading the blob; whiteouts and replacements are re-applied by the replay.
    """

    def __init__(self, policy: ContentPolicy, visitors: Sequence[ContentVisitor], limits: Limits) -> None:
        self.policy = policy
        self.visitors = visitors
        self.limits = limits
        self.index = FileIndex(limits=limits)
        self.budget = ByteBudget(limits.max_decompressed_bytes)
        self.members = 0
        self.kept_bytes = 0
        self.symlinks: set[str] = set()  # live symlink paths, for placing members under symlinked dirs
        self._ops: list[LayerOp] | None = None  # the layer being recorded, if any

    # --- one layer -----------------------------------------------------------------------------------
    def apply(self, layer: LayerInput, *, record: bool = False) -> LayerRecord | None:
        digest = layer.digest
        self._start_layer(digest)
        used, members = self.budget.used, self.members
        self._ops = [] if record else None
        try:
            self._apply(layer, digest)
            ops = self._ops
        finally:
            self._ops = None
        if ops is None:
            return None
        return LayerRecord(digest, tuple(ops), self.budget.used - used, self.members - members)

    def replay(self, record: LayerRecord) -> None:
        """Apply a recorded layer: same entries, contents, whiteouts and unknowns, same limits charged."""
        digest = record.digest
        self._start_layer(digest)
        self.budget.charge(record.decompressed_bytes, f"layer {digest.short}")
        self.members += record.members
        if self.members > self.limits.max_files:
            raise LimitExceeded(f"layer {digest.short}: more than {self.limits.max_files} files (max_files)")
        hides: list[tuple[str, bool]] = []
        for op in record.ops:
            if isinstance(op, Entry):
                self._put(op, digest, hides)
            elif isinstance(op, Unknown):
                self.index.unknowns.append(op)
            elif isinstance(op, KeptContent):
                self.kept_bytes += len(op.data) if op.counted else 0
                self.index.contents[op.path] = op.data
            else:
                hides.append((op.path, op.hide_self))
        self._apply_hides(hides, digest)

    def _start_layer(self, digest: Digest) -> None:
        if len(self.index.layers) >= self.limits.layers:
            raise LimitExceeded(f"image: more than {self.limits.layers} layers (layers)")
        self.index.layers.append(digest)

    def _apply(self, layer: LayerInput, digest: Digest) -> None:
        reader = DecompressingReader(layer.stream, layer.compression, digest, self.budget)
        # (path, hide_self): whiteouts hide the path and its subtree, opaque markers only the subtree.
        hides: list[tuple[str, bool]] = []
        try:
            end = self._read_tar(reader, digest, hides)
            trailing = reader.nonzero_after(end) + reader.drain()
            if trailing:
                self._unknown("", f"{trailing} non-zero bytes after the end of the tar archive", digest)
        except MalformedContent as e:
            self._unknown("", f"layer could not be fully read: {e.diagnostics()}", digest)
        except (tarfile.TarError, EOFError, ValueError) as e:  # hostile headers reach odd corners
            self._unknown("", f"layer could not be fully read: not a valid tar stream ({e})", digest)
        self._apply_hides(hides, digest)

    def _read_tar(self, reader: DecompressingReader, digest: Digest, hides: list[tuple[str, bool]]) -> int:
        """Index every member; return the offset where the archive's end-of-archive blocks begin."""
        tar = TarStream(reader)
        for member in tar:
            self.members += 1
            if self.members > self.limits.max_files:
                limit = self.limits.max_files
                raise LimitExceeded(f"layer {digest.short}: more than {limit} files (max_files)")
            self._member(tar, member, digest, hides)
        return reader.position if tar.end is None else tar.end

    def _member(
        self, tar: TarStream, member: TarMember, digest: Digest, hides: list[tuple[str, bool]]
    ) -> None:
        try:
            path = self._place(normalise(member.name, self.limits.max_path_length))
        except (UnsafePath, ResolveError) as e:
            self._unknown(member.name[: self.limits.max_path_length], f"refused tar member: {e}", digest)
            return
        if not path:
            return  # the root directory itself
        parent, _, name = path.rpartition("/")
        if name == OPAQUE_MARKER:
            self._hide(hides, parent, False)
            return
        if name.startswith(WHITEOUT_PREFIX):
            if name == WHITEOUT_PREFIX:
                # Names no file: read as "delete ''" at the root it would erase every lower layer from the
                # audit while a runtime may keep them.  Refused and listed (over-reporting is the safe side).
                self._unknown(path, "whiteout with an empty name refused", digest)
                return
            self._hide(hides, join(parent, name[len(WHITEOUT_PREFIX) :]), True)
            return

        kind = _TYPES.get(member.type, EntryType.OTHER)
        link: str | None = None
        size = member.size if kind is EntryType.FILE else 0
        if kind is EntryType.SYMLINK:
            link = member.linkname
        elif kind is EntryType.HARDLINK:
            try:
                link = self._place(normalise(member.linkname, self.limits.max_path_length))
            except (UnsafePath, ResolveError) as e:
                self._unknown(path, f"hardlink target {member.linkname!r} refused: {e}", digest)
                return
            target = self.index.live.get(link)
            if target is None or target.type not in (EntryType.FILE, EntryType.HARDLINK):
                self._unknown(path, f"hardlink to {link!r}, which is not a file seen before it", digest)
                return
            size = target.size
        entry = Entry(path, kind, member.mode & 0o7777, size, member.uid, member.gid, digest, link)
        if self._ops is not None:
            self._ops.append(entry)
        self._put(entry, digest, hides)

        if kind is EntryType.FILE:
            self._read_content(tar, member, entry, digest)
        elif kind is EntryType.HARDLINK and link is not None and self.policy.wants(path):
            data = self.index.contents.get(link)
            if data is None:
                self._unknown(path, f"content of hardlink target {link!r} was not kept", digest)
            else:
                self._keep(path, data, counted=False)
        elif kind is EntryType.OTHER:
            self._unknown(path, f"unsupported tar member type {member.type!r}", digest)

    def _place(self, path: str) -> str:
        """Where a member lands: through any symlinked parent directory, but never outside the root.

        Extracting ``etc/os-release`` when ``etc`` is a symlink to ``x`` writes ``x/os-release``; the
        index must put it there too, or a scanner reading ``etc/os-release`` would miss it.
        """
        if not self.symlinks:
            return path
        parent, _, name = path.rpartition("/")
        if not parent:
            return path
        cut = parent.find("/")
        while True:  # each leading part of the (normalised) parent: "a", "a/b", ...
            if (parent if cut < 0 else parent[:cut]) in self.symlinks:
                return join(self.index.resolve(parent), name)
            if cut < 0:
                return path
            cut = parent.find("/", cut + 1)

    def _put(self, entry: Entry, digest: Digest, hides: list[tuple[str, bool]]) -> None:
        live = self.index.live
        previous = live.get(entry.path)
        if previous is not None:
            self.index.contents.pop(entry.path, None)
            if previous.layer != digest and previous.type is not EntryType.DIR:
                self.index.removed.append(replace(previous, deleted_by=digest))
            if previous.type is EntryType.DIR and entry.type is not EntryType.DIR:
                hides.append((entry.path, False))  # a non-directory replaces a lower directory's subtree
        live[entry.path] = entry
        if entry.type is EntryType.SYMLINK:
            self.symlinks.add(entry.path)
        elif previous is not None and previous.type is EntryType.SYMLINK:
            self.symlinks.discard(entry.path)

    def _read_content(self, tar: TarStream, member: TarMember, entry: Entry, digest: Digest) -> None:
        keep = self.policy.wants(entry.path)
        per_file, total = self.limits.max_file_content_bytes, self.limits.max_total_content_bytes
        if keep and member.size > per_file:
            self._unknown(entry.path, f"content larger than {per_file} bytes not kept", digest)
            keep = False
        if keep and self.kept_bytes + member.size > total:
            self._unknown(entry.path, f"content not kept: kept bytes would pass {total}", digest)
            keep = False
        sinks: list[ContentSink] = []
        if member.size:
            for visitor in self.visitors:
                sink = visitor.open(entry)
                if sink is not None:
                    sinks.append(sink)
        if not keep and not sinks:
            return  # the stream skips the data when it moves to the next member
        parts: list[bytes] = []
        for chunk in tar.chunks(_CHUNK):
            if keep:
                parts.append(chunk)
            for sink in sinks:
                sink.write(chunk)
        for sink in sinks:
            sink.close()
        if keep:
            data = b"".join(parts)
            self.kept_bytes += len(data)
            self._keep(entry.path, data, counted=True)

    # --- whiteouts -----------------------------------------------------------------------------------
    def _apply_hides(self, hides: list[tuple[str, bool]], digest: Digest) -> None:
        """Remove lower-layer entries named by this layer's whiteouts; same-layer entries stay (OCI spec)."""
        if not hides:
            return
        live = self.index.live
        keys = sorted(live)
        doomed: set[str] = set()
        for path, hide_self in hides:
            if hide_self and path in live:
                doomed.add(path)
            prefix = f"{path}/" if path else ""
            start = bisect.bisect_left(keys, prefix)
            for key in keys[start:]:
                if not key.startswith(prefix):
                    break
                doomed.add(key)
        for key in sorted(doomed):
            entry = live[key]
            if entry.layer == digest:
                continue
            del live[key]
            self.symlinks.discard(key)
            self.index.contents.pop(key, None)
            self.index.removed.append(replace(entry, deleted_by=digest))

    def _unknown(self, path: str, reason: str, digest: Digest) -> None:
        unknown = Unknown(path, reason, digest)
        self.index.unknowns.append(unknown)
        if self._ops is not None:
            self._ops.append(unknown)

    def _hide(self, hides: list[tuple[str, bool]], path: str, hide_self: bool) -> None:
        hides.append((path, hide_self))
        if self._ops is not None:
            self._ops.append(Hide(path, hide_self))

    def _keep(self, path: str, data: bytes, *, counted: bool) -> None:
        self.index.contents[path] = data
        if self._ops is not None:
            self._ops.append(KeptContent(path, data, counted))


__all__ = ["Unpacker", "unpack_layers"]
