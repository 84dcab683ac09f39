"""Per-shape tables the codecs look up on every request, computed once per botocore shape.

botocore caches its ``Shape`` objects (``OperationModel.input_shape``, ``StructureShape.members``),
so a shape's identity is stable for the life of the process; the tables are keyed by it.
"""

from __future__ import annotations

from typing import Any

_json_members: dict[int, tuple[Any, dict[str, tuple[str, Any]]]] = {}
_xml_members: dict[int, tuple[Any, tuple]] = {}
_json_out: dict[int, tuple[Any, dict]] = {}

# member types whose Python value is already its JSON value, with that value's type
_PLAIN_JSON = {"string": str, "boolean": bool, "integer": int, "long": int}


def json_members(shape) -> dict[str, tuple[str, Any]]:
    """wire key -> (member name, member shape) for a structure read from or written to JSON."""
    entry = _json_members.get(id(shape))
    if entry is None or entry[0] is not shape:
        table = {
            member.serialization.get("name", name): (name, member)
            for name, member in shape.members.items()
        }
        entry = _json_members[id(shape)] = (shape, table)
    return entry[1]


def json_output_members(shape) -> dict[str, tuple[str, Any, type | None]]:
    """member name -> (wire key, member shape, plain type) for writing a structure as JSON: a
    value of the plain type (``str`` for strings, ``bool``, ``int``) is written as it is."""
    entry = _json_out.get(id(shape))
    if entry is None or entry[0] is not shape:
        table = {
            name: (member.serialization.get("name", name), member, _PLAIN_JSON.get(member.type_name))
            for name, member in shape.members.items()
        }
        entry = _json_out[id(shape)] = (shape, table)
    return entry[1]


def xml_member_name(member, name: str) -> str:
    """The element name of a structure member in XML (botocore's rule: a flattened list takes the
    name of its member shape when that has one)."""
    if member.type_name == "list" and member.serialization.get("flattened"):
        item_name = member.member.serialization.get("name")
        if item_name:
            return item_name
    return member.serialization.get("name", name)


def xml_members(shape) -> tuple:
    """``(elements, attributes)`` of a structure in XML: each a tuple of
    ``(xml name, member name, member shape)``; attributes are ``xmlAttribute`` members."""
    entry = _xml_members.get(id(shape))
    if entry is None or entry[0] is not shape:
        elements = []
        attributes = []
        for name, member in shape.members.items():
            if member.serialization.get("xmlAttribute"):
                attributes.append((member.serialization.get("name", name), name, member))
            else:
                elements.append((xml_member_name(member, name), name, member))
        entry = _xml_members[id(shape)] = (shape, (tuple(elements), tuple(attributes)))
    return entry[1]


def is_document(shape) -> bool:
    return bool(getattr(shape, "is_document_type", False))
