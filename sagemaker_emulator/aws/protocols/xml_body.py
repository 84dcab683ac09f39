"""XML documents <-> Python values, guided by a botocore shape (rest-xml bodies and query responses).

Naming follows the model the way botocore reads it: ``locationName`` renames an element, lists wrap
their items in ``<member>`` (or the member's ``locationName``) unless ``flattened``, maps are
``<entry><key/><value/></entry>``, ``xmlAttribute`` members are attributes and ``xmlNamespace``
declares a namespace on the element.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Any, Callable

from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.protocols.base import scalar_from_text, scalar_to_text
from sagemaker_emulator.aws.protocols.shapes import xml_members

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;", '"': "&quot;", "\n": "&#10;"}
)


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def escape_attr(text: str) -> str:
    return text.translate(_ATTR_ESCAPES)


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag[:1] == "{" else tag


# --------------------------------------------------------------------------- reading


def parse_document(body: bytes, bad: Callable[[str], AwsError]) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise bad(f"The XML you provided was not well-formed: {exc}") from None


def read(shape, element: ElementTree.Element, bad: Callable[[str], AwsError]) -> Any:
    """The Python value of ``shape`` held by ``element``."""
    t = shape.type_name
    if t == "structure":
        return _read_structure(shape, element, bad)
    if t == "list":
        item_name = shape.member.serialization.get("name", "member")
        return [read(shape.member, child, bad) for child in element if local_name(child.tag) == item_name]
    if t == "map":
        return _read_entries(shape, [c for c in element if local_name(c.tag) == "entry"], bad)
    return scalar_from_text(shape, element.text or "", bad)


def _read_structure(shape, element, bad) -> dict[str, Any]:
    elements, attributes = xml_members(shape)
    children: dict[str, list] = {}
    for child in element:
        children.setdefault(local_name(child.tag), []).append(child)
    out: dict[str, Any] = {}
    for xml_name, name, member in elements:
        nodes = children.get(xml_name)
        if not nodes:
            continue
        flattened = member.serialization.get("flattened")
        if flattened and member.type_name == "list":
            out[name] = [read(member.member, node, bad) for node in nodes]
        elif flattened and member.type_name == "map":
            out[name] = _read_entries(member, nodes, bad)
        else:
            out[name] = read(member, nodes[0], bad)
    for xml_name, name, member in attributes:
        value = _attribute(element, xml_name)
        if value is not None:
            out[name] = scalar_from_text(member, value, bad)
    return out


def _attribute(element, xml_name: str) -> str | None:
    if ":" not in xml_name:
        return element.attrib.get(xml_name)
    local = xml_name.split(":", 1)[1]
    for key, value in element.attrib.items():
        if local_name(key) == local:
            return value
    return None


def _read_entries(shape, entries, bad) -> dict[str, Any]:
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    out = {}
    for entry in entries:
        key = value = None
        for child in entry:
            tag = local_name(child.tag)
            if tag == key_name:
                key = child.text or ""
            elif tag == value_name:
                value = read(shape.value, child, bad)
        if key is not None:
            out[key] = value
    return out


# --------------------------------------------------------------------------- writing


class XmlWriter:
    """Appends the XML of shaped values to ``parts``. ``always_fraction``: timestamps carry
    milliseconds even when whole (S3's style)."""

    __slots__ = ("parts", "always_fraction")

    def __init__(self, always_fraction: bool = False) -> None:
        self.parts: list[str] = []
        self.always_fraction = always_fraction

    def text(self) -> str:
        return "".join(self.parts)

    def element(self, shape, value: Any, name: str, attrs: dict[str, str] | None = None) -> None:
        t = shape.type_name
        parts = self.parts
        attrs = dict(attrs or {})
        namespace = shape.serialization.get("xmlNamespace")
        if namespace:
            if isinstance(namespace, dict):
                prefix = namespace.get("prefix")
                attrs.setdefault(f"xmlns:{prefix}" if prefix else "xmlns", namespace.get("uri", ""))
            else:
                attrs.setdefault("xmlns", str(namespace))
        if t == "structure":
            elements, attributes = xml_members(shape)
            for xml_name, member_name, member in attributes:
                item = value.get(member_name)
                if item is not None:
                    attrs[xml_name] = scalar_to_text(member, item, "iso8601", self.always_fraction)
                    ns = member.serialization.get("xmlNamespace")
                    if isinstance(ns, dict) and ns.get("prefix"):
                        attrs.setdefault(f"xmlns:{ns['prefix']}", ns.get("uri", ""))
            parts.append(_open(name, attrs))
            for xml_name, member_name, member in elements:
                item = value.get(member_name)
                if item is not None:
                    self.member(member, item, xml_name)
            parts.append(f"</{name}>")
        elif t == "list":
            parts.append(_open(name, attrs))
            item_name = shape.member.serialization.get("name", "member")
            for item in value:
                self.element(shape.member, item, item_name)
            parts.append(f"</{name}>")
        elif t == "map":
            parts.append(_open(name, attrs))
            self._entries(shape, value, "entry")
            parts.append(f"</{name}>")
        else:
            text = escape(scalar_to_text(shape, value, "iso8601", self.always_fraction))
            parts.append(f"{_open(name, attrs)}{text}</{name}>")

    def member(self, member, value: Any, xml_name: str) -> None:
        """A structure member: flattened lists and maps repeat ``xml_name`` without a wrapper."""
        if member.serialization.get("flattened"):
            if member.type_name == "list":
                for item in value:
                    self.element(member.member, item, xml_name)
                return
            if member.type_name == "map":
                self._entries(member, value, xml_name)
                return
        self.element(member, value, xml_name)

    def _entries(self, shape, value: dict, entry_name: str) -> None:
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        for key, item in value.items():
            if item is None:
                continue
            self.parts.append(f"<{entry_name}><{key_name}>{escape(str(key))}</{key_name}>")
            self.element(shape.value, item, value_name)
            self.parts.append(f"</{entry_name}>")


def _open(name: str, attrs: dict[str, str]) -> str:
    if not attrs:
        return f"<{name}>"
    rendered = "".join(f' {k}="{escape_attr(v)}"' for k, v in attrs.items())
    return f"<{name}{rendered}>"
