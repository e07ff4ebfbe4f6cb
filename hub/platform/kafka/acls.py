"""Kafka ACLs of the hub, as data: one SASL principal per service and per Kafka-native agency.

The one list that the security tests apply and check (tests/platform/kafka/test_security.py), that
docker-compose.yml's ``kafka-acls`` job applies (``hub kafka acls apply``) and that deploy/README.md
prints (``hub kafka acls list``, as ``kafka-acls.sh`` lines). Least privilege (SPEC §7, §10):

* ``hub-topics`` -- creates the hub's topics (the bootstrap job), nothing else;
* ``hub-gateway`` -- writes ``hub.intake`` and ``hub.audit``;
* ``hub-worker`` -- the faust app ``hub-pipeline``: reads intake (shared and per-agency), owns its
  internal topics (``hub.pipeline.*``, faust's ``hub-pipeline-*`` changelogs and leader topic),
  writes the feeds, ``hub.dlq``, ``hub.audit`` and ``hub.receipts``;
* ``hub-sink`` -- reads ``hub.audit``, ``hub.receipts`` and the feeds (groups with the prefix ``hub-sink``: one per projection), writes ``hub.dlq``;
* ``hub-agency-<CODE>`` -- writes its own ``hub.intake.agency.<CODE>`` and nothing else: it reads no
  feed, no audit, no other agency's topic.

Every service may Describe the ``hub.`` topics (each checks at start that they exist). Anything not
listed is denied (``allow.everyone.if.no.acl.found=false``); ``admin`` is the broker's super user.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import CompactArray, CompactString, Int8, Int16, Int32, Schema, TaggedFields

from hub.platform.kafka import topics
from hub.platform.settings import Settings

TOPICS, WORKER, GATEWAY, SINK = "hub-topics", "hub-worker", "hub-gateway", "hub-sink"
SERVICES = (TOPICS, GATEWAY, WORKER, SINK)
AGENCY_PRINCIPAL_PREFIX = "hub-agency-"
PIPELINE_GROUP = "hub-pipeline"  # hub.pipeline.shell.app.APP_ID: faust's group and topic prefix
SINK_GROUP = "hub-sink"  # hub.sink.GROUP, the prefix of every projection's group


def agency_principal(code: str) -> str:
    return f"{AGENCY_PRINCIPAL_PREFIX}{code}"


@dataclass(frozen=True)
class Acl:
    """ALLOW ``operation`` on a resource for ``User:principal`` from any host."""

    principal: str
    resource: str  # topic | group | cluster
    name: str
    pattern: str  # LITERAL | PREFIXED
    operation: str  # Read, Write, Create, Describe, ...

    def kafka_acls_args(self) -> list[str]:
        """The same ACL as ``kafka-acls.sh`` arguments."""
        res = {"topic": ["--topic", self.name], "group": ["--group", self.name], "cluster": ["--cluster"]}[self.resource]
        return ["--add", "--allow-principal", f"User:{self.principal}", "--operation", self.operation, *res,
                "--resource-pattern-type", self.pattern.lower()]


def _grant(principal: str, resource: str, name: str, pattern: str, *ops: str) -> list[Acl]:
    return [Acl(principal, resource, name, pattern, op) for op in ops]


def service_acls() -> list[Acl]:
    t, lit, pre = "topic", "LITERAL", "PREFIXED"
    hub = "hub."
    acl: list[Acl] = []
    acl += _grant(TOPICS, t, hub, pre, "Create", "Describe", "DescribeConfigs")
    acl += _grant(GATEWAY, t, hub, pre, "Describe")
    acl += _grant(GATEWAY, t, topics.INTAKE, lit, "Write")
    acl += _grant(GATEWAY, t, topics.AUDIT, lit, "Write")
    acl += _grant(WORKER, t, hub, pre, "Describe")
    acl += _grant(WORKER, t, topics.INTAKE, lit, "Read", "Write")  # Write: admit forwards agency records
    acl += _grant(WORKER, t, topics.AGENCY_INTAKE_PREFIX, pre, "Read")
    acl += _grant(WORKER, t, "hub.pipeline.", pre, "Read", "Write")
    acl += _grant(WORKER, t, f"{PIPELINE_GROUP}-", pre, "Create", "Describe", "Read", "Write")
    acl += _grant(WORKER, t, topics.FEED_PREFIX, pre, "Write")
    acl += _grant(WORKER, t, topics.DLQ, lit, "Write")
    acl += _grant(WORKER, t, topics.AUDIT, lit, "Write")
    acl += _grant(WORKER, t, topics.RECEIPTS, lit, "Write")  # receipts of routed versions (SPEC §13)
    acl += _grant(WORKER, "group", PIPELINE_GROUP, lit, "Read")
    acl += _grant(SINK, t, hub, pre, "Describe")
    acl += _grant(SINK, t, topics.AUDIT, lit, "Read")
    acl += _grant(SINK, t, topics.RECEIPTS, lit, "Read")
    acl += _grant(SINK, t, topics.FEED_PREFIX, pre, "Read")
    acl += _grant(SINK, t, topics.DLQ, lit, "Write")
    acl += _grant(SINK, "group", SINK_GROUP, pre, "Read")  # one group per projection: hub-sink-<name>
    return acl


def agency_acls(code: str) -> list[Acl]:
    return _grant(agency_principal(code), "topic", topics.agency_intake(code), "LITERAL", "Write", "Describe")


def all_acls(agencies: Iterable[str] = ()) -> list[Acl]:
    """Every ACL of the hub for the services and the given Kafka-native agency codes."""
    out = service_acls()
    for code in agencies:
        out += agency_acls(code)
    return out


def principals(agencies: Iterable[str] = ()) -> list[str]:
    return [*SERVICES, *(agency_principal(c) for c in agencies)]


def kafka_acls_lines(acls: Sequence[Acl], bootstrap: str = "kafka:9094",
                     command_config: str = "admin.properties") -> list[str]:
    """``kafka-acls.sh`` command lines for the same ACLs (what deploy/README.md shows)."""
    return [" ".join(["kafka-acls.sh", "--bootstrap-server", bootstrap, "--command-config", command_config,
                      *a.kafka_acls_args()]) for a in acls]


# ---------------------------------------------------------------- CreateAcls on Kafka 4
# aiokafka ships CreateAcls v0/v1 only, which Kafka 4 no longer accepts (KIP-896); v2 is the same
# request in the flexible encoding (compact strings, tagged fields).
RESOURCE_TYPES = {"topic": 2, "group": 3, "cluster": 4}
PATTERN_TYPES = {"LITERAL": 3, "PREFIXED": 4}
OPERATIONS = {"All": 2, "Read": 3, "Write": 4, "Create": 5, "Delete": 6, "Alter": 7, "Describe": 8,
              "ClusterAction": 9, "DescribeConfigs": 10, "AlterConfigs": 11, "IdempotentWrite": 12}
ALLOW = 3


class _CreateAclsResponseV2(Response):
    API_KEY = 30
    API_VERSION = 2
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", CompactArray(("error_code", Int16), ("error_message", CompactString("utf-8")),
                                 ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class _CreateAclsRequestV2(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY = 30
    API_VERSION = 2
    RESPONSE_TYPE = _CreateAclsResponseV2
    SCHEMA = Schema(
        ("creations", CompactArray(
            ("resource_type", Int8), ("resource_name", CompactString("utf-8")), ("resource_pattern_type", Int8),
            ("principal", CompactString("utf-8")), ("host", CompactString("utf-8")), ("operation", Int8),
            ("permission_type", Int8), ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class _CreateAcls(Request[_CreateAclsRequestV2]):
    API_KEY: ClassVar[int] = 30

    def __init__(self, acls: Sequence[Acl]) -> None:
        self.acls = acls

    def build(self, request_struct_class: type[_CreateAclsRequestV2]) -> _CreateAclsRequestV2:
        return request_struct_class([
            (RESOURCE_TYPES[a.resource], "kafka-cluster" if a.resource == "cluster" else a.name,
             PATTERN_TYPES[a.pattern], f"User:{a.principal}", "*", OPERATIONS[a.operation], ALLOW, {})
            for a in self.acls], {})


async def apply(settings: Settings, acls: Sequence[Acl]) -> int:
    """Create ``acls`` on the cluster (idempotent: an existing ACL is not an error). Returns how many.

    ``settings`` must authenticate as a principal allowed to Alter the cluster (the super user)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import for_code

    from hub.platform.kafka.clients import client_settings

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **client_settings(settings).admin)
    await admin.start()
    try:
        resp: Any = await admin._send_request(_CreateAcls(acls))  # no public CreateAcls in aiokafka
        errors = [(a, code, msg) for a, (code, msg, _t) in zip(acls, resp.results, strict=True) if code]
        if errors:
            a, code, msg = errors[0]
            raise for_code(code)(f"{len(errors)} ACLs not created, e.g. {a}: {msg}")
        return len(acls)
    finally:
        await admin.close()
