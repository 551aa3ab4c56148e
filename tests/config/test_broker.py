"""config/broker.py: a Redis channel whose connection the consumer already collected answers a
connection error, which the consumer's reconnect loop handles, not an AttributeError that ends
the worker ("Unrecoverable error: ... no attribute 'hostname'", reproduced under load in a
threads-pool worker when Redis restarts); and the transport's channel reuses one synchronous
client per connection pool, on the real broker."""

import pytest
from django.conf import settings
from kombu import Connection, Exchange, Queue
from kombu.common import ignore_errors
from redis.exceptions import ConnectionError as RedisConnectionError

from config.broker import Channel, Transport
from config.celery import app as celery_app  # installs the guard, as every worker does


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


def test_the_configured_broker_uses_relists_transport():
    with celery_app.connection_for_write() as connection:
        assert isinstance(connection.transport, Transport)
        assert isinstance(connection.default_channel, Channel)


def test_one_client_per_pool_and_a_new_one_after_the_pool_is_replaced():
    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        first = channel._create_client()
        # then every acknowledgement and delivery reuses it
        assert channel._create_client() is first
        assert channel._create_client(asynchronous=True) is not first
        # when kombu drops its pools (after a fork or a lost connection)
        channel._disconnect_pools()
        # then the next client is built on the new pool
        again = channel._create_client()
        assert again is not first
        assert again.connection_pool is channel.pool
        assert again.ping()


def test_messages_are_delivered_and_acknowledged_through_it():
    # given a queue of the test's own on the real broker
    queue = Queue("relist-test-broker", Exchange("relist-test-broker"), "relist-test-broker")
    with Connection(celery_app.conf.broker_url, transport=Transport) as connection:
        with connection.Producer() as producer:
            for n in range(3):
                producer.publish(
                    {"n": n},
                    exchange=queue.exchange,
                    routing_key="relist-test-broker",
                    declare=[queue],
                )
        received, tags = [], []

        def on_message(body: dict, message) -> None:
            received.append(body["n"])
            tags.append(message.delivery_tag)
            message.ack()

        with connection.Consumer(queue, callbacks=[on_message]):
            while len(received) < 3:
                connection.drain_events(timeout=5)
        channel = connection.default_channel
        # then all three arrived, in order, and none of them is left unacknowledged
        assert received == [0, 1, 2]
        assert [tag for tag in tags if channel.client.hexists(channel.unacked_key, tag)] == []
        queue(channel).delete()
