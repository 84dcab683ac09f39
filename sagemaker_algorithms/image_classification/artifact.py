"""The model artifact, laid out as SageMaker's image classification writes it (algorithms.md §5.5)::

    image-classification-symbol.json   the network as an MXNet symbol graph
    image-classification-NNNN.params   weights of (1-based) epoch NNNN, an MXNet NDArray file
    model-shapes.json                  [{"name": "data", "shape": [mini_batch_size, C, H, W]}]

``.params`` holds every tensor under MXNet Module checkpoint names: ``arg:<node>_weight`` /
``_bias`` for convolutions and the classifier, ``arg:<node>_gamma`` / ``_beta`` and
``aux:<node>_moving_mean`` / ``_moving_var`` for batch norms, where ``<node>`` is the torch module
path with dots replaced by underscores (``layer1.0.conv1.weight`` → ``arg:layer1_0_conv1_weight``).
The symbol graph uses the same node names (Convolution, BatchNorm, Activation, Pooling,
elemwise_add, Flatten, FullyConnected, then SoftmaxOutput, or LogisticRegressionOutput for
multi-label), so the pair describes the trained network completely.

What the graph cannot say directly is kept as hidden (double-underscore) attributes of its ``data``
node, which MXNet carries along untouched: ``__shape__``, ``__sagemaker_num_layers__``,
``__sagemaker_num_classes__``, ``__sagemaker_image_shape__``, ``__sagemaker_multi_label__`` and
``__sagemaker_best_epoch__`` (which ``.params`` serving loads when ``checkpoint_frequency`` left
several).
"""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..common import ndarray
from ..common.errors import ClientError, DataError

PREFIX = "image-classification"
SYMBOL_FILE = f"{PREFIX}-symbol.json"
SHAPES_FILE = "model-shapes.json"
PARAMS_PATTERN = re.compile(rf"^{re.escape(PREFIX)}-(\d{{4}})\.params$")
MXNET_VERSION = 10901

_BN_SUFFIXES = {"weight": ("arg", "gamma"), "bias": ("arg", "beta"),
                "running_mean": ("aux", "moving_mean"), "running_var": ("aux", "moving_var")}


def params_file_name(epoch: int) -> str:
    """``image-classification-NNNN.params`` for a 1-based epoch."""
    return f"{PREFIX}-{epoch:04d}.params"


@dataclass(frozen=True)
class ModelInfo:
    num_layers: int
    num_classes: int
    image_shape: tuple[int, int, int]
    multi_label: bool
    best_epoch: int | None = None

    @property
    def image_shape_text(self) -> str:
        return ",".join(str(v) for v in self.image_shape)


# --------------------------------------------------------------------------------------------
# Parameter names


def mxnet_names(model: nn.Module) -> dict[str, str]:
    """torch state-dict key → MXNet checkpoint name, for every tensor worth saving."""
    batch_norms = {name for name, module in model.named_modules()
                   if isinstance(module, nn.modules.batchnorm._BatchNorm)}
    names = {}
    for key in model.state_dict():
        module, _, leaf = key.rpartition(".")
        if leaf == "num_batches_tracked":
            continue
        node = module.replace(".", "_")
        if module in batch_norms:
            kind, suffix = _BN_SUFFIXES[leaf]
        else:
            kind, suffix = "arg", leaf
        names[key] = f"{kind}:{node}_{suffix}"
    return names


def save_params(path: Path, model: nn.Module) -> None:
    """The model's tensors as an MXNet NDArray file with ``arg:``/``aux:`` names (float32, CPU)."""
    state = model.state_dict()
    arrays = {name: state[key].detach().to("cpu", torch.float32).numpy() for key, name in mxnet_names(model).items()}
    ndarray.save(path, arrays)


def load_params(path: Path, model: nn.Module) -> None:
    """Load a ``.params`` file written by :func:`save_params` into ``model`` (shapes must match)."""
    try:
        arrays, names = ndarray.load(path)
    except DataError as error:
        raise ClientError(f"Unable to read {path.name}: {error}") from None
    stored = dict(zip(names, arrays))
    state = {}
    for key, name in mxnet_names(model).items():
        if name not in stored:
            raise ClientError(f"{path.name} has no '{name}'; it was not written by this image classification "
                              "implementation (or for a different network)")
        tensor = model.state_dict()[key]
        if tuple(stored[name].shape) != tuple(tensor.shape):
            raise ClientError(f"{path.name}: '{name}' has shape {tuple(stored[name].shape)} but the network "
                              f"expects {tuple(tensor.shape)}")
        state[key] = torch.from_numpy(np.ascontiguousarray(stored[name]))
    model.load_state_dict(state, strict=False)


