"""Channels on the real Redis: https://channels.readthedocs.io/en/latest/topics/channel_layers.html"""

from config.env import env

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py reads time out after 5 s by default, exactly channels-redis' blocking-pop
            # wait: the two clocks race and an idle consumer dies with a TimeoutError (1011).
            "hosts": [
                {
                    "address": env("CHANNELS_REDIS_URL", default="redis://127.0.0.1:6379/1"),
                    "socket_timeout": 30,
                }
            ],
            "capacity": 1000,
            "expiry": 60,
        },
    }
}

# Extension ids allowed to open the Vinted socket (chrome-extension://<id>); empty = any
# extension origin (development). Browser pages must come from ALLOWED_HOSTS.
RELIST_EXTENSION_IDS = env.list("RELIST_EXTENSION_IDS", default=[])
# Messages larger than this are refused with an error (never truncated). Photos travel as URLs.
VINTED_MAX_MESSAGE_BYTES = env.int("VINTED_MAX_MESSAGE_BYTES", default=1_048_576)
VINTED_AUTH_TIMEOUT_S = env.float("VINTED_AUTH_TIMEOUT_S", default=10.0)
