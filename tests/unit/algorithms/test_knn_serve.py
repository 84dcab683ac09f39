"""k-NN ``serve``: the artifact, every request format, verbose mode, errors, HTTP, the real entry point."""

from __future__ import annotations

import http.client
import io
import json
import zipfile

import numpy as np
import pytest

from sagemaker_algorithms.common import ndarray
from sagemaker_algorithms.common.inference import invoke
from sagemaker_algorithms.common.protobuf_records import encode_dense_records, parse_record
from sagemaker_algorithms.common.recordio import iter_payloads
from sagemaker_algorithms.common.serving import InferenceServer
from sagemaker_algorithms.knn.estimator import KNearestNeighbors
from sagemaker_algorithms.knn.model import KNNModel, dumps_model, loads_model

from .helpers import free_port, run_entrypoint, sdk_record_round_trip, serving

# Four labelled points on a line; queries at 0.1 and 2.9 (k=3).
SAMPLES = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], np.float32)
LABELS = np.array([5, 5, 7, 7], np.float32)
ROWS = np.array([[0.25, 0, 0], [3.0, 0, 0]], np.float32)
EXPECTED = [{"predicted_label": 5.0}, {"predicted_label": 7.0}]
EXPECTED_VERBOSE = [
    {"predicted_label": 5.0, "distances": [0.25, 0.75, 1.75], "labels": [5.0, 5.0, 7.0]},
    {"predicted_label": 7.0, "distances": [0.0, 1.0, 2.0], "labels": [7.0, 7.0, 5.0]},
]


def fitted(predictor_type="classifier", metric="L2", k=3, samples=SAMPLES, labels=LABELS, **kwargs):
    return KNearestNeighbors(k, sample_size=100, predictor_type=predictor_type, index_metric=metric,
                             **kwargs).fit(samples, labels)


@pytest.fixture(scope="module")
def model() -> KNNModel:
    return KNNModel(loads_model(dumps_model(fitted())))


def request_bodies() -> dict[str, bytes]:
    return {
        "text/csv": b"0.25,0,0\n3,0,0\n",
        "text/csv; label_size=1": b"9,0.25,0,0\n9,3,0,0",
        "application/json": json.dumps({"instances": [{"features": [0.25, 0, 0]},
                                                      {"data": {"features": {"values": [3, 0, 0]}}}]}).encode(),
        "application/json; sparse": json.dumps({"instances": [
            {"data": {"features": {"keys": [0], "shape": [3], "values": [0.25]}}},
            {"data": {"features": {"keys": [0], "shape": [3], "values": [3]}}}]}).encode(),
        "application/jsonlines": b'{"features": [0.25, 0, 0]}\n{"data": {"features": {"values": [3, 0, 0]}}}',
        "application/x-recordio-protobuf": encode_dense_records(ROWS.astype(np.float64)),
    }


def content_type_of(name: str) -> str:
    return name.replace("; sparse", "")


@pytest.mark.parametrize("name", list(request_bodies()))
def test_every_request_format(model, name):
    status, kind, body = invoke(model, request_bodies()[name], content_type_of(name), "application/json")
    assert (status, kind) == (200, "application/json")
    assert json.loads(body) == {"predictions": EXPECTED}


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_json_default_response_and_float_labels(model, accept):
    status, kind, body = invoke(model, b"0.25,0,0", "text/csv", accept)
    assert (status, kind) == (200, "application/json")
    assert body == b'{"predictions": [{"predicted_label": 5.0}]}'


@pytest.mark.parametrize("accept", ["application/json; verbose=true", "application/json;verbose=True",
                                    'application/json; verbose="true"'])
def test_verbose_json(model, accept):
    status, kind, body = invoke(model, request_bodies()["text/csv"], "text/csv", accept)
    assert (status, kind) == (200, "application/json")
    predictions = json.loads(body)["predictions"]
    assert list(predictions[0]) == ["predicted_label", "distances", "labels"]
    for got, expected in zip(predictions, EXPECTED_VERBOSE):
        assert got["predicted_label"] == expected["predicted_label"] and got["labels"] == expected["labels"]
        assert np.allclose(got["distances"], expected["distances"])


def test_verbose_false_is_plain(model):
    _, _, body = invoke(model, b"0.25,0,0", "text/csv", "application/json; verbose=false")
    assert json.loads(body) == {"predictions": EXPECTED[:1]}


