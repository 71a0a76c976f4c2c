"""The NinjaAPI root, mounted at /v1, with JSON errors carrying a stable code."""

import logging

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from generation.api.identity import router as avatars_router
from generation.api.identity import users_router
from generation.api.portraits import batches_router, generate_router, jobs_router
from generation.errors import ApiError

logger = logging.getLogger(__name__)


api = NinjaAPI(
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


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled API error", exc_info=exc)
    return error_response(request, 500, "internal_error", "An unexpected error occurred.")


api.add_router("/avatars", avatars_router, tags=["identity avatars"])
api.add_router("/users", users_router, tags=["identity avatars"])
api.add_router("/avatar", generate_router)
api.add_router("/jobs", jobs_router)
api.add_router("/batches", batches_router)
