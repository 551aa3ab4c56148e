"""Channels on the real Redis: https://channels.readthedocs.io/en/latest/topics/channel_layers.html"""

from config.env import env

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [env("CHANNELS_REDIS_URL", default="redis://127.0.0.1:6379/1")],
            "capacity": 1000,
            "expiry": 60,
        },
    }
}