def test_jsonlines_responses(model):
    body = request_bodies()["text/csv"]
    status, kind, payload = invoke(model, body, "text/csv", "application/jsonlines")
    assert (status, kind) == (200, "application/jsonlines")
    assert [json.loads(line) for line in payload.decode().split("\n")] == EXPECTED
    _, _, payload = invoke(model, body, "text/csv", "application/jsonlines; verbose=true")
    lines = [json.loads(line) for line in payload.decode().split("\n")]
    assert [line["labels"] for line in lines] == [e["labels"] for e in EXPECTED_VERBOSE]


def test_recordio_responses(model):
    body = request_bodies()["text/csv"]
    status, kind, payload = invoke(model, body, "text/csv", "application/x-recordio-protobuf")
    assert (status, kind) == (200, "application/x-recordio-protobuf")
    records = [parse_record(p)["label"] for p in iter_payloads(payload)]
    assert [list(r) for r in records] == [["predicted_label"]] * 2
    assert [r["predicted_label"].values.tolist() for r in records] == [[5.0], [7.0]]
    assert records[0]["predicted_label"].values.dtype == np.float32
    _, _, payload = invoke(model, body, "text/csv", "application/x-recordio-protobuf; verbose=true")
    records = [parse_record(p)["label"] for p in iter_payloads(payload)]
    assert set(records[1]) == {"predicted_label", "distances", "labels"}
    assert records[1]["labels"].values.tolist() == [7.0, 7.0, 5.0]
    assert np.allclose(records[1]["distances"].values, [0.0, 1.0, 2.0])


def test_sdk_knn_predictor_round_trip(model):
    records = sdk_record_round_trip(model, ROWS.astype(np.float64))
    assert [r.label["predicted_label"].float32_tensor.values[0] for r in records] == [5.0, 7.0]


def test_csv_response_is_not_offered(model):
    status, kind, body = invoke(model, b"0.25,0,0", "text/csv", "text/csv")
    assert status == 406 and "text/csv" in body.decode()


def test_regressor_and_similarity_metrics():
    regressor = KNNModel(loads_model(dumps_model(fitted("regressor", k=2))))
    outputs = regressor.predict(np.array([[0.4, 0, 0]], np.float32))
    assert outputs["predicted_label"].tolist() == [5.0]
    outputs = regressor.predict(np.array([[1.6, 0, 0]], np.float32))
    assert outputs["predicted_label"].tolist() == [6.0]

    samples = np.array([[1, 0], [0, 1], [1, 1], [-1, 0]], np.float32)
    labels = np.array([0, 1, 2, 3], np.float32)
    from sagemaker_algorithms.common.content_types import parse_media_type

    verbose = parse_media_type("application/json; verbose=true")
    inner = KNNModel(loads_model(dumps_model(fitted(metric="INNER_PRODUCT", k=4, samples=samples, labels=labels))))
    out = inner.predict(np.array([[2, 1]], np.float32), verbose)
    assert out["labels"].tolist() == [[2.0, 0.0, 1.0, 3.0]]
    assert out["distances"].tolist() == [[3.0, 2.0, 1.0, -2.0]]  # similarity, best (largest) first
    cosine = KNNModel(loads_model(dumps_model(fitted(metric="COSINE", k=2, samples=samples, labels=labels))))
    out = cosine.predict(np.array([[5, 5]], np.float32), verbose)
    assert out["labels"].tolist() == [[2.0, 0.0]]
    assert np.allclose(out["distances"], [[1.0, np.sqrt(0.5)]])


@pytest.mark.parametrize("body, content_type, status, message", [
    (b"1,2\n3,4", "text/csv", 400, "records have 2 features but the model expects 3"),
    (b'{"instances": [{"features": [1, 2, 3, 4]}]}', "application/json", 400, "has 4 features"),
    (b'{"instances": [{"values": [1, 2, 3]}]}', "application/json", 400, "has no 'features'"),
    (encode_dense_records(np.ones((2, 4), np.float32)), "application/x-recordio-protobuf", 400,
     "cannot copy sequence with size 4 to array axis with dimension 3"),
    (b"hello", "application/json", 400, "not valid JSON"),
    (b"a,b,c", "text/csv", 400, "unable to evaluate payload provided"),
    (b"nan,1,2", "text/csv", 400, "NaN"),
    (b"", "text/csv", 400, "empty"),
    (b"1,2,3", "image/png", 415, "not supported"),
])
def test_bad_requests(model, body, content_type, status, message):
    code, kind, text = invoke(model, body, content_type, "application/json; verbose=true")
    assert code == status and kind.startswith("text/plain")
    assert message in text.decode()


