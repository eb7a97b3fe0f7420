"""Layer unpacking into an in-memory file index: OCI whiteouts, path safety, bounded content."""

from imagetrust.audit.unpack.apply import Unpacker, unpack_layers
from imagetrust.audit.unpack.content import ContentPolicy, ContentSink, ContentVisitor
from imagetrust.audit.unpack.index import FileIndex, ResolveError
from imagetrust.audit.unpack.model import Compression, Entry, EntryType, LayerInput, LayerRecord, Unknown

__all__ = [
    "Compression",
    "ContentPolicy",
    "ContentSink",
    "ContentVisitor",
    "Entry",
    "EntryType",
    "FileIndex",
    "LayerInput",
    "LayerRecord",
    "ResolveError",
    "Unknown",
    "Unpacker",
    "unpack_layers",
]
