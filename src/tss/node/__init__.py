"""The party-node system around the library: the seed report's services with their API kept.

Roles (each a FastAPI app; ``tss serve`` runs them all in one process, or one alone):
coordinator ``:4000``, session-coordinator ``:8081``, message-router ``:8082``,
server-party-api ``:8083`` with the server parties, identity-service ``:3000``,
backup-service ``:3002``, mpc-service ``:3006``.

Pieces: :mod:`tss.node.bus` (memory, SQLite, NATS JetStream), :mod:`tss.node.store` (SQLite,
PostgreSQL; shares encrypted at rest), :mod:`tss.node.tokens` (signed single-use join
tokens), :mod:`tss.node.channel` (end-to-end sealed protocol messages), :mod:`tss.node.run`
(one party's protocol run), :mod:`tss.node.party`, :mod:`tss.node.coordinator`,
:mod:`tss.node.router`, :mod:`tss.node.services`, :mod:`tss.node.client` (Python clients),
:mod:`tss.node.serve`. Design and reasons: docs/node.md.

Needs the ``node`` extra: ``pip install 'tss-mpc[node]'``.
"""

from __future__ import annotations

__all__ = ["bus", "store", "client"]
