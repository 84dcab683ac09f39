"""REST-XML (S3): members in the URI, query string and headers (``x-amz-meta-*`` as a map); the rest
in an XML body or a raw payload (object bodies). Responses carry ``x-amz-request-id`` and
``x-amz-id-2``; XML roots are in S3's namespace.

Errors: ``<Error><Code/><Message/>...fields...<RequestId/><HostId/></Error>``; a HEAD request's
error has no body at all, so botocore reports the bare status (``Code "404"``, ``Message "Not
Found"``), which the SageMaker SDK relies on.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.protocols import xml_body
from sagemaker_emulator.aws.protocols.base import HttpResponse
from sagemaker_emulator.aws.protocols.common import error_headers
from sagemaker_emulator.aws.protocols.rest import RestProtocol

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
CONTENT_TYPE = "application/xml"

# The root element S3 uses for operations whose output has no payload member (botocore ignores the
# root's name; other clients and humans do not). Anything else: "<Operation>Result".
ROOT_ELEMENTS = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListDirectoryBuckets": "ListAllMyDirectoryBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListObjectVersions": "ListVersionsResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "ListParts": "ListPartsResult",
    "DeleteObjects": "DeleteResult",
    "GetBucketLocation": "LocationConstraint",
    "GetBucketTagging": "Tagging",
    "GetObjectTagging": "Tagging",
    "GetBucketAcl": "AccessControlPolicy",
    "GetObjectAcl": "AccessControlPolicy",
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketLifecycle": "LifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetBucketNotification": "NotificationConfiguration",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketLogging": "BucketLoggingStatus",
    "GetBucketWebsite": "WebsiteConfiguration",
    "GetBucketRequestPayment": "RequestPaymentConfiguration",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetObjectAttributes": "GetObjectAttributesResponse",
    "ListBucketAnalyticsConfigurations": "ListBucketAnalyticsConfigurationResult",
    "ListBucketInventoryConfigurations": "ListInventoryConfigurationsResult",
    "ListBucketMetricsConfigurations": "ListMetricsConfigurationsResult",
    "ListBucketIntelligentTieringConfigurations": "ListBucketIntelligentTieringConfigurationsOutput",
}


def new_host_id() -> str:
    return base64.b64encode(os.urandom(48)).decode("ascii")


class RestXmlProtocol(RestProtocol):
    name = "rest-xml"
    internal_error_code = "InternalError"

    def bad_request(self, message: str) -> AwsError:
        return AwsError("InvalidArgument", message, 400)

    def malformed_xml(self, message: str) -> AwsError:
        return AwsError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published "
            "schema",
            400,
        )

    def unknown_operation(self, name: str) -> AwsError:
        method, _, resource = name.partition(" ")
        return AwsError(
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            405,
            fields={"Method": method, "ResourceType": "BUCKET" if resource.count("/") <= 1 else "OBJECT"},
        )

    def request_id_headers(self, request_id: str) -> dict[str, str]:
        return {"x-amz-request-id": request_id, "x-amz-id-2": new_host_id()}

    def internal_error(self, request_id: str) -> AwsError:
        return AwsError(
            "InternalError",
            f"We encountered an internal error. Please try again. (request id {request_id})",
            500,
            sender_fault=False,
        )

    # -- bodies ---------------------------------------------------------------------------------

    def read_body(self, shape, body: bytes) -> dict[str, Any]:
        root = xml_body.parse_document(body, self.malformed_xml)
        return xml_body.read(shape, root, self.bad_request)

    def read_payload(self, member, name: str, body: bytes) -> Any:
        root = xml_body.parse_document(body, self.malformed_xml)
        return xml_body.read(member, root, self.bad_request)

    def write_body(self, op, shape, members, response: HttpResponse) -> bytes:
        response.headers["Content-Type"] = CONTENT_TYPE
        root = ROOT_ELEMENTS.get(op.name) or f"{op.name}Result"
        if op.name == "GetBucketLocation":
            # botocore reads the root's text (a customisation), not a child element
            value = members.get("LocationConstraint") or ""
            text = f'<{root} xmlns="{S3_NAMESPACE}">{xml_body.escape(str(value))}</{root}>'
            return (XML_DECLARATION + text).encode("utf-8")
        writer = xml_body.XmlWriter(always_fraction=True)
        writer.element(shape, members, root, {"xmlns": S3_NAMESPACE})
        return (XML_DECLARATION + writer.text()).encode("utf-8")

    def write_payload(self, member, name: str, value, response: HttpResponse) -> bytes:
        response.headers["Content-Type"] = CONTENT_TYPE
        root = member.serialization.get("name", name)
        writer = xml_body.XmlWriter(always_fraction=True)
        writer.element(member, value, root, {"xmlns": S3_NAMESPACE})
        return (XML_DECLARATION + writer.text()).encode("utf-8")

    # -- errors ---------------------------------------------------------------------------------

    def serialize_error(self, error: AwsError, op, request_id, request) -> HttpResponse:
        headers = self.request_id_headers(request_id)
        error_headers(error, headers)
        if request.method == "HEAD":
            return HttpResponse(error.status, headers, b"")
        headers["Content-Type"] = CONTENT_TYPE
        writer = xml_body.XmlWriter(always_fraction=True)
        parts = writer.parts
        parts.append(XML_DECLARATION)
        parts.append("<Error>")
        parts.append(f"<Code>{xml_body.escape(error.code)}</Code>")
        parts.append(f"<Message>{xml_body.escape(error.message)}</Message>")
        shape = self.error_shape(error.code)
        members = shape.members if shape is not None else {}
        for key, value in error.fields.items():
            if value is None or key in ("Code", "Message", "RequestId", "HostId"):
                continue
            member = members.get(key)
            if member is not None:
                writer.element(member, value, member.serialization.get("name", key))
            else:
                parts.append(f"<{key}>{xml_body.escape(_text(value))}</{key}>")
        parts.append(f"<RequestId>{request_id}</RequestId>")
        parts.append(f"<HostId>{headers['x-amz-id-2']}</HostId>")
        parts.append("</Error>")
        return HttpResponse(error.status, headers, writer.text().encode("utf-8"))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
