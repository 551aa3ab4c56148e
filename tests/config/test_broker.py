"""config/broker.py: a Redis channel whose connection the consumer already collected answers a
connection error, which the consumer's reconnect loop handles, not an AttributeError that ends
the worker ("Unrecoverable error: ... no attribute 'hostname'", reproduced under load in a
threads-pool worker when Redis restarts)."""

import pytest
from django.conf import settings
from kombu import Connection
from kombu.common import ignore_errors
from redis.exceptions import ConnectionError as RedisConnectionError

import config.celery  # noqa: F401 - installs the guard, as every worker does


@pytest.fixture
def collected_channel():
    """A channel as the consumer leaves it after a connection loss: its transport's client is
    gone (collect) and its Redis pool was dropped with the broken sockets."""
    connection = Connection(settings.CELERY_BROKER_URL)
    channel = connection.default_channel
    transport = connection.transport
    transport.client = None  # what Connection.collect() does (kombu's _do_close_transport)
    channel._pool = None
    return connection, channel


def test_a_collected_channel_answers_a_connection_error(collected_channel):
    # given
    _, channel = collected_channel
    # when / then
    with pytest.raises(RedisConnectionError):
        _ = channel.pool


def test_closing_it_is_swallowed_like_any_connection_loss(collected_channel):
    # given: an unacknowledged delivery the close will try to restore
    connection, channel = collected_channel
    channel.qos._delivered["tag-1"] = None
    # when: what the consumer does after a connection loss
    ignore_errors(connection, connection.close)
    # then: nothing escaped
    assert connection._default_channel is None or connection._closed
