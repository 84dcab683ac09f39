"""Image classification ``serve``: content types, Accept, bad payloads, the HTTP server, the entry point."""

from __future__ import annotations

import http.client
import json
import tarfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sagemaker_algorithms.common.serving import InferenceServer  # noqa: E402
from sagemaker_algorithms.image_classification import artifact  # noqa: E402
from sagemaker_algorithms.image_classification.images import encode_image  # noqa: E402
from sagemaker_algorithms.image_classification.model import ImageClassifier, load_classifier  # noqa: E402
from sagemaker_algorithms.image_classification.network import build_network  # noqa: E402

from .helpers import serving  # noqa: E402
from .test_image_classification_records import tiny_images  # noqa: E402

NUM_CLASSES = 4


def write_model(directory, multi_label: bool = False, epochs=(1,), best: int | None = 1):
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = build_network(20, NUM_CLASSES)
    info = artifact.ModelInfo(20, NUM_CLASSES, (3, 16, 16), multi_label, best)
    (directory / artifact.SYMBOL_FILE).write_text(artifact.symbol_json(model, info))
    artifact.write_shapes(directory, 8, (3, 16, 16))
    for epoch in epochs:
        artifact.save_params(directory / artifact.params_file_name(epoch), model)
    return model


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> ImageClassifier:
    directory = tmp_path_factory.mktemp("model")
    write_model(directory)
    return load_classifier(directory)


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (30, 20)) -> bytes:
    rng = np.random.default_rng(0)
    return encode_image(rng.integers(0, 255, (size[1], size[0], 3)).astype(np.uint8), fmt)


@pytest.mark.parametrize("content_type, fmt", [("application/x-image", "JPEG"), ("image/jpeg", "JPEG"),
                                               ("image/png", "PNG"), ("application/octet-stream", "PNG"),
                                               ("Image/JPEG; charset=binary", "JPEG")])
def test_every_request_type(classifier, content_type, fmt):
    status, kind, body = classifier.handle_invocation(image_bytes(fmt), content_type, None)
    assert (status, kind) == (200, "application/json")
    probabilities = json.loads(body)
    assert isinstance(probabilities, list) and len(probabilities) == NUM_CLASSES
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("accept", [None, "", "*/*", "application/json", "application/*"])
def test_bare_json_array_by_default(classifier, accept):
    status, kind, body = classifier.handle_invocation(image_bytes(), "application/x-image", accept)
    assert (status, kind) == (200, "application/json") and body.startswith(b"[")


def test_jsonlines(classifier):
    status, kind, body = classifier.handle_invocation(image_bytes(), "image/jpeg", "application/jsonlines")
    assert (status, kind) == (200, "application/jsonlines")
    assert body.endswith(b"\n") and body.count(b"\n") == 1
    record = json.loads(body)
    assert list(record) == ["prediction"] and len(record["prediction"]) == NUM_CLASSES
    plain = json.loads(classifier.handle_invocation(image_bytes(), "image/jpeg", "application/json")[2])
    assert record["prediction"] == pytest.approx(plain)


def test_predictions_match_the_network(tmp_path):
    model = write_model(tmp_path).eval()
    loaded = load_classifier(tmp_path)
    pixels = tiny_images([0], size=16)[0]
    body = json.loads(loaded.handle_invocation(encode_image(pixels, "PNG"), "image/png", None)[2])
    x = torch.from_numpy(pixels).float().permute(2, 0, 1)[None]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255
    with torch.no_grad():
        expected = torch.softmax(model((x - mean) / std), 1)[0].tolist()
    assert body == pytest.approx(expected, abs=1e-5)


def test_multi_label_uses_sigmoid(tmp_path):
    write_model(tmp_path, multi_label=True)
    probabilities = json.loads(load_classifier(tmp_path).handle_invocation(image_bytes(), "image/jpeg", None)[2])
    assert len(probabilities) == NUM_CLASSES and all(0 < p < 1 for p in probabilities)
    assert sum(probabilities) != pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("body, content_type, accept, status, message", [
    (b"definitely not an image", "application/x-image", None, 400,
     "unable to evaluate payload provided: the data is not an image that can be decoded"),
    (b"", "image/jpeg", None, 400, "unable to evaluate payload provided: the request body is empty"),
    (b"1,2,3", "text/csv", None, 415, "Content type 'text/csv' is not supported"),
    (b"x", None, None, 415, "Content type none is not supported"),
    (b"x", "image/jpeg", "text/csv", 406, "Accept type 'text/csv' is not supported"),
])
def test_bad_requests(classifier, body, content_type, accept, status, message):
    code, kind, payload = classifier.handle_invocation(body, content_type, accept)
    assert (code, kind) == (status, "text/plain; charset=utf-8")
    assert payload.decode().startswith(message)


def test_best_epoch_and_archives(tmp_path):
    write_model(tmp_path / "several", epochs=(1, 2, 3), best=2)
    classifier = load_classifier(tmp_path / "several")
    assert classifier.info.best_epoch == 2
    packed = tmp_path / "packed"
    packed.mkdir()
    with tarfile.open(packed / "model.tar.gz", "w:gz") as tar:
        for path in (tmp_path / "several").iterdir():
            tar.add(path, arcname=path.name)
    assert load_classifier(packed).num_classes == NUM_CLASSES


def test_http_server(classifier):
    server = InferenceServer(classifier, ("127.0.0.1", 0))
    server.start_background()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", "/ping")
        response = connection.getresponse()
        assert response.status == 200 and response.read() == b""
        connection.request("POST", "/invocations", body=image_bytes(), headers={"Content-Type": "image/jpeg",
                                                                                 "Accept": "application/jsonlines"})
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type") == "application/jsonlines"
        assert len(json.loads(response.read())["prediction"]) == NUM_CLASSES
        connection.request("POST", "/invocations", body=b"garbage", headers={"Content-Type": "application/x-image"})
        response = connection.getresponse()
        assert response.status == 400 and b"unable to evaluate payload provided" in response.read()
    finally:
        server.shutdown()
        server.server_close()


def test_serve_entry_point(tmp_path):
    write_model(tmp_path / "model")
    with serving(tmp_path, "image-classification", start_timeout=120, stop_timeout=30) as served:
        connection = served.connection
        connection.request("POST", "/invocations", body=image_bytes("PNG"), headers={"Content-Type": "image/png"})
        response = connection.getresponse()
        assert response.status == 200 and len(json.loads(response.read())) == NUM_CLASSES
    output = served.output
    assert served.returncode == 0, output
    assert "Loaded image-classification-0001.params: ResNet-20, image_shape 3,16,16, 4 classes" in output
