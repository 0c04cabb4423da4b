"""Generate the API documents in docs/ from the code: each service's OpenAPI 3.1 document (from its
routes and pydantic models) and the bus's AsyncAPI 3.0 document (from shared/events.py and the
services' subscriptions).  `python scripts/api_docs.py` writes them; tests/test_api_docs.py fails
when a checked-in document differs from what the code generates.
"""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.bus import topic_matches  # noqa: E402
from shared.events import EVENT_TYPES, PRODUCERS, Envelope  # noqa: E402

DOCS = ROOT / "docs"
SERVICES = ("catalogue", "search", "allocation", "notifier", "guidance", "console")


def service_object(name: str, **settings):  # noqa: ANN003, ANN202
    """A service object, built but not started (no connection is made); `settings` override the defaults."""
    import importlib

    settings_mod = importlib.import_module(f"services.{name}.settings")
    service_mod = importlib.import_module(f"services.{name}.service")
    settings_cls = next(v for k, v in vars(settings_mod).items() if k.endswith("Settings") and k != "ServiceSettings")
    service_cls = next(v for k, v in vars(service_mod).items() if k.endswith("Service") and k != "BusService"
                       and isinstance(v, type))
    defaults = {"database_url": "sqlite+aiosqlite:///:memory:", "instance_name": "REPLICA"}
    return service_cls(settings_cls(**{**defaults, **settings}))


def openapi(name: str) -> dict:
    import importlib

    service = service_object(name)
    app = importlib.import_module(f"services.{name}.api").create_app(service)
    route = next(r for r in app.router.routes() if r.resource and r.resource.canonical == "/openapi.json")
    resp = asyncio.run(route.handler(None))
    return json.loads(resp.body)


def subscriptions() -> dict[str, list[tuple[str, str]]]:
    """event type -> [(service, queue)] from each service's handler registration."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name in SERVICES:
        service = service_object(name)
        if not hasattr(service, "bus"):
            continue  # the console is on no bus
        service.register_handlers()
        for sub in service.bus.subscriptions:
            for key in sub.routing_keys:
                for ev in EVENT_TYPES:
                    t = ev.model_fields["type"].default
                    if topic_matches(key, t):
                        out.setdefault(t, []).append((name, sub.queue))
    return out


def asyncapi() -> dict:
    subs = subscriptions()
    channels, operations, messages, schemas = {}, {}, {}, {}
    for ev in EVENT_TYPES:
        etype = ev.model_fields["type"].default
        name = ev.__name__
        schema = ev.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
        messages[name] = {
            "name": etype, "title": name, "contentType": "application/json",
            "summary": (ev.__doc__ or Envelope.__doc__ or "").strip().splitlines()[0] if ev.__doc__ else etype,
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "correlationId": {"location": "$message.header#/correlation_id"},
        }
        channel = etype.replace(".", "-")
        channels[channel] = {
            "address": etype,
            "description": f"Routing key `{etype}` on the topic exchange `vux.events` (persistent, confirmed).",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        producer = PRODUCERS[etype]
        operations[f"{producer}-sends-{channel}"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"{producer} publishes {etype} through its transactional outbox",
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
        }
        for service, queue in subs.get(etype, []):
            operations[f"{service}-receives-{channel}"] = {
                "action": "receive", "channel": {"$ref": f"#/channels/{channel}"},
                "summary": f"{service} consumes {etype} from queue `{queue}` (quorum; retries, then parking)",
                "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Vux Västerbotten event bus", "version": "1.0.0",
                 "description": "Integration events and commands between the services, generated from "
                                "shared/events.py. Every message is an envelope with type, version, event_id "
                                "(consumers dedupe by it), time, producer, correlation_id and a typed payload."},
        "defaultContentType": "application/json",
        "servers": {"rabbitmq": {"host": "127.0.0.1:5672", "protocol": "amqp", "protocolVersion": "0-9-1"}},
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": dict(sorted(messages.items())), "schemas": dict(sorted(schemas.items()))},
    }


def documents() -> dict[Path, dict]:
    docs = {DOCS / "openapi" / f"{name}.json": openapi(name) for name in SERVICES}
    docs[DOCS / "asyncapi.json"] = asyncapi()
    return docs


def render(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def main() -> None:
    for path, doc in documents().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(doc), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
