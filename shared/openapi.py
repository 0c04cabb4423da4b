"""OpenAPI 3.1 documents generated from the routes and their pydantic models (never written by hand).

A service registers each route once, through `Api.route`, with the models of its body, query and
answer; the same registration adds the aiohttp route and the operation, so the document cannot
drift from the code. Pydantic's JSON Schema (draft 2020-12) is what OpenAPI 3.1 uses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web
from pydantic import BaseModel

from shared.http import json_response

PROBLEM_SCHEMA = {
    "type": "object", "required": ["type", "title", "status", "detail"],
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string", "description": "a URI naming the kind of problem; about:blank when the status says it"},
        "title": {"type": "string", "description": "the status's reason phrase"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "what was wrong and where, for a person to act on"},
        "field": {"type": "string", "description": "the field that is wrong (dotted path)"},
        "line": {"type": "integer", "description": "the line of the body that is wrong"},
        "column": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "every invalid field (422)"},
    },
}
HEALTH_SCHEMA = {
    "type": "object", "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["ok", "ready", "not ready"]},
                   "checks": {"type": "object", "additionalProperties": {"type": "boolean"},
                              "description": "each dependency: reachable or not"}},
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "a staff or municipality token (`token create`)"},
    "chatSession": {"type": "apiKey", "in": "header", "name": "X-Chat-Session",
                    "description": "the learner's secret conversation id"},
    "counsellorCookie": {"type": "apiKey", "in": "cookie", "name": "vux_counsellor",
                         "description": "set by POST /v1/counsellor/login"},
    "consoleCookie": {"type": "apiKey", "in": "cookie", "name": "vux_console",
                      "description": "set by POST /signin on the staff console"},
    "applicationSecret": {"type": "apiKey", "in": "header", "name": "X-Application-Secret",
                          "description": "the secret from the application receipt"},
}
_REASONS = {400: "Unreadable input", 401: "Not signed in or no valid token", 403: "Not allowed for this caller",
            404: "Not found", 409: "Conflicts with what is stored", 413: "Body too large",
            415: "Wrong content type", 422: "Invalid field; the message names it", 429: "Too many requests",
            503: "Not ready yet"}


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    body: type[BaseModel] | dict | None = None
    body_types: tuple[str, ...] = ("application/json",)
    query: type[BaseModel] | None = None
    response: type[BaseModel] | dict | None = None
    status: int = 200
    response_type: str = "application/json"
    errors: tuple[int, ...] = (400, 422)
    error_type: str = "application/problem+json"  # a page for people answers its refusals as pages
    auth: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


class Api:
    def __init__(self, app: web.Application, title: str, description: str, version: str = "1.0.0") -> None:
        self.app, self.title, self.description, self.version = app, title, description, version
        self.operations: list[Operation] = []
        app.router.add_get("/openapi.json", self._serve)

    def route(self, method: str, path: str, handler: Callable, summary: str, **meta: Any) -> None:
        self.app.router.add_route(method, path, handler)
        self.operations.append(Operation(method.lower(), path, summary, **meta))

    async def _serve(self, _request: web.Request) -> web.Response:
        return json_response(self.document())

    def document(self) -> dict:
        components: dict[str, dict] = {"Problem": PROBLEM_SCHEMA}

        def schema_of(model: type[BaseModel] | dict | None, mode: str) -> dict:
            if model is None:
                return {"type": "object"}
            if isinstance(model, dict):
                return model
            s = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
            components.update(s.pop("$defs", {}))
            components[model.__name__] = s
            return {"$ref": f"#/components/schemas/{model.__name__}"}

        paths: dict[str, dict] = {}
        used_auth: set[str] = set()
        for op in self.operations:
            params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
                      for n in re.findall(r"{(\w+)}", op.path)]
            if op.query is not None:
                qs = op.query.model_json_schema(mode="validation")
                for name, prop in qs.get("properties", {}).items():
                    params.append({"name": name, "in": "query", "required": name in qs.get("required", []),
                                   "schema": {k: v for k, v in prop.items() if k != "title"},
                                   **({"description": prop["description"]} if "description" in prop else {})})
            item: dict[str, Any] = {"summary": op.summary, "operationId": _op_id(op), "tags": list(op.tags)}
            if params:
                item["parameters"] = params
            if op.body is not None:
                item["requestBody"] = {"required": True, "content": {
                    t: {"schema": schema_of(op.body, "validation") if t == "application/json" else {"type": "string"}}
                    for t in op.body_types}}
            ok: dict[str, Any] = {"description": "Success"}
            if op.response_type == "application/json":
                ok["content"] = {"application/json": {"schema": schema_of(op.response, "serialization")}}
            else:
                ok["content"] = {op.response_type: {"schema": {"type": "string"}}}
            responses = {str(op.status): ok}
            errors = set(op.errors) | ({401} if op.auth else set()) | ({415, 413} if op.body is not None else set())
            for code in sorted(errors):
                schema = {"$ref": "#/components/schemas/Problem"} if op.error_type.endswith("json") \
                    else {"type": "string"}
                responses[str(code)] = {"description": _REASONS.get(code, "Error"), "content": {
                    op.error_type: {"schema": schema}}}
            item["responses"] = responses
            if op.auth:
                item["security"] = [{a: []} for a in op.auth]
                used_auth.update(op.auth)
            item.update(op.extra)
            paths.setdefault(op.path, {})[op.method] = item
        for path in ("/healthz", "/readyz"):
            paths[path] = {"get": {"summary": "Liveness" if path == "/healthz" else "Readiness (dependencies up)",
                                   "operationId": path.strip("/"), "tags": ["operations"],
                                   "responses": {"200": {"description": "OK", "content": {
                                       "application/json": {"schema": HEALTH_SCHEMA}}},
                                       **({"503": {"description": "Not ready", "content": {"application/json": {
                                           "schema": HEALTH_SCHEMA}}}} if path == "/readyz" else {})}}}
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "paths": dict(sorted(paths.items())),
            "components": {"schemas": dict(sorted(components.items())),
                           "securitySchemes": {k: v for k, v in SECURITY_SCHEMES.items() if k in used_auth}},
        }


def _op_id(op: Operation) -> str:
    words = re.sub(r"[{}]", "", op.path).strip("/").replace("-", "_").split("/")
    return op.method + "_" + "_".join(w for w in words if w and w != "v1")
