"""The shared server plumbing: HTTP framing, routing, multipart parsing, lifecycle and CLI."""

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox.ebay import EbaySandbox
from sandbox.multipart import MultipartError, parse_multipart

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_multipart_parts_come_back_byte_for_byte() -> None:
    # given a binary part holding every byte value, line breaks included
    data = bytes(range(256)) * 2
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="rank"\r\n\r\n'
        b"2\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="image"; filename="a b.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + data + b"\r\n"
        b"--XyZ--\r\n"
    )

    # when
    rank, image = parse_multipart(body, "XyZ")

    # then
    assert (rank.name, rank.data, rank.filename) == ("rank", b"2", None)
    assert (image.name, image.filename, image.content_type) == ("image", "a b.jpg", "image/jpeg")
    assert image.data == data


def test_multipart_without_its_closing_boundary_is_refused() -> None:
    # given
    body = b'--XyZ\r\nContent-Disposition: form-data; name="rank"\r\n\r\n2\r\n'

    # when / then
    with pytest.raises(MultipartError, match="closing boundary"):
        parse_multipart(body, "XyZ")


def test_a_known_path_with_another_method_is_405_with_allow(
    ebay_sandbox: EbaySandbox, http: requests.Session, ebay_headers: dict[str, str]
) -> None:
    # when
    response = http.delete(
        f"{ebay_sandbox.base_url}/sell/inventory/v1/inventory_item", headers=ebay_headers
    )

    # then
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert response.json()["errors"][0]["message"] == "Method not allowed"


def test_chunked_request_bodies_are_read(
    ebay_sandbox: EbaySandbox, http: requests.Session, ebay_headers: dict[str, str]
) -> None:
    # given a body sent in chunks (a generator makes requests use Transfer-Encoding: chunked)
    parts = [
        b'{"condition": "NEW", "availability": {"shipToLocationAvailability": {"quantity": 1}},',
        b' "product": {"title": "Chunked"}}',
    ]
    headers = {**ebay_headers, "Content-Type": "application/json"}
    url = f"{ebay_sandbox.base_url}/sell/inventory/v1/inventory_item/SKU-1"

    # when
    response = http.put(url, data=iter(parts), headers=headers)

    # then
    assert response.status_code == 204
    assert http.get(url, headers=ebay_headers).json()["product"] == {"title": "Chunked"}


def test_keep_alive_reuses_one_connection(
    ebay_sandbox: EbaySandbox, http: requests.Session
) -> None:
    # when three calls go through one session
    responses = [http.get(f"{ebay_sandbox.root_url}/__sandbox__/health") for _ in range(3)]

    # then the server answered HTTP/1.1 with a length and kept the connection open
    assert [response.raw.version for response in responses] == [11, 11, 11]
    assert {response.headers.get("Connection") for response in responses} == {None}
    assert responses[0].headers["Content-Length"] == str(len(responses[0].content))


def _handler_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name.startswith("Thread-"))


def test_stop_closes_idle_keep_alive_connections() -> None:
    # given a server holding three idle keep-alive connections
    before = _handler_threads()
    server = EbaySandbox().start()
    sessions = [requests.Session() for _ in range(3)]
    for session in sessions:
        session.get(f"{server.root_url}/__sandbox__/health")

    # when
    server.stop()
    deadline = time.monotonic() + 2
    while _handler_threads() > before and time.monotonic() < deadline:
        time.sleep(0.01)

    # then the handler threads ended and the port no longer answers
    assert _handler_threads() == before
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.root_url}/__sandbox__/health", timeout=1)
    for session in sessions:
        session.close()


@pytest.fixture
def cli() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "all", "--orders", "2", "--seed", "1"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    with process.stdout:
        yield process
        process.kill()
        process.wait()


def test_the_cli_prints_base_urls_and_stops_cleanly_on_sigterm(
    cli: subprocess.Popen[str], http: requests.Session
) -> None:
    # given both sandboxes started by `python -m sandbox all`
    assert cli.stdout is not None
    ebay_line, etsy_line = cli.stdout.readline().split(), cli.stdout.readline().split()

    # when they are asked for their health, then sent SIGTERM
    ebay_health = http.get(ebay_line[1] + "/__sandbox__/health").json()
    etsy_root = etsy_line[1].removesuffix("/v3")
    etsy_stats = http.get(etsy_root + "/__sandbox__/stats").json()
    cli.send_signal(signal.SIGTERM)

    # then
    assert ebay_line[0] == "ebay"
    assert etsy_line[0] == "etsy"
    assert etsy_line[1].endswith("/v3")
    assert ebay_health == {"ok": True, "marketplace": "ebay", "base_url": ebay_line[1]}
    assert etsy_stats["receipts"] == 2
    assert cli.wait(timeout=5) == 0
