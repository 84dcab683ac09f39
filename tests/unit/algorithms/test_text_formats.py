"""Content types, CSV, JSON and JSON Lines payloads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sagemaker_algorithms.common import content_types as ct
from sagemaker_algorithms.common.csv_format import format_csv, parse_csv
from sagemaker_algorithms.common.errors import DataError
from sagemaker_algorithms.common.json_format import (format_json, format_jsonlines, parse_json_request,
                                                     parse_jsonlines_request)


@pytest.mark.parametrize("value, essence, params", [
    ("text/csv", "text/csv", {}),
    ("TEXT/CSV;label_size=1", "text/csv", {"label_size": "1"}),
    ("text/csv ;  label_size = 0 ", "text/csv", {"label_size": "0"}),
    ("application/json; verbose=true", "application/json", {"verbose": "true"}),
    ('application/x-recordio; label-format="class-id"', "application/x-recordio", {"label-format": "class-id"}),
    ("application/x-jsonlines", "application/jsonlines", {}),
])
def test_parse_media_type(value, essence, params):
    media = ct.parse_media_type(value)
    assert media.essence == essence and media.params == params


def test_missing_media_type():
    assert ct.parse_media_type(None) is None and ct.parse_media_type("  ") is None


def test_label_size():
    assert ct.label_size(ct.parse_media_type("text/csv"), 1) == 1
    assert ct.label_size(ct.parse_media_type("text/csv; label_size=0"), 1) == 0
    assert ct.label_size(None, 0) == 0
    with pytest.raises(ValueError):
        ct.label_size(ct.parse_media_type("text/csv;label_size=-1"), 1)


def test_parse_accept_orders_by_quality_then_position():
    accepted = ct.parse_accept("application/json;q=0.5, application/jsonlines, text/csv;q=0.9")
    assert [m.essence for m in accepted] == ["application/jsonlines", "text/csv", "application/json"]
    assert [m.essence for m in ct.parse_accept("application/x-recordio-protobuf, application/json")] == [
        "application/x-recordio-protobuf", "application/json"]
    assert ct.parse_accept(None) == [] and ct.parse_accept("") == []


# --------------------------------------------------------------------------------------------
# CSV


def test_csv_with_label_column():
    features, labels = parse_csv(b"1,0.5,2\n0,1.5,3\n", label_size=1, feature_dim=2)
    assert features.tolist() == [[0.5, 2.0], [1.5, 3.0]] and labels.tolist() == [1.0, 0.0]
    assert features.dtype == np.float32 and features.flags.c_contiguous


def test_csv_without_labels_crlf_blank_lines_and_spaces():
    features, labels = parse_csv(b"1, 2,3\r\n\r\n4,5 ,6\r\n", label_size=0)
    assert features.tolist() == [[1, 2, 3], [4, 5, 6]] and labels is None


def test_csv_multi_column_labels_and_single_row():
    features, labels = parse_csv("9,8,1,2", label_size=2)
    assert features.tolist() == [[1, 2]] and labels.tolist() == [[9, 8]]


def test_csv_width_mismatch_mentions_expected_size():
    with pytest.raises(DataError, match=r"Rows 1-2 have different fields than the expected size 4"):
        parse_csv(b"1,2,3\n4,5,6\n", label_size=1, feature_dim=3)


@pytest.mark.parametrize("data", [b"1,2\n3\n", b"a,b\n1,2\n", b"1,,2\n", b"\xff\xfe1,2"])
def test_csv_garbage(data):
    with pytest.raises(DataError):
        parse_csv(data, label_size=0)


def test_csv_empty():
    features, labels = parse_csv(b"\n", label_size=0, feature_dim=3)
    assert features.shape == (0, 3) and labels is None


def test_format_csv():
    text = format_csv([np.array([1.0, 0.0], np.float32), np.array([0.5, 2.25], np.float32)])
    assert text == b"1.0,0.5\n0.0,2.25"


# --------------------------------------------------------------------------------------------
# JSON / JSON Lines


def test_json_instances_in_every_form():
    body = json.dumps({"instances": [
        {"features": [1, 2, 3]},
        {"data": {"features": {"values": [4, 5, 6]}}},
        {"data": {"features": {"keys": [0, 2], "shape": [3], "values": [7, 9]}}},
        {"features": [0, 0, 1], "configuration": {}, "label": 1},
    ]}).encode()
    assert parse_json_request(body, 3).tolist() == [[1, 2, 3], [4, 5, 6], [7, 0, 9], [0, 0, 1]]


def test_json_dense_fast_path_and_single_instance():
    body = json.dumps({"instances": [{"features": [1.5, 2]}, {"features": [3, 4]}]}).encode()
    assert parse_json_request(body, 2).dtype == np.float32
    assert parse_json_request(b'{"features": [1, 2]}', 2).tolist() == [[1, 2]]


@pytest.mark.parametrize("body, message", [
    (b"not json", "not valid JSON"),
    (b'{"instances": [{"features": [1, 2]}]}', "has 2 features but the model expects 3"),
    (b'{"instances": [{"features": ["a", 2, 3]}]}', "must be a list of numbers"),
    (b'{"instances": [{"foo": 1}]}', "has no 'features'"),
    (b'{"instances": [{"data": {"features": {"keys": [5], "shape": [3], "values": [1]}}}]}', "has shape|outside"),
    (b'{"instances": [{"data": {"features": {"keys": [5], "values": [1]}}}]}', "outside"),
    (b'{"instances": 3}', "must be a JSON array"),
    (b'"text"', "must be an object"),
])
def test_json_errors(body, message):
    with pytest.raises(DataError, match=message):
        parse_json_request(body, 3)


def test_jsonlines_request():
    body = b'{"features": [1, 2]}\n\n{"data": {"features": {"values": [3, 4]}}}\n'
    assert parse_jsonlines_request(body, 2).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(DataError, match="Line 2"):
        parse_jsonlines_request(b'{"features": [1, 2]}\n{oops', 2)


def test_json_responses_format_like_real_endpoints():
    outputs = {"closest_cluster": np.array([1.0, 0.0], np.float32),
               "distance_to_cluster": np.array([3.0, 0.2365], np.float32)}
    document = json.loads(format_json(outputs))
    assert document == {"predictions": [{"closest_cluster": 1.0, "distance_to_cluster": 3.0},
                                         {"closest_cluster": 0.0, "distance_to_cluster": float(np.float32(0.2365))}]}
    assert format_json(outputs).startswith(b'{"predictions": [{"closest_cluster": 1.0, "distance_to_cluster": 3.0}')
    lines = format_jsonlines(outputs).split(b"\n")
    assert [json.loads(line) for line in lines] == document["predictions"]
    vector = format_json({"score": np.array([[0.25, 0.75]], np.float32), "predicted_label": np.array([1])})
    assert json.loads(vector) == {"predictions": [{"score": [0.25, 0.75], "predicted_label": 1}]}
