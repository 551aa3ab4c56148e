"""Channels on the real Redis: https://channels.readthedocs.io/en/latest/topics/channel_layers.html"""

from config.env import env

_CHANNELS_REDIS = {
    "address": env("CHANNELS_REDIS_URL", default="redis://127.0.0.1:6379/1"),
    # redis-py reads time out after 5 s by default, exactly channels-redis' blocking-pop
    # wait: the two clocks race and an idle consumer dies with a TimeoutError (1011).
    "socket_timeout": 30,
}

CHANNEL_LAYERS = {
    # Live updates (groups) and anything else.
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [_CHANNELS_REDIS], "capacity": 1000, "expiry": 60},
    },
    # Vinted extension sessions: a command is one PUBLISH pushed to the one subscribed session
    # (at most once: a session gone is known from PUBLISH's count, and the worker's wait for
    # the ack covers the rest). Answers go straight to the worker: marketplace.services.relay.
    "vinted": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [_CHANNELS_REDIS]},
    },
}

# Extension ids allowed to open the Vinted socket (chrome-extension://<id>); empty = any
# extension origin (development). Browser pages must come from ALLOWED_HOSTS.
RELIST_EXTENSION_IDS = env.list("RELIST_EXTENSION_IDS", default=[])
# Messages larger than this are refused with an error (never truncated). Photos travel as URLs.
VINTED_MAX_MESSAGE_BYTES = env.int("VINTED_MAX_MESSAGE_BYTES", default=1_048_576)
# While a command is in flight its session refreshes a key living this long; a worker waiting
# for the result takes its expiry for a web process that died without a word.
VINTED_LIVENESS_S = env.float("VINTED_LIVENESS_S", default=5.0)

# Both sockets: closed (4408) when not authenticated within this many seconds, and a client IP
# that failed this many authentications in the current minute is closed (4429) unheard.
SOCKET_AUTH_TIMEOUT_S = env.float("SOCKET_AUTH_TIMEOUT_S", default=5.0)
SOCKET_AUTH_FAILURES_PER_MINUTE = env.int("SOCKET_AUTH_FAILURES_PER_MINUTE", default=10)
