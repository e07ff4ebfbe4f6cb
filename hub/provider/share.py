"""A granted CONSENT_ONWARD request as a ShareCommand (release v2) on ``hub.intake`` (CONTRACTS.md).

The command is keyed by ``report_id`` and carries the header ``kind: share``; the worker's sequenced
stage takes such records from ``hub.intake`` only (never from an agency's own intake topic: the admit
step rejects them there), and ``decide(ShareInput)`` turns them into SHARED feed items with
provenance for the named states (partner redaction and every §5 rule applied to each copy), a
Receipt (``report_id:version:share:<request_id>``) and the audit event SHARED.

The report body is the version as the provider sent it, taken from its Receipt (the provider read
model), never from the requesting officer's copy (which may be redacted). Producing the same
command twice is harmless: every id derived from it is deterministic in the request id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.domain.codec import SHARE_COMMAND, Codec, codec
from hub.domain.wire import Record, headers
from hub.platform.kafka.topics import INTAKE

KIND_HEADER = "kind"
SHARE = "share"


def share_command(request: Mapping[str, Any], report: Mapping[str, Any]) -> dict[str, Any]:
    """The ShareCommand of an answered (GRANT) CONSENT_ONWARD request row and its report body."""
    if request["kind"] != "CONSENT_ONWARD" or request.get("decision") != "GRANT":
        raise ValueError(f"request {request['request_id']} is not a granted CONSENT_ONWARD request")
    to_states = [s for s in request["to_states"].split(",") if s]
    return {
        "provenance": {
            "request_id": request["request_id"],
            "requested_by": request["requester"],
            "requested_state": request["requester_state"],
            "requested_at": int(request["created_at"]),
            "granted_by": request["answered_by"],
            "granted_at": int(request["answered_at"]),
            "conditions": request.get("conditions"),
        },
        "report_id": request["report_id"],
        "version": int(request["version"]),
        "to_states": to_states,
        "report": dict(report),
    }


def share_record(command: Mapping[str, Any], enc: Codec | None = None) -> Record:
    """The record to produce: topic ``hub.intake``, key ``report_id``, header ``kind: share``."""
    return Record(INTAKE, command["report_id"].encode(), (enc or codec()).encode(SHARE_COMMAND, command),
                  headers(kind=SHARE, request_id=command["provenance"]["request_id"],
                          trace_id=command["report"].get("trace_id") or None))
