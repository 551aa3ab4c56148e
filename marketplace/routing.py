from django.urls import path

from marketplace.consumers import VintedExtensionConsumer

websocket_urlpatterns = [
    path("ws/vinted/", VintedExtensionConsumer.as_asgi()),
]
