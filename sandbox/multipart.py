"""A small multipart/form-data parser (RFC 7578), since the `cgi` module is deprecated.

The bodies come from HTTP clients uploading listing images, so they are parsed as raw bytes:
binary parts must come back byte for byte, which rules out line-oriented parsers.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data."""


@dataclass(frozen=True)
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None


def _header_param(header_name: str, value: str, param: str) -> str | None:
    message = Message()
    message[header_name] = value
    found = message.get_param(param, header=header_name)
    if found is None or isinstance(found, str):
        return found
    return str(found[2])  # an RFC 2231 (charset, language, value) triple


def boundary_of(content_type: str | None) -> str | None:
    """The boundary of a multipart/form-data Content-Type, or None for any other type."""
    if not content_type or content_type.split(";")[0].strip().lower() != "multipart/form-data":
        return None
    return _header_param("content-type", content_type, "boundary")


def parse_multipart(body: bytes, boundary: str) -> list[Part]:
    """Split a form-data body into its named parts, in order."""
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise MultipartError("the body does not end with the closing boundary")
    parts = []
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise MultipartError("a boundary is not followed by a line break")
        head, separator, data = chunk[2:-2].partition(b"\r\n\r\n")
        if not separator:
            raise MultipartError("a part has no blank line after its headers")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            header, colon, value = line.partition(":")
            if not colon:
                raise MultipartError(f"malformed part header: {line!r}")
            headers[header.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _header_param("content-disposition", disposition, "name")
        if not disposition.lower().startswith("form-data") or name is None:
            raise MultipartError("a part has no form-data Content-Disposition with a name")
        filename = _header_param("content-disposition", disposition, "filename")
        parts.append(Part(name, data, filename, headers.get("content-type")))
    return parts
