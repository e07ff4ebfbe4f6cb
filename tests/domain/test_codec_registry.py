"""Confluent wire format (magic 0 + 4-byte schema id) when a Schema Registry is configured: unit tests.

These run the codec against a small HTTP server implementing the two registry endpoints the codec
uses (register under a subject, fetch by id) as the Confluent REST API documents them, so they need
no server; the wire bytes are checked independently of the codec. The real thing -- Apicurio Registry
3 from Maven Central (`hub registry start`), compatibility enforced by the registry, Confluent's own
deserializer reading feed topics -- is tests/platform/kafka/test_schema_registry.py.
"""

from __future__ import annotations

import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hub.domain.codec import REPORT, Codec, DecodeError, SchemaRegistry
from tests.factories import report


@pytest.fixture
def registry_url():
    schemas: dict[str, int] = {}
    by_id: dict[int, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):  # quiet
            pass

        def _json(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            schema = body["schema"]
            if schema not in schemas:
                schemas[schema] = len(schemas) + 1
                by_id[schemas[schema]] = schema
            self._json(200, {"id": schemas[schema]})

        def do_GET(self):
            sid = int(self.path.rsplit("/", 1)[-1])
            if sid in by_id:
                self._json(200, {"schema": by_id[sid]})
            else:
                self._json(404, {"error_code": 40403, "message": "Schema not found"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_confluent_framing_round_trip(registry_url: str) -> None:
    c = Codec(registry=SchemaRegistry(registry_url))
    r = report()
    data = c.encode(REPORT, r)
    assert data[0] == 0 and struct.unpack(">I", data[1:5])[0] == 1
    # a second codec (another process) resolves the writer schema from the registry by id
    other = Codec(registry=SchemaRegistry(registry_url))
    assert other.decode(data, expect=REPORT)["report_id"] == r["report_id"]
    # and still reads single-object encoded bytes
    assert other.decode(Codec().encode(REPORT, r))["report_id"] == r["report_id"]


def test_unknown_schema_id_is_a_clear_error(registry_url: str) -> None:
    c = Codec(registry=SchemaRegistry(registry_url))
    with pytest.raises(DecodeError, match="schema id 99 unknown"):
        c.decode(b"\x00" + struct.pack(">I", 99) + b"\x02")
