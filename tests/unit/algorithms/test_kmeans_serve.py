"""k-means ``serve``: content negotiation, error statuses, the HTTP server, and the real entry point."""

from __future__ import annotations

import http.client
import json
import struct

import numpy as np
import pytest

from sagemaker_algorithms.common import ndarray
from sagemaker_algorithms.common.inference import invoke
from sagemaker_algorithms.common.protobuf_records import encode_dense_records, parse_record
from sagemaker_algorithms.common.recordio import iter_payloads
from sagemaker_algorithms.common.serving import InferenceServer
from sagemaker_algorithms.kmeans.model import KMeansModel, load_centers

from .helpers import free_port, run_entrypoint, sdk_record_round_trip, serving

CENTERS = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]], np.float32)
ROWS = np.array([[1.0, 0.0, 0.0], [10.0, 3.0, 4.0], [0.0, 9.0, 0.0]], np.float32)
EXPECTED = [{"closest_cluster": 0.0, "distance_to_cluster": 1.0},
            {"closest_cluster": 1.0, "distance_to_cluster": 5.0},
            {"closest_cluster": 2.0, "distance_to_cluster": 1.0}]


@pytest.fixture(scope="module")
def model() -> KMeansModel:
    return KMeansModel(CENTERS)


def request_bodies() -> dict[str, bytes]:
    return {
        "text/csv": b"1,0,0\n10,3,4\n0,9,0\n",
        "text/csv; label_size=1": b"7,1,0,0\n7,10,3,4\n7,0,9,0",
        "application/json": json.dumps({"instances": [{"features": [1, 0, 0]},
                                                      {"data": {"features": {"values": [10, 3, 4]}}},
                                                      {"data": {"features": {"keys": [1], "shape": [3],
                                                                             "values": [9]}}}]}).encode(),
        "application/jsonlines": b'{"features": [1, 0, 0]}\n{"features": [10, 3, 4]}\n{"features": [0, 9, 0]}',
        "application/x-recordio-protobuf": encode_dense_records(ROWS.astype(np.float64)),
    }


@pytest.mark.parametrize("content_type", list(request_bodies()))
def test_every_request_format(model, content_type):
    status, response_type, body = invoke(model, request_bodies()[content_type], content_type, "application/json")
    assert (status, response_type) == (200, "application/json")
    assert json.loads(body) == {"predictions": EXPECTED}


@pytest.mark.parametrize("accept", [None, "", "*/*", "application/json", "application/*",
                                    "application/json; verbose=true", "image/png, application/json;q=0.5"])
def test_json_is_the_default_response(model, accept):
    status, response_type, body = invoke(model, b"1,0,0", "text/csv", accept)
    assert (status, response_type) == (200, "application/json")
    assert json.loads(body)["predictions"] == EXPECTED[:1]


def test_jsonlines_csv_and_recordio_responses(model):
    csv_body = request_bodies()["text/csv"]
    status, kind, body = invoke(model, csv_body, "text/csv", "application/jsonlines")
    assert (status, kind) == (200, "application/jsonlines")
    assert [json.loads(line) for line in body.decode().split("\n")] == EXPECTED
    status, kind, body = invoke(model, csv_body, "text/csv", "text/csv")
    assert (status, kind, body) == (200, "text/csv", b"0.0,1.0\n1.0,5.0\n2.0,1.0")
    status, kind, body = invoke(model, csv_body, "text/csv", "application/x-recordio-protobuf, application/json")
    assert (status, kind) == (200, "application/x-recordio-protobuf")
    labels = [parse_record(payload)["label"] for payload in iter_payloads(body)]
    assert [(r["closest_cluster"].values.tolist(), r["distance_to_cluster"].values.tolist()) for r in labels] == [
        ([0.0], [1.0]), ([1.0], [5.0]), ([2.0], [1.0])]


def test_sdk_predictor_round_trip(model):
    records = sdk_record_round_trip(model, ROWS.astype(np.float64))
    assert len(records) == 3
    assert [r.label["closest_cluster"].float32_tensor.values[0] for r in records] == [0.0, 1.0, 2.0]
    assert [r.label["distance_to_cluster"].float32_tensor.values[0] for r in records] == [1.0, 5.0, 1.0]


