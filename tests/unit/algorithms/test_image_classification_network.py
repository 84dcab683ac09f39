"""ResNets (shapes, torchvision parameter names), the artifact files, and ImageNet weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sagemaker_algorithms.common import ndarray  # noqa: E402
from sagemaker_algorithms.common.errors import ClientError  # noqa: E402
from sagemaker_algorithms.image_classification import artifact, pretrained  # noqa: E402
from sagemaker_algorithms.image_classification.network import Normalizer, build_network  # noqa: E402

# torchvision's published parameter counts (1000 classes)
TORCHVISION_PARAMETERS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_imagenet_nets_match_torchvision_sizes(depth):
    assert parameter_count(build_network(depth, 1000)) == TORCHVISION_PARAMETERS[depth]


@pytest.mark.parametrize("depth, blocks", [(20, 3), (32, 5), (44, 7), (56, 9), (110, 18)])
def test_cifar_nets_are_6n_plus_2(depth, blocks):
    model = build_network(depth, 10)
    assert [len(model.layer1), len(model.layer2), len(model.layer3)] == [blocks] * 3
    convs = sum(1 for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3))
    assert convs + 1 == depth  # 3x3 convolutions plus the classifier
    assert not hasattr(model, "layer4") and model.fc.in_features == 64


@pytest.mark.parametrize("depth, size", [(18, 32), (34, 32), (50, 64), (101, 32), (152, 32), (200, 32), (20, 16),
                                         (32, 16), (44, 16), (56, 16), (110, 16)])
def test_output_shapes(depth, size):
    model = build_network(depth, 7).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, size, size).contiguous(memory_format=torch.channels_last))
    assert out.shape == (2, 7)


def test_single_channel_input():
    model = build_network(20, 4, in_channels=1).eval()
    assert model.conv1.in_channels == 1
    with torch.no_grad():
        assert model(torch.randn(1, 1, 12, 12)).shape == (1, 4)


def test_torchvision_parameter_names():
    keys = set(build_network(50, 10).state_dict())
    for key in ("conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                "layer1.0.conv3.weight", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.running_var",
                "layer4.2.bn3.weight", "fc.weight", "fc.bias"):
        assert key in keys
    assert "layer1.0.conv3.weight" not in build_network(18, 10).state_dict()
    assert "layer1.0.downsample.0.weight" not in build_network(18, 10).state_dict()


def test_normalizer_gives_channels_last_float():
    pixels = torch.full((2, 5, 6, 3), 124, dtype=torch.uint8)
    x = Normalizer(3, torch.device("cpu"))(pixels)
    assert x.shape == (2, 3, 5, 6) and x.dtype == torch.float32
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert abs(float(x[0, 1, 0, 0]) - (124 - 0.456 * 255) / (0.224 * 255)) < 1e-5


# --------------------------------------------------------------------------------------------
# Artifact


def test_mxnet_names():
    names = artifact.mxnet_names(build_network(18, 3))
    assert names["conv1.weight"] == "arg:conv1_weight"
    assert names["bn1.weight"] == "arg:bn1_gamma" and names["bn1.bias"] == "arg:bn1_beta"
    assert names["bn1.running_mean"] == "aux:bn1_moving_mean" and names["bn1.running_var"] == "aux:bn1_moving_var"
    assert names["layer2.0.downsample.1.running_var"] == "aux:layer2_0_downsample_1_moving_var"
    assert names["fc.bias"] == "arg:fc_bias"
    assert not any(key.endswith("num_batches_tracked") for key in names)


def test_params_round_trip(tmp_path):
    torch.manual_seed(1)
    model = build_network(20, 3)
    model.bn1.running_mean.fill_(0.5)
    artifact.save_params(tmp_path / "m-0001.params", model)
    arrays, names = ndarray.load(tmp_path / "m-0001.params")
    assert all(name.startswith(("arg:", "aux:")) for name in names)
    assert all(array.dtype == np.float32 for array in arrays)
    other = build_network(20, 3)
    artifact.load_params(tmp_path / "m-0001.params", other)
    for key, value in model.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, other.state_dict()[key]), key
    with pytest.raises(ClientError, match="'arg:fc_weight' has shape \\(3, 64\\) but the network expects \\(4, 64\\)"):
        artifact.load_params(tmp_path / "m-0001.params", build_network(20, 4))
    with pytest.raises(ClientError, match="has no 'arg:layer1_3_conv1_weight'"):
        artifact.load_params(tmp_path / "m-0001.params", build_network(32, 3))


@pytest.mark.parametrize("depth, multi_label", [(18, False), (50, True), (20, False)])
def test_symbol_graph_names_every_parameter(depth, multi_label):
    model = build_network(depth, 5)
    info = artifact.ModelInfo(depth, 5, (3, 32, 32), multi_label, best_epoch=3)
    document = json.loads(artifact.symbol_json(model, info))
    nodes = document["nodes"]
    variables = {nodes[i]["name"] for i in document["arg_nodes"]}
    expected = {name.split(":", 1)[1] for name in artifact.mxnet_names(model).values()}
    label = "sigmoid_label" if multi_label else "softmax_label"
    assert variables == expected | {"data", label}
    assert len(document["node_row_ptr"]) == len(nodes) + 1
    head = nodes[document["heads"][0][0]]
    assert head["op"] == ("LogisticRegressionOutput" if multi_label else "SoftmaxOutput")
    for node in nodes:
        for source, _, _ in node["inputs"]:
            assert source < nodes.index(node)
    ops = {node["op"] for node in nodes}
    assert {"Convolution", "BatchNorm", "Activation", "elemwise_add", "FullyConnected", "Flatten"} <= ops
    assert nodes[0]["attrs"]["__shape__"] == "(1, 3, 32, 32)"


def test_model_info_round_trip(tmp_path):
    model = build_network(20, 4)
    info = artifact.ModelInfo(20, 4, (3, 16, 16), True, best_epoch=2)
    (tmp_path / artifact.SYMBOL_FILE).write_text(artifact.symbol_json(model, info))
    assert artifact.read_info(tmp_path) == info
    for epoch in (1, 2, 5):
        artifact.save_params(tmp_path / artifact.params_file_name(epoch), model)
    assert artifact.choose_params(tmp_path, info).name == "image-classification-0002.params"
    assert artifact.choose_params(tmp_path, artifact.ModelInfo(20, 4, (3, 16, 16), True)).name.endswith("0005.params")
    artifact.write_shapes(tmp_path, 32, (3, 16, 16))
    assert json.loads((tmp_path / "model-shapes.json").read_text()) == [{"name": "data", "shape": [32, 3, 16, 16]}]


def test_foreign_symbol_is_refused(tmp_path):
    (tmp_path / artifact.SYMBOL_FILE).write_text(json.dumps({"nodes": [{"op": "null", "name": "data", "inputs": []}]}))
    with pytest.raises(ClientError, match="models trained on AWS \\(MXNet ResNets\\) cannot be loaded"):
        artifact.read_info(tmp_path)
    with pytest.raises(ClientError, match="No image-classification-symbol.json"):
        artifact.read_info(tmp_path / "missing")


# --------------------------------------------------------------------------------------------
# Pretrained weights


def test_pretrained_weights_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(5)
    imagenet = build_network(18, 1000)
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(imagenet.state_dict(), tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth")
    model = build_network(18, 4)
    fc_before = model.fc.weight.clone()
    path = pretrained.load_pretrained(model, 18)
    assert path.name == "resnet18-f37072fd.pth"
    assert torch.equal(model.layer3[1].conv2.weight, imagenet.layer3[1].conv2.weight)
    assert torch.equal(model.bn1.running_var, imagenet.bn1.running_var)
    assert torch.equal(model.fc.weight, fc_before) and model.fc.out_features == 4


def test_pretrained_weights_any_cached_name(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(build_network(50, 1000).state_dict(), tmp_path / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth")
    assert pretrained.load_pretrained(build_network(50, 3), 50).name == "resnet50-11ad3fa6.pth"
    torch.save(build_network(18, 1000).state_dict(), tmp_path / "hub" / "checkpoints" / "resnet34-b627a593.pth")
    with pytest.raises(ClientError, match="do not fit ResNet-34"):
        pretrained.load_pretrained(build_network(34, 3), 34)


def test_missing_pretrained_weights_say_so(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv(pretrained.BASE_URL_ENV, "http://127.0.0.1:9/models")
    with pytest.raises(ClientError) as caught:
        pretrained.load_pretrained(build_network(18, 3), 18)
    checkpoints = tmp_path / "hub" / "checkpoints"
    assert caught.value.failure_text.startswith(
        f"ClientError: use_pretrained_model=1 needs the ImageNet weights for ResNet-18 (resnet18-f37072fd.pth), which "
        f"are not in the torch weights cache ({checkpoints}) and could not be downloaded from "
        "http://127.0.0.1:9/models/resnet18-f37072fd.pth (")
    assert caught.value.failure_text.endswith(
        "Copy resnet18-f37072fd.pth into that directory (or point TORCH_HOME at a cache that has it), or set "
        "use_pretrained_model=0 (caused by FileNotFoundError)")
    monkeypatch.setenv(pretrained.BASE_URL_ENV, "")
    with pytest.raises(ClientError, match="downloading is disabled"):
        pretrained.load_pretrained(build_network(18, 3), 18)
    with pytest.raises(ClientError, match="torchvision publishes none to download"):
        pretrained.load_pretrained(build_network(200, 3), 200)
