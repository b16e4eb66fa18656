"""Bus subjects and key-value keys shared by the roles (one place, so they cannot drift).

Subjects
    ``coord.join``               joins (server parties directly; the router relays devices')
    ``coord.report``             signed results, failures and refusals of the parties
    ``party.<party_id>.invite``  a new session for a server party, with its join token
    ``sess.<sid>.ctl``           the coordinator's signed roster, then ``completed``/``failed``
    ``sess.<sid>.to.<index>``    sealed protocol envelopes for one party of one session
Keys
    ``coord.pubkey``             the coordinator's Ed25519 public key (hex)
    ``party.<party_id>``         a party node's registration (role, identity key, heartbeat)
    ``parties``                  the list of registered party ids
    ``jti.<jti>``                a used join token, bound to the keys of the join that used it
    ``access.<sha256>``          a device's router access token -> (sid, party, index)
    ``cursor.<durable>``         the position of a durable subscription
"""

from __future__ import annotations

import re

JOIN = "coord.join"
REPORT = "coord.report"
COORDINATOR = "coord.>"
KV_COORD_PUB = "coord.pubkey"
KV_PARTY_INDEX = "parties"

PARTY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PARTY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def invite(party_id: str) -> str:
    return f"party.{party_id}.invite"


def ctl(sid: str) -> str:
    return f"sess.{sid}.ctl"


def mailbox(sid: str, index: int) -> str:
    return f"sess.{sid}.to.{index}"


def kv_party(party_id: str) -> str:
    return f"party.{party_id}"


def kv_access(token_sha256: str) -> str:
    return f"access.{token_sha256}"