# --------------------------------------------------------------------------------------------
# The symbol graph


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[dict] = []
        self.arg_nodes: list[int] = []
        self.row_ptr = [0]

    def _add(self, node: dict, outputs: int = 1) -> int:
        self.nodes.append(node)
        self.row_ptr.append(self.row_ptr[-1] + outputs)
        return len(self.nodes) - 1

    def variable(self, name: str, attrs: dict[str, str] | None = None) -> int:
        node = {"op": "null", "name": name, "inputs": []}
        if attrs:
            node["attrs"] = attrs
        index = self._add(node)
        self.arg_nodes.append(index)
        return index

    def op(self, op: str, name: str, attrs: dict[str, str], inputs: list[int], outputs: int = 1) -> int:
        return self._add({"op": op, "name": name, "attrs": attrs, "inputs": [[i, 0, 0] for i in inputs]}, outputs)

    def conv(self, x: int, name: str, conv: nn.Conv2d) -> int:
        inputs = [x, self.variable(f"{name}_weight")]
        if conv.bias is not None:
            inputs.append(self.variable(f"{name}_bias"))
        pair = lambda v: f"({v[0]}, {v[1]})"  # noqa: E731
        return self.op("Convolution", name, {
            "kernel": pair(conv.kernel_size), "stride": pair(conv.stride), "pad": pair(conv.padding),
            "num_filter": str(conv.out_channels), "no_bias": str(conv.bias is None)}, inputs)

    def batch_norm(self, x: int, name: str, bn: nn.BatchNorm2d) -> int:
        inputs = [x] + [self.variable(f"{name}_{s}") for s in ("gamma", "beta", "moving_mean", "moving_var")]
        return self.op("BatchNorm", name, {"eps": f"{bn.eps:g}", "momentum": f"{1 - (bn.momentum or 0.1):g}",
                                           "fix_gamma": "False"}, inputs, outputs=3)

    def relu(self, x: int, name: str) -> int:
        return self.op("Activation", name, {"act_type": "relu"}, [x])


def symbol_json(model: nn.Module, info: ModelInfo) -> str:
    """The network as MXNet symbol JSON (node names match :func:`mxnet_names`)."""
    graph = _Graph()
    channels, height, width = info.image_shape
    x = graph.variable("data", {
        "__shape__": f"(1, {channels}, {height}, {width})",
        "__sagemaker_num_layers__": str(info.num_layers),
        "__sagemaker_num_classes__": str(info.num_classes),
        "__sagemaker_image_shape__": info.image_shape_text,
        "__sagemaker_multi_label__": "1" if info.multi_label else "0",
        "__sagemaker_best_epoch__": "" if info.best_epoch is None else str(info.best_epoch),
    })
    x = graph.relu(graph.batch_norm(graph.conv(x, "conv1", model.conv1), "bn1", model.bn1), "relu0")
    if model.maxpool is not None:
        x = graph.op("Pooling", "maxpool", {"kernel": "(3, 3)", "stride": "(2, 2)", "pad": "(1, 1)",
                                            "pool_type": "max"}, [x])
    for stage in range(1, model.stage_count + 1):
        for index, block in enumerate(getattr(model, f"layer{stage}")):
            prefix = f"layer{stage}_{index}"
            shortcut = x
            if block.downsample is not None:
                shortcut = graph.conv(x, f"{prefix}_downsample_0", block.downsample[0])
                shortcut = graph.batch_norm(shortcut, f"{prefix}_downsample_1", block.downsample[1])
            convs = 3 if hasattr(block, "conv3") else 2
            out = x
            for position in range(1, convs + 1):
                out = graph.conv(out, f"{prefix}_conv{position}", getattr(block, f"conv{position}"))
                out = graph.batch_norm(out, f"{prefix}_bn{position}", getattr(block, f"bn{position}"))
                if position < convs:
                    out = graph.relu(out, f"{prefix}_relu{position}")
            x = graph.relu(graph.op("elemwise_add", f"{prefix}_plus", {}, [out, shortcut]), f"{prefix}_relu")
    x = graph.op("Pooling", "avgpool", {"kernel": "(1, 1)", "global_pool": "True", "pool_type": "avg"}, [x])
    x = graph.op("Flatten", "flatten0", {}, [x])
    x = graph.op("FullyConnected", "fc", {"num_hidden": str(info.num_classes), "no_bias": "False"},
                 [x, graph.variable("fc_weight"), graph.variable("fc_bias")])
    if info.multi_label:
        x = graph.op("LogisticRegressionOutput", "sigmoid", {}, [x, graph.variable("sigmoid_label")])
    else:
        x = graph.op("SoftmaxOutput", "softmax", {}, [x, graph.variable("softmax_label")])
    document = {"nodes": graph.nodes, "arg_nodes": graph.arg_nodes, "node_row_ptr": graph.row_ptr,
                "heads": [[x, 0, 0]], "attrs": {"mxnet_version": ["int", MXNET_VERSION]}}
    return json.dumps(document, indent=2)


