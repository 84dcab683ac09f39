"""Linear learner ``serve``: response shapes per predictor type, every request and response format, bad
payloads, the ``model_algo-1`` artifact, and the real entry point."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from sagemaker_algorithms.common import ndarray
from sagemaker_algorithms.common.contract import ContainerPaths
from sagemaker_algorithms.common.errors import ClientError, DataError
from sagemaker_algorithms.common.inference import invoke
from sagemaker_algorithms.common.protobuf_records import encode_dense_records, parse_record
from sagemaker_algorithms.common.recordio import iter_payloads
from sagemaker_algorithms.linear_learner.artifact import read_model, symbol_json, write_model
from sagemaker_algorithms.linear_learner.model import LinearModel, load_model

from .helpers import sdk_record_round_trip, serving

ROWS = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 0.0]], np.float32)


def sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


@pytest.fixture()
def binary() -> LinearModel:
    return LinearModel(np.array([[1.0, -1.0, 0.5]]), np.array([-0.25]), "binary_classifier", "logistic", 0.5)


@pytest.fixture()
def multiclass() -> LinearModel:
    return LinearModel(np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]), np.zeros(3), "multiclass_classifier",
                       "softmax_loss")


@pytest.fixture()
def regressor() -> LinearModel:
    return LinearModel(np.array([[2.0, 1.0, -1.0]]), np.array([10.0]), "regressor", "squared_loss")


def request_bodies() -> dict[str, bytes]:
    return {
        "text/csv": b"2,0,1\n0,3,1\n1,1,0\n",
        "text/csv; label_size=1": b"9,2,0,1\n9,0,3,1\n9,1,1,0",
        "application/json": json.dumps({"instances": [{"features": [2, 0, 1]},
                                                      {"data": {"features": {"values": [0, 3, 1]}}},
                                                      {"data": {"features": {"keys": [0, 1], "shape": [3],
                                                                             "values": [1, 1]}}}]}).encode(),
        "application/jsonlines": b'{"features": [2, 0, 1]}\n{"features": [0, 3, 1]}\n{"features": [1, 1, 0]}',
        "application/x-recordio-protobuf": encode_dense_records(ROWS.astype(np.float64)),
    }


def binary_expected():
    raw = ROWS.astype(np.float64) @ np.array([1.0, -1.0, 0.5]) - 0.25
    scores = sigmoid(raw).astype(np.float32).tolist()
    return [{"score": s, "predicted_label": int(s >= 0.5)} for s in scores]


@pytest.mark.parametrize("content_type", list(request_bodies()))
def test_binary_predictions_for_every_request_format(binary, content_type):
    status, kind, body = invoke(binary, request_bodies()[content_type], content_type, None)
    assert (status, kind) == (200, "application/json")
    assert json.loads(body) == {"predictions": binary_expected()}
    assert b'"predicted_label": 1' in body and b'"predicted_label": 1.0' not in body  # integer labels


def test_multiclass_and_regressor_shapes(multiclass, regressor):
    body = request_bodies()["text/csv"]
    status, _, payload = invoke(multiclass, body, "text/csv", "application/json")
    predictions = json.loads(payload)["predictions"]
    assert status == 200 and [p["predicted_label"] for p in predictions] == [0, 1, 0]
    expected = np.exp(ROWS) / np.exp(ROWS).sum(axis=1, keepdims=True)
    np.testing.assert_allclose([p["score"] for p in predictions], expected, rtol=1e-6)
    status, _, payload = invoke(regressor, body, "text/csv", "application/json")
    assert status == 200 and json.loads(payload) == {"predictions": [{"score": 13.0}, {"score": 12.0}, {"score": 13.0}]}


def test_jsonlines_and_recordio_responses(binary, multiclass):
    body = request_bodies()["text/csv"]
    status, kind, payload = invoke(binary, body, "text/csv", "application/jsonlines")
    assert (status, kind) == (200, "application/jsonlines")
    assert [json.loads(line) for line in payload.decode().split("\n")] == binary_expected()
    status, kind, payload = invoke(binary, body, "text/csv", "application/x-recordio-protobuf")
    assert (status, kind) == (200, "application/x-recordio-protobuf")
    records = [parse_record(p)["label"] for p in iter_payloads(payload)]
    assert [(r["score"].values.dtype, r["predicted_label"].values.dtype) for r in records] == [
        (np.float32, np.float32)] * 3
    assert [r["predicted_label"].values.tolist() for r in records] == [[1.0], [0.0], [0.0]]
    status, _, payload = invoke(multiclass, body, "text/csv", "application/x-recordio-protobuf")
    first = parse_record(next(iter_payloads(payload)))["label"]
    assert len(first["score"].values) == 3 and first["predicted_label"].values.tolist() == [0.0]


def test_sdk_linear_learner_predictor_round_trip(binary):
    records = sdk_record_round_trip(binary, ROWS.astype(np.float64))
    assert len(records) == 3
    assert [r.label["predicted_label"].float32_tensor.values[0] for r in records] == [1.0, 0.0, 0.0]
    assert records[0].label["score"].float32_tensor.values[0] == pytest.approx(binary_expected()[0]["score"])


@pytest.mark.parametrize("body, content_type, accept, status, message", [
    (b"1,2\n3,4", "text/csv", None, 400, "records have 2 features but the model expects 3"),
    (b'{"instances": [{"features": [1, 2]}]}', "application/json", None, 400, "has 2 features"),
    (encode_dense_records(np.ones((2, 4), np.float32)), "application/x-recordio-protobuf", None, 400,
     "cannot copy sequence with size 4 to array axis with dimension 3"),
    (b"hello", "application/json", None, 400, "not valid JSON"),
    (b"nan,1,2", "text/csv", None, 400, "NaN"),
    (b"a,b,c", "text/csv", None, 400, "unable to evaluate payload provided"),
    (b"", "text/csv", None, 400, "empty"),
    (b"1,2,3", "image/png", None, 415, "not supported"),
    (b"1,2,3", "text/csv", "text/csv", 406, "text/csv"),
])
def test_bad_requests(binary, body, content_type, accept, status, message):
    code, kind, text = invoke(binary, body, content_type, accept)
    assert code == status and kind.startswith("text/plain")
    assert message in text.decode()


# --------------------------------------------------------------------------------------------
# the artifact


@pytest.mark.parametrize("name", ["binary", "multiclass", "regressor"])
def test_artifact_round_trip(name, request):
    model = request.getfixturevalue(name)
    data = write_model(model, extra={"objective": "x"})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["additional-params.json", "manifest.json", "mx-mod-0000.params",
                                              "mx-mod-symbol.json"]
        arrays, names = ndarray.loads(archive.read("mx-mod-0000.params"))
        symbol = json.loads(archive.read("mx-mod-symbol.json"))
        additional = json.loads(archive.read("additional-params.json"))
        manifest = json.loads(archive.read("manifest.json"))
    assert names == ["arg:fc0_weight", "arg:fc0_bias"]
    assert arrays[0].dtype == np.float32 and arrays[0].shape == model.coef.shape
    assert arrays[1].shape == (model.num_outputs,)
    assert symbol == symbol_json(model.num_outputs)
    assert [node["name"] for node in symbol["nodes"]] == ["data", "fc0_weight", "fc0_bias", "fc0"]
    assert additional["predictor_type"] == model.predictor_type and additional["objective"] == "x"
    assert manifest["prefix"] == "mx-mod" and manifest["epoch"] == 0
    loaded = read_model(data)
    assert (loaded.predictor_type, loaded.loss, loaded.threshold) == (model.predictor_type, model.loss,
                                                                      model.threshold)
    for key, value in model.predict(ROWS).items():
        np.testing.assert_array_equal(loaded.predict(ROWS)[key], value)


def test_unreadable_artifacts(tmp_path, binary):
    with pytest.raises(DataError, match="not a zip archive"):
        read_model(b"not a zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mx-mod-0000.params", ndarray.dumps({"arg:other": np.zeros(3, np.float32)}))
        archive.writestr("additional-params.json", "{}")
    with pytest.raises(DataError, match="must hold 'fc0_weight' and 'fc0_bias'"):
        read_model(buffer.getvalue())
    paths = ContainerPaths(tmp_path)
    paths.model_dir.mkdir(parents=True)
    with pytest.raises(ClientError, match="No linear learner model"):
        load_model(paths)
    (paths.model_dir / "model_algo-1").write_bytes(b"junk")
    with pytest.raises(ClientError, match="Unable to load the linear learner model"):
        load_model(paths)
    (paths.model_dir / "model_algo-1").write_bytes(write_model(binary))
    assert load_model(paths).feature_dim == 3


# --------------------------------------------------------------------------------------------
# the real entry point


def test_serve_entrypoint_subprocess(tmp_path, multiclass):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model_algo-1").write_bytes(write_model(multiclass))
    with serving(tmp_path, "linear-learner") as served:
        connection = served.connection
        for content_type, body in request_bodies().items():
            for accept in ("application/json", "application/jsonlines", "application/x-recordio-protobuf"):
                connection.request("POST", "/invocations", body=body,
                                   headers={"Content-Type": content_type, "Accept": accept})
                response = connection.getresponse()
                payload = response.read()
                assert response.status == 200, payload
                assert response.getheader("Content-Type") == accept
        connection.request("POST", "/invocations", body=b"1,2", headers={"Content-Type": "text/csv"})
        response = connection.getresponse()
        assert response.status == 400 and b"expects 3" in response.read()
    output = served.output
    assert served.returncode == 0, output
    assert "Loaded linear learner model (multiclass_classifier, 3 output(s), 3 features)" in output
