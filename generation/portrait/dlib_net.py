"""dlib's face-recognition ResNet, run by onnxruntime: the same weights and the same
descriptors (within float rounding, about 1e-6) in about 3 ms instead of 60.

dlib-bin is built without BLAS, so its own convolutions take about 60 ms per face
here, holding the GIL. This module reads the network's weights from dlib's model
file (``dlib_face_recognition_resnet_model_v1.dat`` in face_recognition_models),
folds each of dlib's affine layers (its batch norms at inference) into the
convolution before it, and writes the network as an ONNX graph in memory (with
the onnx package's helpers) for onnxruntime, already a dependency (the content
check). The layout is dlib's own
(``dnn_face_recognition_ex.cpp``): a 7x7 convolution, a max pool, 14 residual
blocks (4 of them downsampling, their shortcut average-pooled and zero-padded
where channels or sizes differ, as dlib's ``add_prev`` adds), a global average
pool and a 128-d fully connected layer without bias. Every record the layout
needs is checked as it is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

CHIP_SIDE = 150
_LAYER = re.compile(
    rb"\x01.(con_4|affine_|max_pool_2|avg_pool_2|fc_2|input_rgb_image_sized)", re.DOTALL
)
_OPSET = 13
_IR_VERSION = 7


class _Reader:
    """dlib's serialisation: integers as a length byte (0x80 set: negative) then
    little-endian bytes; floats as integer mantissa and exponent; tensors as four
    dimensions then raw little-endian float32."""

    def __init__(self, data: bytes, at: int) -> None:
        self.data, self.at = data, at

    def int(self) -> int:
        head = self.data[self.at]
        size = head & 0x0F
        value = int.from_bytes(self.data[self.at + 1 : self.at + 1 + size], "little")
        self.at += 1 + size
        return -value if head & 0x80 else value

    def float(self) -> float:
        mantissa = self.int()
        return mantissa * 2.0 ** self.int()

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise ValueError("unknown dlib tensor version")
        shape = [self.int() for _ in range(4)]
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, "<f4", count, self.at)
        self.at += 4 * count
        return values.reshape(shape)


@dataclass(frozen=True)
class _Window:
    rows: int
    cols: int
    stride_y: int
    stride_x: int
    pad_y: int
    pad_x: int

    def out(self, side_y: int, side_x: int) -> tuple[int, int]:
        return (
            1 + (side_y + 2 * self.pad_y - self.rows) // self.stride_y,
            1 + (side_x + 2 * self.pad_x - self.cols) // self.stride_x,
        )


def _records(data: bytes) -> list[tuple]:
    """The layers' records in dlib's order (input first), each as (kind, ...)."""
    records: list[tuple] = []
    for match in _LAYER.finditer(data):
        name = match.group(1)
        if data[match.start() + 1] != len(name):
            continue
        read = _Reader(data, match.end())
        if name == b"con_4":
            params = read.tensor().ravel()
            filters = read.int()
            window = _Window(*(read.int() for _ in range(6)))
            records.append(("conv", params, filters, window))
        elif name == b"affine_":
            params = read.tensor().ravel()
            half = params.size // 2
            records.append(("affine", params[:half], params[half:]))
        elif name in (b"max_pool_2", b"avg_pool_2"):
            records.append((name.decode()[:3], _Window(*(read.int() for _ in range(6)))))
        elif name == b"fc_2":
            outputs, inputs = read.int(), read.int()
            records.append(("fc", read.tensor().reshape(inputs, outputs)))
        else:
            records.append(("input", np.array([read.float() for _ in range(3)], np.float32)))
    kinds = [r[0] for r in records]
    expected = {"input": 1, "conv": 29, "affine": 29, "max": 1, "avg": 5, "fc": 1}
    if {k: kinds.count(k) for k in expected} != expected or kinds[0] != "input":
        raise ValueError(f"not dlib's face recognition ResNet: {kinds}")
    return records


class _Graph:
    """Builds the ONNX graph node by node (with the onnx package's helpers), keeping
    each tensor's (C, H, W)."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def constant(self, array: np.ndarray) -> str:
        name = self.name("k")
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], **ints: list[int]) -> str:
        out = self.name(op)
        self.nodes.append(helper.make_node(op, inputs, [out], **ints))
        return out

    def conv(self, x: str, shape: tuple, conv: tuple, affine: tuple, relu: bool) -> tuple:
        _, params, filters, window = conv
        _, gamma, beta = affine
        weights = params[:-filters].reshape(filters, shape[0], window.rows, window.cols)
        bias = params[-filters:].astype(np.float64) * gamma + beta
        weights = weights.astype(np.float64) * gamma[:, None, None, None]
        y = self.node(
            "Conv",
            [x, self.constant(weights.astype(np.float32)), self.constant(bias.astype(np.float32))],
            kernel_shape=[window.rows, window.cols],
            strides=[window.stride_y, window.stride_x],
            pads=[window.pad_y, window.pad_x] * 2,
        )
        return (self.node("Relu", [y]) if relu else y), (filters, *window.out(*shape[1:]))

    def pool(self, op: str, x: str, shape: tuple, window: _Window) -> tuple:
        y = self.node(
            op,
            [x],
            kernel_shape=[window.rows, window.cols],
            strides=[window.stride_y, window.stride_x],
            pads=[window.pad_y, window.pad_x] * 2,
        )
        return y, (shape[0], *window.out(*shape[1:]))

    def pad(self, x: str, shape: tuple, to: tuple) -> str:
        """Zeros after the end of each of C, H, W: dlib adds tensors of other sizes so."""
        if shape == to:
            return x
        pads = np.array([0, 0, 0, 0, 0, *(t - s for t, s in zip(to, shape, strict=True))], np.int64)
        return self.node("Pad", [x, self.constant(pads)])

    def model(self, output: str) -> bytes:
        float32 = onnx.TensorProto.FLOAT
        graph = helper.make_graph(
            self.nodes,
            "dlib_face_recognition_resnet_model_v1",
            [helper.make_tensor_value_info("chip", float32, (1, 3, CHIP_SIDE, CHIP_SIDE))],
            [helper.make_tensor_value_info(output, float32, (1, 128))],
            initializer=self.weights,
        )
        model = helper.make_model(
            graph, ir_version=_IR_VERSION, opset_imports=[helper.make_opsetid("", _OPSET)]
        )
        return model.SerializeToString()


