"""Links to stored results: expiring signed URLs.

S3-compatible storage signs its own (pre-signed URLs); local storage gets a
Django-signed token served by `signed_file`.
"""

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import FileResponse, HttpRequest, JsonResponse
from django.urls import reverse

SALT = "generation.files"


def file_url(request: HttpRequest | None, name: str) -> str:
    if not name:
        return ""
    if not isinstance(default_storage, FileSystemStorage):
        return default_storage.url(name)
    token = signing.dumps(name, salt=SALT, compress=True)
    path = reverse("signed-file", kwargs={"token": token})
    return request.build_absolute_uri(path) if request is not None else path


def signed_file(request: HttpRequest, token: str):
    try:
        name = signing.loads(token, salt=SALT, max_age=settings.SIGNED_URL_SECONDS)
    except signing.SignatureExpired:
        return JsonResponse(
            {"code": "link_expired", "message": "This link has expired."}, status=410
        )
    except signing.BadSignature:
        return JsonResponse({"code": "not_found", "message": "No such file."}, status=404)
    if not default_storage.exists(name):
        return JsonResponse({"code": "not_found", "message": "The file is gone."}, status=404)
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    return response
