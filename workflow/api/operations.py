"""How an API view declares itself: its route, the query and body models it reads and the model it answers with.

`api_route` parses the request through those models, serializes the answer through the response model and
records the operation, from which workflow.api.openapi builds the document: what the document says is what
the code does, with no second description to keep in step.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

from flask import Blueprint, jsonify, request
from pydantic import BaseModel

from workflow.api.problems import parse_body, parse_form, parse_query
from workflow.api.schemas import Body, Query


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str
    operation_id: str
    summary: str
    tag: str
    response: type[BaseModel] | None  # None: the answer is not a JSON model (a file, the document itself)
    status: int = 200
    query: type[Query] | None = None
    body: type[Body] | None = None
    body_required: bool = True
    # The body may also come as multipart/form-data: its fields as parts and files as `file` parts, which the
    # view receives as `uploads=` (none from a JSON body).
    multipart: bool = False
    errors: tuple[int, ...] = ()
    description: str = ""
    public: bool = False
    load: Callable | None = None  # path arguments → the record, checked before the body is read
    openapi: dict = field(default_factory=dict)  # what a model cannot say: multipart bodies, files, headers

    @property
    def path(self) -> str:
        """The OpenAPI path template: /reports/<id:report_id> → /reports/{report_id}."""
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.rule)

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.rule)


OPERATIONS: list[Operation] = []


def api_route(bp: Blueprint, method: str, rule: str, **declared):
    """Register the view on `bp`; it receives `query=` and `body=` as parsed models (and `uploads=` if
    `multipart`) and returns a model of `response` (answered with `status`) or a ready Flask response. With
    `load`, the view receives the record instead of its id, and an unknown or forbidden record is a 404 or 403
    before a bad body is a 400 or 422."""

    def decorate(view):
        op = Operation(method=method, rule=rule, operation_id=declared.pop("operation_id", view.__name__),
                       **declared)
        OPERATIONS.append(op)

        @wraps(view)
        def endpoint(**path_args):
            args = (op.load(**path_args),) if op.load is not None else ()
            kwargs = {} if op.load is not None else path_args
            if op.query is not None:
                kwargs["query"] = parse_query(op.query)
            if op.multipart and request.mimetype == "multipart/form-data":
                kwargs["body"], kwargs["uploads"] = parse_form(op.body)
            elif op.body is not None:
                kwargs["body"] = parse_body(op.body, required=op.body_required)
                if op.multipart:
                    kwargs["uploads"] = []
            result = view(*args, **kwargs)
            if op.response is None:
                return result
            if not isinstance(result, op.response):
                raise TypeError(f"{view.__name__} answered {type(result).__name__}, not {op.response.__name__}")
            response = jsonify(result.dump())
            response.status_code = op.status
            return response

        bp.add_url_rule(rule, view.__name__, endpoint, methods=[method.upper()])
        return endpoint

    return decorate