def onnx_model(data: bytes) -> tuple[bytes, np.ndarray]:
    """The ONNX model of the network in dlib's model file ``data``, and the mean
    RGB its input takes off each pixel (before dividing by 256, as dlib does)."""
    records = _records(data)
    graph = _Graph()
    x, shape = "chip", (3, CHIP_SIDE, CHIP_SIDE)
    x, shape = graph.conv(x, shape, records[1], records[2], relu=True)
    x, shape = graph.pool("MaxPool", x, shape, records[3][1])
    at = 4
    while records[at][0] == "conv":
        y, y_shape = graph.conv(x, shape, records[at], records[at + 1], relu=True)
        y, y_shape = graph.conv(y, y_shape, records[at + 2], records[at + 3], relu=False)
        at += 4
        if records[at][0] == "avg" and records[at][1].rows:  # a downsampling block
            x, shape = graph.pool("AveragePool", x, shape, records[at][1])
            at += 1
        to = tuple(max(a, b) for a, b in zip(y_shape, shape, strict=True))
        total = graph.node("Add", [graph.pad(y, y_shape, to), graph.pad(x, shape, to)])
        x, shape = graph.node("Relu", [total]), to
    if records[at][0] != "avg" or records[at + 1][0] != "fc" or at + 2 != len(records):
        raise ValueError("dlib's face recognition ResNet should end in a pool and fc")
    flat = graph.node("Flatten", [graph.node("GlobalAveragePool", [x])])
    out = graph.node("MatMul", [flat, graph.constant(np.array(records[at + 1][1], np.float32))])
    return graph.model(out), records[0][1]


class FaceNet:
    """The recogniser: a 150x150 RGB face chip (dlib's ``get_face_chip``) in, its
    128-d descriptor out. One onnxruntime thread (a 2-core machine, shared)."""

    def __init__(self, model_file: Path) -> None:
        import onnxruntime

        model, self._mean = onnx_model(model_file.read_bytes())
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def descriptor(self, chip: np.ndarray) -> np.ndarray:
        planes = ((chip.astype(np.float32) - self._mean) / 256.0).transpose(2, 0, 1)
        (out,) = self._session.run(None, {"chip": np.ascontiguousarray(planes[None])})
        return out[0].astype(np.float64)
