from django.urls import path

from marketplace.consumers import LiveUpdatesConsumer, VintedExtensionConsumer

websocket_urlpatterns = [
    path("ws/vinted/", VintedExtensionConsumer.as_asgi()),
    path("ws/live/", LiveUpdatesConsumer.as_asgi()),
]
