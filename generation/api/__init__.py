"""The JSON API (django-ninja routers); the NinjaAPI root is avatarsite.api."""
