"""WebSocket routes (mounted by avatarsite.asgi behind session auth and an
origin check). Each page's consumer adds its path here."""

from django.urls import URLPattern, path

from generation.web.consumers import PreviewConsumer
from generation.web.team_consumer import TeamBatchConsumer
from generation.web.training_consumer import ModelProgressConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/preview/", PreviewConsumer.as_asgi()),
    path("ws/models/<uuid:model_id>/", ModelProgressConsumer.as_asgi()),
    path("ws/team/batches/<uuid:batch_id>/", TeamBatchConsumer.as_asgi()),
]
