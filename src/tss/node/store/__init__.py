"""Durable state behind one interface: SQLite by default, PostgreSQL at scale.

``open_store(url, passphrase, namespace=...)`` returns a :class:`~tss.node.store.sql.SqlStore`:

* ``sqlite:///path.db`` (the embedded default; one file per component), or
* ``postgresql://user@host:port/db`` (several components may share one database, each with its
  own ``namespace``: a table-name prefix).

What it keeps: the coordinator's sessions (one JSON document each, updated by compare-and-set on
a version), join-token hashes (never the tokens), key records (public data), and, for party nodes,
key shares and secrets (identity keys) encrypted at rest: a fresh ChaCha20-Poly1305 data key per
record, wrapped by the store's key-encryption key (Argon2id over a passphrase, salt and verifier
stored; a wrong passphrase fails closed when the store opens). The associated data binds each
ciphertext to its key id, party, version, curve, protocol and public key.
"""

from __future__ import annotations

from .sql import SqlStore, StoreConflict, StoreError, open_store

__all__ = ["SqlStore", "StoreConflict", "StoreError", "open_store"]
