"""WebSocket routes (mounted by avatarsite.asgi behind session auth and an
origin check). Each page's consumer adds its path here."""

from django.urls import URLPattern, path

from generation.web.consumers import PreviewConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/preview/", PreviewConsumer.as_asgi()),
]
