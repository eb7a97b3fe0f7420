"""The inventory store: what each audited image contained and what was found, kept for later re-matching.

``rescan`` re-matches stored inventories against a newer advisory database without pulling images;
``watch`` keeps undelivered change events here so none is lost when a webhook is down.
"""

from imagetrust.store.model import AdvisoryState, Event, ImageHead, ImageRecord, StoredPackage
from imagetrust.store.sql import InventoryStore, InventoryStoreError, default_store_location, open_inventory

__all__ = [
    "AdvisoryState",
    "Event",
    "ImageHead",
    "ImageRecord",
    "InventoryStore",
    "InventoryStoreError",
    "StoredPackage",
    "default_store_location",
    "open_inventory",
]
