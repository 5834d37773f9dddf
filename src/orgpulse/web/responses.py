"""JSON responses straight from a service's pydantic model."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response


def json_model(model: BaseModel) -> Response:
    """Serialize ``model`` once, in pydantic's Rust core.

    Why: returning the model lets FastAPI dump it, validate the dump against the route's
    ``response_model`` and encode it again — three passes that cost more than the query on large
    answers (the portfolio's 500 accounts). The route keeps ``response_model`` for its schema;
    the model already is that type, so nothing is lost by skipping the re-validation.
    """
    return Response(model.model_dump_json(), media_type="application/json")
