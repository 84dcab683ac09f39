"""Which service and operation a request is for: one port, every protocol.

Service (sdk-calls.md section 1, "Routing rule for one server"), first match wins:

1. ``X-Amz-Target: SageMaker.Op`` / ``Logs_20140328.Op`` -> that json service and operation.
2. The SigV4 credential scope (``Authorization: ... Credential=AKID/date/REGION/SERVICE/...`` or a
   presigned ``X-Amz-Credential``) names the signing service: ``s3``, ``sts``, ``iam``, ``logs``,
   or ``sagemaker``, which is the runtime when the path is under ``/endpoints/`` and the control
   plane otherwise. A signing name we do not emulate is answered ``NotImplemented``.
3. Unsigned: a query ``Action`` (query string, or an urlencoded ``POST`` body) -> STS or IAM by
   ``Version``; ``POST /endpoints/{name}/invocations`` -> the runtime.
4. Anything else is S3, path style, or virtual-host style when ``Host`` is ``<bucket>.localhost``,
   ``<bucket>.<a configured hostname>`` or ``<bucket>.s3.<anything>``.

The region is the credential scope's, else the emulator's default.

Operation: json by target, query by ``Action``, REST protocols by method + the model's
``requestUri`` template (``{Label}``, greedy ``{Key+}``, literal query keys such as ``?uploads``
or ``?list-type=2``), with the query keys and headers of *required* members telling apart
operations that share a path (``PUT /{Bucket}/{Key+}`` is ``UploadPartCopy`` with
``partNumber``, ``uploadId`` and ``x-amz-copy-source``, ``UploadPart`` without the header,
``CopyObject`` with only the header, ``PutObject`` with none). The tables are built once from the
models, most specific rule first.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

from sagemaker_emulator.aws import protocols, specs
from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.protocols.base import HttpRequest, is_form_encoded


@dataclass
class Route:
    """Where a request goes. ``operation`` is ``None`` when no operation matched; ``error`` then
    says why, and ``codec`` is the protocol to answer it in."""

    service: str | None
    protocol: str
    codec: Any
    operation: Any = None  # botocore OperationModel
    labels: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    error: AwsError | None = None

    @property
    def operation_name(self) -> str | None:
        return self.operation.name if self.operation is not None else None


# --------------------------------------------------------------------------- REST rules


class RestRule:
    __slots__ = ("operation", "method", "regex", "labels", "query", "required_query", "headers", "rank")

    def __init__(self, operation) -> None:
        self.operation = operation
        http = operation.http
        self.method = http.get("method", "POST").upper()
        uri = http.get("requestUri", "/")
        path, _, query = uri.partition("?")
        self.regex, self.labels, literal_chars = _compile_path(path)
        self.query: tuple[tuple[str, str | None], ...] = tuple(
            (k, v if sep else None)
            for k, sep, v in (part.partition("=") for part in query.split("&") if part)
        )
        required_query = []
        headers = []
        shape = operation.input_shape
        if shape is not None:
            for name in shape.required_members:
                member = shape.members.get(name)
                if member is None:
                    continue
                location = member.serialization.get("location")
                wire = member.serialization.get("name", name)
                if location == "querystring":
                    required_query.append(wire)
                elif location == "header":
                    headers.append(wire.lower())
        self.required_query = tuple(required_query)
        self.headers = tuple(headers)
        discriminators = len(self.query) + len(self.required_query) + len(self.headers)
        self.rank = (
            -discriminators,
            -len(self.query),
            -literal_chars,
            1 if operation.deprecated else 0,
            1 if _is_s3_express_only(operation) else 0,
        )

    def match(self, path: str, query: dict[str, list[str]], headers: dict[str, str]):
        for key, value in self.query:
            values = query.get(key)
            if values is None or (value is not None and value not in values):
                return None
        for key in self.required_query:
            if key not in query:
                return None
        for key in self.headers:
            if key not in headers:
                return None
        m = self.regex.match(path)
        if m is None:
            return None
        return dict(zip(self.labels, m.groups()))


def _compile_path(template: str) -> tuple[re.Pattern, tuple[str, ...], int]:
    pattern = ["^"]
    labels = []
    literal_chars = 0
    pos = 0
    for m in re.finditer(r"\{([^}]+)\}", template):
        literal = template[pos : m.start()]
        pattern.append(re.escape(literal))
        literal_chars += len(literal)
        name = m.group(1)
        if name.endswith("+"):
            labels.append(name[:-1])
            pattern.append("(.+)")
        else:
            labels.append(name)
            pattern.append("([^/]+)")
        pos = m.end()
    tail = template[pos:]
    literal_chars += len(tail)
    pattern.append(re.escape(tail))
    if tail == "" and labels and not template.endswith("+}"):
        pattern.append("/?")  # "/bucket/" is the bucket, as S3 has it
    pattern.append("$")
    return re.compile("".join(pattern), re.DOTALL), tuple(labels), literal_chars


def _is_s3_express_only(operation) -> bool:
    params = getattr(operation, "static_context_parameters", None) or ()
    return any(p.name == "UseS3ExpressControlEndpoint" for p in params)


class RestTable:
    """The REST rules of one service by method, most specific first."""

    def __init__(self, service: str) -> None:
        by_method: dict[str, list[RestRule]] = {}
        for operation in specs.operations(service).values():
            rule = RestRule(operation)
            by_method.setdefault(rule.method, []).append(rule)
        self.by_method = {m: sorted(rules, key=lambda r: r.rank) for m, rules in by_method.items()}

    def match(self, method: str, path: str, query, headers):
        for rule in self.by_method.get(method, ()):
            labels = rule.match(path, query, headers)
            if labels is not None:
                return rule.operation, labels
        return None


_tables: dict[str, RestTable] = {}
_tables_lock = threading.Lock()


def rest_table(service: str) -> RestTable:
    table = _tables.get(service)
    if table is None:
        with _tables_lock:
            table = _tables.get(service)
            if table is None:
                table = _tables[service] = RestTable(service)
    return table


# --------------------------------------------------------------------------- signals


def credential_scope(request: HttpRequest) -> tuple[str, str] | None:
    """``(region, service)`` from the SigV4 credential scope, or ``None``."""
    auth = request.headers.get("authorization")
    credential = None
    if auth:
        i = auth.find("Credential=")
        if i >= 0:
            end = len(auth)
            for sep in (",", " "):
                j = auth.find(sep, i)
                if 0 <= j < end:
                    end = j
            credential = auth[i + 11 : end]
    elif "X-Amz-Credential" in request.query_string:
        values = request.query.get("X-Amz-Credential")
        credential = values[0] if values else None
    if not credential:
        return None
    parts = credential.split("/")
    if len(parts) < 5:
        return None
    return parts[-3], parts[-2]


def virtual_host_bucket(host: str, hostnames: Iterable[str]) -> str | None:
    """The bucket named by a virtual-host style ``Host``, or ``None`` for path style."""
    if not host or host[0] == "[":
        return None
    host = host.rsplit(":", 1)[0].lower() if ":" in host else host.lower()
    bucket = None
    if host.endswith(".localhost"):
        bucket = host[: -len(".localhost")]
    else:
        for name in hostnames:
            name = (name or "").lower()
            if name and host.endswith("." + name):
                bucket = host[: -len(name) - 1]
                break
        else:
            i = host.find(".s3.")
            if i > 0:
                bucket = host[:i]
    if not bucket or bucket == "s3" or bucket.startswith("s3."):
        return None
    if bucket.endswith(".s3"):
        bucket = bucket[:-3]
    return bucket or None


# --------------------------------------------------------------------------- the router


class Router:
    def __init__(self, hostnames: Iterable[str] = (), default_region: str = "us-east-1") -> None:
        self.hostnames = tuple(hostnames)
        self.default_region = default_region

    def route(self, request: HttpRequest) -> Route:
        headers = request.headers
        scope = credential_scope(request)
        region = scope[0] if scope and scope[0] else self.default_region
        target = headers.get("x-amz-target")
        if target:
            return self._json(target, region)
        signing = scope[1] if scope else None
        if signing:
            services = specs.signing_names().get(signing)
            if services is None:
                return self._not_emulated(request, signing, region)
            if "sagemaker-runtime" in services and request.path.startswith("/endpoints/"):
                return self._rest("sagemaker-runtime", request, region)
            service = services[0]
            proto = specs.protocol(service)
            if proto == "query":
                return self._query(request, region, service)
            if proto == "rest-xml":
                return self._s3(request, region)
            if proto == "rest-json":
                return self._rest(service, request, region)
            codec = protocols.codec(service)
            return Route(
                service,
                proto,
                codec,
                region=region,
                error=AwsError(
                    "UnknownOperationException",
                    f"Requests to {service} need an X-Amz-Target header naming the operation.",
                    400,
                ),
            )
        if "Action" in request.query or (request.method == "POST" and is_form_encoded(headers)):
            if "Action" in request.form():
                return self._query(request, region, None)
        if request.method == "POST" and request.path.startswith("/endpoints/"):
            route = self._rest("sagemaker-runtime", request, region)
            if route.operation is not None:
                return route
        return self._s3(request, region)

    # -- per protocol ---------------------------------------------------------------------------

    def _json(self, target: str, region: str) -> Route:
        prefix, _, name = target.rpartition(".")
        service = specs.target_prefixes().get(prefix)
        if service is None:
            codec = protocols.codec_for_protocol("json")
            return Route(
                None,
                "json",
                codec,
                region=region,
                error=AwsError(
                    "UnknownOperationException",
                    f"X-Amz-Target {target} names no emulated service "
                    f"(emulated: {', '.join(sorted(specs.target_prefixes()))}).",
                    400,
                ),
            )
        codec = protocols.codec(service)
        operation = specs.operations(service).get(name)
        error = None if operation is not None else codec.unknown_operation(name or target)
        return Route(service, "json", codec, operation, region=region, error=error)

    def _query(self, request: HttpRequest, region: str, service: str | None) -> Route:
        form = request.form()
        action = form.get("Action")
        if service is None:
            service = specs.query_versions().get(form.get("Version", ""))
            if service is None and action:
                for candidate in ("sts", "iam"):
                    if action in specs.operations(candidate):
                        service = candidate
                        break
            if service is None:
                codec = protocols.codec_for_protocol("query")
                return Route(
                    None,
                    "query",
                    codec,
                    region=region,
                    error=AwsError(
                        "InvalidAction",
                        f"Could not find operation {action} for version {form.get('Version')}",
                        400,
                    ),
                )
        codec = protocols.codec(service)
        if not action:
            return Route(
                service, "query", codec, region=region,
                error=AwsError("MissingAction", "Missing Action", 400),
            )
        operation = specs.operations(service).get(action)
        error = None if operation is not None else codec.unknown_operation(action)
        return Route(service, "query", codec, operation, region=region, error=error)

    def _rest(self, service: str, request: HttpRequest, region: str) -> Route:
        codec = protocols.codec(service)
        found = rest_table(service).match(request.method, request.path, request.query, request.headers)
        if found is None:
            return Route(
                service, codec.name, codec, region=region,
                error=codec.unknown_operation(f"{request.method} {request.path}"),
            )
        return Route(service, codec.name, codec, found[0], found[1], region)

    def _s3(self, request: HttpRequest, region: str) -> Route:
        codec = protocols.codec("s3")
        table = rest_table("s3")
        path = request.path
        bucket = virtual_host_bucket(request.headers.get("host", ""), self.hostnames)
        found = None
        if bucket:
            virtual_path = "/" + bucket + (path if path != "/" else "")
            found = table.match(request.method, virtual_path, request.query, request.headers)
        if found is None:
            found = table.match(request.method, path, request.query, request.headers)
        if found is None:
            return Route(
                "s3", "rest-xml", codec, region=region,
                error=codec.unknown_operation(f"{request.method} {path}"),
            )
        return Route("s3", "rest-xml", codec, found[0], found[1], region)

    def _not_emulated(self, request: HttpRequest, signing: str, region: str) -> Route:
        if "Action" in request.query or is_form_encoded(request.headers):
            proto = "query"
        else:
            proto = "rest-json"
        codec = protocols.codec_for_protocol(proto)
        return Route(
            None,
            proto,
            codec,
            region=region,
            error=AwsError(
                "NotImplemented",
                f"The service {signing} is not emulated by sagemaker-emulator (it emulates "
                f"{', '.join(specs.SERVICES)}).",
                501,
                sender_fault=False,
            ),
        )
