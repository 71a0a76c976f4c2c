"""The NinjaAPI root, mounted at /v1, with JSON errors carrying a stable code."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import REF_TEMPLATE, OpenAPISchema

from generation.api.analytics import router as analytics_router
from generation.api.auth import API_KEY_AUTH
from generation.api.identity import router as avatars_router
from generation.api.identity import users_router
from generation.api.models import ModelIn
from generation.api.models import router as models_router
from generation.api.photos import router as photos_router
from generation.api.portraits import BatchIn, batches_router, generate_router, jobs_router
from generation.api.styles import StyleIn
from generation.api.styles import router as styles_router
from generation.errors import ApiError

logger = logging.getLogger(__name__)
DATABASE_RETRY_AFTER_SECONDS = 5


ERROR_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["code", "message"],
}
# Answers any operation may give before or around its view (avatarsite/request_checks.py and the
# handlers below): by what the operation takes.
COMMON_RESPONSES = {
    "body": {
        400: "A NUL character in the body or query, or an unreadable body.",
        413: "The request body is over the size limit (request_too_large).",
    },
    "query": {400: "A NUL character in the query string (invalid_characters)."},
    "any": {503: "The database is briefly unavailable (service_unavailable; see Retry-After)."},
}


def _add_common_responses(operation: dict) -> None:
    takes = ["any"]
    if "requestBody" in operation:
        takes.append("body")
    elif any(p.get("in") == "query" for p in operation.get("parameters", ())):
        takes.append("query")
    responses = operation.setdefault("responses", {})
    for kind in takes:
        for status, description in COMMON_RESPONSES[kind].items():
            responses.setdefault(
                status,
                {
                    "description": description,
                    "content": {"application/json": {"schema": ERROR_SCHEMA}},
                },
            )


class AvatarAPI(NinjaAPI):
    """The NinjaAPI whose OpenAPI document is complete: it names the bodies that
    views parse themselves (JSON or a multipart upload: batches, subject models,
    custom styles), so every `$ref` resolves, and it lists the answers every
    operation may give (COMMON_RESPONSES)."""

    body_schemas: tuple[type[Schema], ...] = (BatchIn, ModelIn, StyleIn)

    def get_openapi_schema(self, **kwargs) -> OpenAPISchema:
        document = super().get_openapi_schema(**kwargs)
        for model in self.body_schemas:
            schema = model.model_json_schema(ref_template=REF_TEMPLATE)
            document.add_schema_definitions({**schema.pop("$defs", {}), model.__name__: schema})
        for path_item in document["paths"].values():
            for operation in path_item.values():
                _add_common_responses(operation)
        return document


api = AvatarAPI(
    title="Avatar service",
    version="1",
    urls_namespace="v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def error_response(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message}, status=status)


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    response = error_response(request, exc.status, exc.code, exc.message)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors
    )
    return error_response(request, 422, "invalid_request", details or "Invalid request.")


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, "unauthorized", "A valid API key is required.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
    return error_response(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def on_database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database is down or unreachable for a moment: the client should retry.
    Connections broken by it are closed by the next unit of work's check."""
    logger.error("Database unavailable: %s", exc)
    response = error_response(
        request, 503, "service_unavailable", "The service is briefly unavailable; retry shortly."
    )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled API error", exc_info=exc)
    return error_response(request, 500, "internal_error", "An unexpected error occurred.")


api.add_router("/avatars", avatars_router, tags=["identity avatars"])
api.add_router("/users", users_router, tags=["identity avatars"])
api.add_router("/avatar", generate_router)
api.add_router("/jobs", jobs_router)
api.add_router("/photos", photos_router)
api.add_router("/batches", batches_router)
api.add_router("/models", models_router)
api.add_router("/styles", styles_router)
api.add_router("/analytics", analytics_router, auth=API_KEY_AUTH)