@pytest.mark.parametrize("body, content_type, status, message", [
    (b"1,2\n3,4", "text/csv", 400, "records have 2 features but the model expects 3"),
    (b'{"instances": [{"features": [1, 2, 3, 4]}]}', "application/json", 400, "has 4 features"),
    (encode_dense_records(np.ones((2, 4), np.float32)), "application/x-recordio-protobuf", 400,
     "cannot copy sequence with size 4 to array axis with dimension 3"),
    (b"\x89PNG\r\n\x1a\n garbage", "text/csv", 400, "unable to evaluate payload provided"),
    (b"hello", "application/json", 400, "not valid JSON"),
    (b"hello world!", "application/x-recordio-protobuf", 400, "Not RecordIO"),
    (b"nan,1,2", "text/csv", 400, "NaN"),
    (b"", "text/csv", 400, "empty"),
    (b"1,2,3", "image/png", 415, "not supported"),
    (b"1,2,3", None, 415, "no Content-Type"),
])
def test_bad_requests(model, body, content_type, status, message):
    code, kind, text = invoke(model, body, content_type, None)
    assert code == status and kind.startswith("text/plain")
    assert message in text.decode()


def test_unsupported_accept(model):
    code, _, text = invoke(model, b"1,2,3", "text/csv", "image/png")
    assert code == 406 and "image/png" in text.decode()


def test_loads_a_hand_built_mxnet_v1_model(tmp_path):
    body = struct.pack("<QQQ", 0x112, 0, 1) + struct.pack("<Ii2q", 0xF993FAC8, 2, 3, 3) + struct.pack("<iii", 1, 0, 0)
    (tmp_path / "model_algo-1").write_bytes(body + CENTERS.astype("<f4").tobytes() + struct.pack("<Q", 0))
    assert np.array_equal(load_centers(tmp_path), CENTERS)


# --------------------------------------------------------------------------------------------
# HTTP


@pytest.fixture()
def server(model):
    instance = InferenceServer(model, ("127.0.0.1", 0))
    instance.start_background()
    yield instance
    instance.shutdown()
    instance.server_close()


def test_http_keep_alive_and_routes(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/ping")
    response = connection.getresponse()
    assert response.status == 200 and response.read() == b""
    for _ in range(3):  # same connection, several requests
        connection.request("POST", "/invocations", body=b"1,0,0", headers={"Content-Type": "text/csv"})
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type") == "application/json"
        assert json.loads(response.read())["predictions"] == EXPECTED[:1]
    connection.request("POST", "/invocations", body=b"1,0", headers={"Content-Type": "text/csv"})
    response = connection.getresponse()
    assert response.status == 400 and b"unable to evaluate payload provided" in response.read()
    connection.request("GET", "/invocations")
    assert connection.getresponse().status == 405
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/nowhere")
    response = connection.getresponse()
    assert response.status == 404
    response.read()
    connection.request("GET", "/execution-parameters")
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read())["BatchStrategy"] == "MULTI_RECORD"
    connection.close()


def test_http_chunked_request(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("POST", "/invocations", body=iter([b"1,0,", b"0\n0,9,0"]),
                       headers={"Content-Type": "text/csv", "Accept": "text/csv"}, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 200 and response.read() == b"0.0,1.0\n2.0,1.0"
    connection.close()


# --------------------------------------------------------------------------------------------
# the real entry point


def test_serve_entrypoint_subprocess(tmp_path):
    (tmp_path / "model").mkdir()
    ndarray.save(tmp_path / "model" / "model_algo-1", [CENTERS])
    with serving(tmp_path, "kmeans") as served:
        connection = served.connection
        bodies = request_bodies()
        for content_type, body in bodies.items():
            for accept in ("application/json", "application/jsonlines", "application/x-recordio-protobuf", "text/csv"):
                connection.request("POST", "/invocations", body=body,
                                   headers={"Content-Type": content_type, "Accept": accept})
                response = connection.getresponse()
                payload = response.read()
                assert response.status == 200, payload
                assert response.getheader("Content-Type") == accept
        connection.request("POST", "/invocations", body=b"1,2,3,4", headers={"Content-Type": "text/csv"})
        response = connection.getresponse()
        assert response.status == 400 and b"expects 3" in response.read()
        connection.request("POST", "/invocations", body=b"\x00\xff garbage",
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 400
        response.read()
    output = served.output
    assert served.returncode == 0, output
    assert "Loaded k-means model with k=3 centers of 3 features" in output
    assert "shutting down" in output


def test_serve_without_a_model_exits_non_zero(tmp_path):
    result = run_entrypoint("serve", tmp_path, "kmeans", timeout=30,
                            extra_env={"SAGEMAKER_BIND_TO_PORT": str(free_port())})
    assert result.returncode == 1 and "No k-means model (model_algo-1) was found" in result.stdout
