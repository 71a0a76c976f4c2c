"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from channels.auth import AuthMiddlewareStack
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avatarsite.settings")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402  (after Django is set up)

from avatarsite.api_handler import ApiASGIHandler, route_http  # noqa: E402
from generation.jobs.worker import JobWorkerConsumer, TrainingWorkerConsumer  # noqa: E402
from generation.web.routing import websocket_urlpatterns  # noqa: E402
from generation.web.uploads import UploadLimit  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": route_http(ApiASGIHandler(), UploadLimit(django_asgi_app)),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        "channel": ChannelNameRouter(
            {
                settings.WORKER_CHANNEL: JobWorkerConsumer.as_asgi(),
                settings.TRAINING_CHANNEL: TrainingWorkerConsumer.as_asgi(),
            }
        ),
    }
)
