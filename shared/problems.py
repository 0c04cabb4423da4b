"""The one error every service raises for a request it refuses: RFC 9457 problem details.

Use cases raise `Problem(status, detail, field=...)`; shared/http.py's middleware turns it (and
aiohttp's own errors) into an `application/problem+json` answer. Pure: no web framework here.
"""
from __future__ import annotations

from http import HTTPStatus

PROBLEM_TYPES = "https://vux.vasterbotten.example/problems/"
CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """A refusal a caller can act on: the HTTP status, what is wrong (`detail`), and where (`field`, or
    `line` and `column` of a body). `type` names the kind of problem; extensions ride along."""

    def __init__(self, status: int, detail: str, *, field: str | None = None, line: int | None = None,
                 column: int | None = None, type: str | None = None, **extensions) -> None:  # noqa: A002
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.field, self.line, self.column = field, line, column
        self.type = type
        self.extensions = extensions

    def body(self) -> dict:
        try:
            title = HTTPStatus(self.status).phrase
        except ValueError:
            title = "Error"
        out = {"type": PROBLEM_TYPES + self.type if self.type else "about:blank", "title": title,
               "status": self.status, "detail": self.detail}
        for k in ("field", "line", "column"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return {**out, **self.extensions}