def read_info(model_dir: Path) -> ModelInfo:
    """The hidden attributes of the symbol's ``data`` node; ClientError when absent or not ours."""
    path = model_dir / SYMBOL_FILE
    if not path.is_file():
        raise ClientError(f"No {SYMBOL_FILE} was found in the model ({_listing(model_dir)})")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        data = next(node for node in document["nodes"] if node.get("name") == "data")
        attrs = data.get("attrs") or data.get("attr") or {}
        shape = tuple(int(v) for v in attrs["__sagemaker_image_shape__"].split(","))
        best = attrs.get("__sagemaker_best_epoch__") or None
        return ModelInfo(int(attrs["__sagemaker_num_layers__"]), int(attrs["__sagemaker_num_classes__"]),
                         shape, attrs.get("__sagemaker_multi_label__") == "1", int(best) if best else None)
    except (ValueError, KeyError, StopIteration, TypeError) as error:
        raise ClientError(f"{SYMBOL_FILE} does not describe a network this image classification implementation "
                          f"wrote (missing {error}); models trained on AWS (MXNet ResNets) cannot be loaded") from None


def params_files(model_dir: Path) -> dict[int, Path]:
    """1-based epoch → ``.params`` file."""
    found = {}
    for path in model_dir.glob(f"{PREFIX}-*.params"):
        match = PARAMS_PATTERN.match(path.name)
        if match and path.is_file():
            found[int(match.group(1))] = path
    return found


def choose_params(model_dir: Path, info: ModelInfo) -> Path:
    """The best epoch's ``.params`` (recorded in the symbol), else the latest."""
    files = params_files(model_dir)
    if not files:
        raise ClientError(f"No {PREFIX}-NNNN.params file was found in the model ({_listing(model_dir)})")
    if info.best_epoch is not None and info.best_epoch in files:
        return files[info.best_epoch]
    return files[max(files)]


def write_shapes(model_dir: Path, batch_size: int, image_shape: tuple[int, int, int]) -> None:
    (model_dir / SHAPES_FILE).write_text(json.dumps([{"name": "data", "shape": [batch_size, *image_shape]}]),
                                         encoding="utf-8")


def unpack_model_archive(source: Path, destination: Path) -> Path:
    """Find the model in a ``model`` channel or model directory: extract ``*.tar.gz`` if that is what
    it holds. Returns the directory holding ``image-classification-symbol.json``."""
    if (source / SYMBOL_FILE).is_file():
        return source
    archives = sorted(p for p in source.rglob("*") if p.is_file() and p.name.endswith((".tar.gz", ".tgz")))
    for archive in archives:
        try:
            with tarfile.open(archive) as tar:
                members = [m for m in tar.getmembers() if m.isfile() and not Path(m.name).is_absolute()
                           and ".." not in Path(m.name).parts]
                tar.extractall(destination, members=members, filter="data") if hasattr(tarfile, "data_filter") \
                    else tar.extractall(destination, members=members)
        except (tarfile.TarError, OSError) as error:
            raise ClientError(f"Unable to extract the model archive {archive.name}: {error}") from None
        found = sorted(destination.rglob(SYMBOL_FILE))
        if found:
            return found[0].parent
    found = sorted(source.rglob(SYMBOL_FILE))
    if found:
        return found[0].parent
    raise ClientError(f"No {SYMBOL_FILE} (or model.tar.gz holding one) was found ({_listing(source)})")


def _listing(directory: Path) -> str:
    try:
        names = sorted(p.name for p in directory.iterdir())
    except OSError:
        return f"{directory} does not exist"
    return "files: " + (", ".join(names[:10]) if names else "none")
