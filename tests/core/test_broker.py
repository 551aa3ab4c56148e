"""core.broker: kombu's Redis transport, reusing one synchronous client per connection pool, on
the real broker."""

from celery import current_app
from kombu import Connection, Exchange, Queue

from core.broker import Channel, Transport


def test_the_configured_broker_uses_relists_transport():
    with current_app.connection_for_write() as connection:
        assert isinstance(connection.transport, Transport)
        assert isinstance(connection.default_channel, Channel)


def test_one_client_per_pool_and_a_new_one_after_the_pool_is_replaced():
    with current_app.connection_for_write() as connection:
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
    with Connection(current_app.conf.broker_url, transport=Transport) as connection:
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
