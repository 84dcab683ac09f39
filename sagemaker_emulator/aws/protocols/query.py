"""The AWS query protocol (STS, IAM): ``Action=...&Version=...`` plus flattened parameters
(``Tags.member.1.Key=...``, ``Attributes.entry.1.key=...``) in a form body or the query string;
XML responses wrapped as ``<OpResponse><OpResult>...</OpResult><ResponseMetadata>``.

Errors: ``<ErrorResponse><Error><Type>Sender|Receiver</Type><Code/><Message/></Error><RequestId/>``.
"""

from __future__ import annotations

from typing import Any

from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.protocols import xml_body
from sagemaker_emulator.aws.protocols.base import HttpRequest, HttpResponse, scalar_from_text
from sagemaker_emulator.aws.protocols.common import Protocol, apply_response_metadata, error_headers

CONTENT_TYPE = "text/xml"


class QueryProtocol(Protocol):
    name = "query"

    def __init__(self, service: str, model) -> None:
        super().__init__(service, model)
        self.namespace = model.metadata.get("xmlNamespace", "")
        self.version = model.api_version

    def bad_request(self, message: str) -> AwsError:
        return AwsError("InvalidParameterValue", message, 400)

    def unknown_operation(self, name: str) -> AwsError:
        return AwsError(
            "InvalidAction", f"Could not find operation {name} for version {self.version}", 400
        )

    # -- requests -------------------------------------------------------------------------------

    def parse(self, op, request: HttpRequest, labels: dict[str, str]) -> dict[str, Any]:
        shape = op.input_shape
        if shape is None:
            return {}
        form = request.form()
        present: set[str] = set()
        for key in form:
            if key in ("Action", "Version"):
                continue
            start = 0
            while True:
                dot = key.find(".", start)
                if dot < 0:
                    present.add(key)
                    break
                present.add(key[:dot])
                start = dot + 1
        if not present:
            return {}
        return self._read(shape, "", form, present)

    def _read(self, shape, key: str, form: dict[str, str], present: set[str]) -> Any:
        t = shape.type_name
        if t == "structure":
            out = {}
            for name, member in shape.members.items():
                wire = member.serialization.get("name", name)
                member_key = f"{key}.{wire}" if key else wire
                if member_key in present:
                    out[name] = self._read(member, member_key, form, present)
            return out
        if t == "list":
            member = shape.member
            if shape.serialization.get("flattened"):
                prefix = key
                item_name = member.serialization.get("name")
                if item_name:
                    prefix = ".".join(key.split(".")[:-1] + [item_name])
            else:
                prefix = f"{key}.{member.serialization.get('name', 'member')}"
            items = []
            i = 1
            while f"{prefix}.{i}" in present:
                items.append(self._read(member, f"{prefix}.{i}", form, present))
                i += 1
            return items
        if t == "map":
            prefix = key if shape.serialization.get("flattened") else f"{key}.entry"
            key_name = shape.key.serialization.get("name", "key")
            value_name = shape.value.serialization.get("name", "value")
            out = {}
            i = 1
            while f"{prefix}.{i}" in present:
                map_key = form.get(f"{prefix}.{i}.{key_name}")
                value_key = f"{prefix}.{i}.{value_name}"
                if map_key is not None:
                    out[map_key] = (
                        self._read(shape.value, value_key, form, present)
                        if value_key in present
                        else None
                    )
                i += 1
            return out
        text = form.get(key)
        if text is None:
            raise self.bad_request(f"Invalid value for {key}")
        return scalar_from_text(shape, text, self.bad_request)

    # -- responses ------------------------------------------------------------------------------

    def serialize(self, op, result, request_id, request) -> HttpResponse:
        root = f"{op.name}Response"
        writer = xml_body.XmlWriter()
        parts = writer.parts
        parts.append(f'<{root} xmlns="{self.namespace}">')
        shape = op.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper") or f"{op.name}Result"
            members = {k: v for k, v in (result or {}).items() if v is not None and k in shape.members}
            writer.element(shape, members, wrapper)
        parts.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
        parts.append(f"</{root}>")
        response = HttpResponse(
            200,
            {"x-amzn-RequestId": request_id, "Content-Type": CONTENT_TYPE},
            writer.text().encode("utf-8"),
        )
        if result:
            apply_response_metadata(result, response)
        return response

    def serialize_error(self, error: AwsError, op, request_id, request) -> HttpResponse:
        writer = xml_body.XmlWriter()
        parts = writer.parts
        parts.append(f'<ErrorResponse xmlns="{self.namespace}"><Error>')
        parts.append(f"<Type>{'Sender' if error.sender_fault else 'Receiver'}</Type>")
        parts.append(f"<Code>{xml_body.escape(error.code)}</Code>")
        parts.append(f"<Message>{xml_body.escape(error.message)}</Message>")
        shape = self.error_shape(error.code)
        members = shape.members if shape is not None else {}
        for key, value in error.fields.items():
            if value is None or key in ("Type", "Code", "Message"):
                continue
            member = members.get(key)
            if member is not None:
                writer.element(member, value, member.serialization.get("name", key))
            else:
                parts.append(f"<{key}>{xml_body.escape(str(value))}</{key}>")
        parts.append(f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        headers = {"x-amzn-RequestId": request_id, "Content-Type": CONTENT_TYPE}
        body = b"" if request.method == "HEAD" else writer.text().encode("utf-8")
        return HttpResponse(error.status, error_headers(error, headers), body)