# --------------------------------------------------------------------------------------------
# the artifact


def test_artifact_layout(digits):
    X, y = digits
    estimator = KNearestNeighbors(4, sample_size=500, dimension_reduction_type="sign", dimension_reduction_target=16,
                                  random_state=0).fit(X, y)
    data = dumps_model(estimator)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["knn-params.json", "knn-index.params"]
        params = json.loads(archive.read("knn-params.json"))
        arrays, names = ndarray.loads(archive.read("knn-index.params"))
    assert params["format"] == "sagemaker-emulator-knn" and params["version"] == 1
    assert params["k"] == 4 and params["feature_dim"] == 64 and params["sampled_records"] == 500
    assert params["records_seen"] == len(X) and params["dimension_reduction_type"] == "sign"
    assert names == ["samples", "labels", "projection"]
    assert [a.shape for a in arrays] == [(500, 16), (500,), (64, 16)]
    assert all(a.dtype == np.float32 for a in arrays)


@pytest.mark.parametrize("reduction", [None, "sign", "fjlt"])
def test_artifact_round_trip_predicts_the_same(digits, reduction):
    X, y = digits
    kwargs = {"dimension_reduction_type": reduction, "dimension_reduction_target": 20} if reduction else {}
    estimator = KNearestNeighbors(5, sample_size=800, random_state=3, **kwargs).fit(X[:1500], y[:1500])
    loaded = loads_model(dumps_model(estimator))
    assert np.array_equal(loaded.predict(X[1500:]), estimator.predict(X[1500:]))
    assert loaded.feature_dim_ == 64 and loaded.samples_.shape[1] == (20 if reduction else 64)


def test_unreadable_artifacts():
    from sagemaker_algorithms.common.errors import DataError

    with pytest.raises(DataError, match="not a k-NN model file"):
        loads_model(b"not a zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("knn-params.json", json.dumps({"format": "other"}))
        archive.writestr("knn-index.params", b"")
    with pytest.raises(DataError, match="unsupported k-NN model format"):
        loads_model(buffer.getvalue())


# --------------------------------------------------------------------------------------------
# HTTP and the real entry point


@pytest.fixture()
def server(model):
    instance = InferenceServer(model, ("127.0.0.1", 0))
    instance.start_background()
    yield instance
    instance.shutdown()
    instance.server_close()


def test_http_verbose_and_errors(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("POST", "/invocations", body=b"0.25,0,0",
                       headers={"Content-Type": "text/csv", "Accept": "application/json; verbose=true"})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Type") == "application/json"
    assert json.loads(response.read())["predictions"][0]["labels"] == [5.0, 5.0, 7.0]
    connection.request("POST", "/invocations", body=b"1,2", headers={"Content-Type": "text/csv"})
    response = connection.getresponse()
    assert response.status == 400 and b"unable to evaluate payload provided" in response.read()
    connection.close()


def test_serve_entrypoint_subprocess(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model_algo-1").write_bytes(dumps_model(fitted()))
    with serving(tmp_path, "knn") as served:
        connection = served.connection
        for name, body in request_bodies().items():
            for accept in ("application/json", "application/jsonlines", "application/x-recordio-protobuf"):
                connection.request("POST", "/invocations", body=body,
                                   headers={"Content-Type": content_type_of(name), "Accept": accept})
                response = connection.getresponse()
                payload = response.read()
                assert response.status == 200, payload
                assert response.getheader("Content-Type") == accept
    output = served.output
    assert served.returncode == 0, output
    assert "Loaded k-NN classifier model: k=3, 4 samples of 3 features" in output


def test_serve_without_a_model_exits_non_zero(tmp_path):
    result = run_entrypoint("serve", tmp_path, "knn", timeout=30,
                            extra_env={"SAGEMAKER_BIND_TO_PORT": str(free_port())})
    assert result.returncode == 1 and "No k-NN model (model_algo-1) was found" in result.stdout
