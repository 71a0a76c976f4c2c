"""The pages people use: signup, their avatar, sign in and out, and the avatar
picker's endpoints (included by avatarsite.urls)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from generation.web import preview_views, signup

urlpatterns = [
    path("signup/", signup.signup, name="signup"),
    path("me/avatar/", signup.me_avatar, name="me-avatar"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("preview/identity.<str:fmt>", preview_views.identity_preview, name="preview-identity"),
    path("preview/photo/", preview_views.photo_upload, name="preview-photo"),
    path("preview/jobs/<str:job_id>/", preview_views.job_panel, name="preview-panel"),
    path(
        "preview/jobs/<str:job_id>/regenerate",
        preview_views.job_regenerate,
        name="preview-regenerate",
    ),
    path("preview/jobs/<str:job_id>/original", preview_views.job_original, name="preview-original"),
    path("preview/jobs/<str:job_id>/ai.png", preview_views.job_ai, name="preview-ai"),
    path(
        "avatars/<str:public_id>/<int:size>.png",
        preview_views.profile_avatar,
        name="profile-avatar",
    ),
]
