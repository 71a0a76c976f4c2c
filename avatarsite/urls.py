from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path

from avatarsite.api import api
from generation import files
from generation.api import dicebear_http
from generation.jobs.metrics import metrics_view
from generation.web import gallery


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"code": "not_found", "message": "No such resource."}, status=404)


handler500 = "avatarsite.outage.server_error"

urlpatterns = [
    path("", gallery.gallery, name="gallery"),
    path("admin/", admin.site.urls),
    path("files/<str:token>", files.signed_file, name="signed-file"),
    path("metrics", metrics_view, name="metrics"),
    path("models/", include("generation.web.training_urls")),
    path("team/", include("generation.web.team_urls")),
    path("", include("generation.web.urls")),
    path("10.x/<str:style>/<str:fmt>", dicebear_http.avatar, name="dicebear-avatar"),
    path("v1/", api.urls),
    re_path(r"^v1/.*$", json_not_found),
]
