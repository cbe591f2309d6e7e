"""Rewrite MediaPipe's BlazeFace short-range TFLite file as an ONNX graph.

    python -m drivers.mask.detector_export [OUT.onnx]      (needs ``onnx``: pip install .[train])

Why: the TFLite graph has a fixed 128x128 input. The same weights in an ONNX
graph with a free input size run on a 128x96 input for a 4:3 camera frame
instead of a letterboxed 128x128 square: the quarter of the work spent on
black padding goes away (see ``face_detector.input_size``).

The weights are read from the TFLite file through ``cv2.dnn`` (no TensorFlow);
the layer structure is BlazeFace's (backbone of 16 BlazeBlocks, heads on the
16x16 and 8x8 feature maps) with the padding TFLite's SAME rule gives. The
export fails unless the ONNX graph reproduces the TFLite outputs on test inputs
(in practice bit for bit).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

MODELS = Path(__file__).parent / "models"
TFLITE_PATH = MODELS / "face_detection_short_range.tflite"
ONNX_PATH = MODELS / "face_detection_short_range.onnx"
OUTPUTS = ("classificators", "regressors")
CHANNELS = (24, 24, 28, 32, 36, 42, 48, 56, 64, 72, 80, 88, 96, 96, 96, 96, 96)  # in/out of the 16 blocks
STRIDE_2_BLOCKS = (2, 5, 11)
FEATURE_8_BLOCK = 10  # the 16x16 head (stride 8) reads this block's output
MAX_DIFFERENCE = 1e-4


class GraphBuilder:
    """Collects ONNX nodes and weights; every tensor gets a unique name."""

    def __init__(self, weights: dict[str, list[np.ndarray]]) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.weights = weights
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def constant(self, prefix: str, value: np.ndarray) -> str:
        name = self.name(prefix)
        self.initializers.append(self.numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], prefix: str, **attributes) -> str:
        out = self.name(prefix)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], **attributes))
        return out

    def conv(self, x: str, layer: str, pads: list[int], stride: int = 1, group: int = 1) -> str:
        kernel, bias = self.weights[layer]
        return self.op("Conv", [x, self.constant(layer + "_w", kernel.astype(np.float32)),
                                self.constant(layer + "_b", bias.reshape(-1).astype(np.float32))],
                       layer, kernel_shape=list(kernel.shape[2:]), strides=[stride, stride], pads=pads, group=group)

    def blaze_block(self, x: str, index: int, c_in: int, c_out: int, stride: int) -> str:
        """relu(pointwise(depthwise(x)) + skip); a stride-2 block max-pools the
        skip, a widening block pads the skip's channels with zeros."""
        depthwise = "depthwise_conv2d" + (f"_{index}" if index else "")
        if stride == 1:
            h, skip = self.conv(x, depthwise, [1, 1, 1, 1], 1, group=c_in), x
        else:  # TFLite SAME with stride 2 on an even size pads only bottom and right
            h = self.conv(x, depthwise, [0, 0, 1, 1], 2, group=c_in)
            skip = self.op("MaxPool", [x], "pool", kernel_shape=[2, 2], strides=[2, 2])
        h = self.conv(h, f"conv2d_{index + 1}", [0, 0, 0, 0])
        if c_out > c_in:
            pads = self.constant("channel_pads", np.array([0, 0, 0, 0, 0, c_out - c_in, 0, 0], np.int64))
            skip = self.op("Pad", [skip, pads], "channel_padding")
        return self.op("Relu", [self.op("Add", [h, skip], "add")], "relu")

    def head(self, feature: str, layer: str, values_per_anchor: int) -> str:
        """N x (anchors*k) x H x W -> N x (H*W*anchors) x k, row-major like the anchors."""
        h = self.op("Transpose", [self.conv(feature, layer, [0, 0, 0, 0])], "nhwc", perm=[0, 2, 3, 1])
        shape = self.constant("shape", np.array([1, -1, values_per_anchor], np.int64))
        return self.op("Reshape", [h, shape], "flat")


def build_model(tflite_path: Path = TFLITE_PATH):
    import onnx
    from onnx import TensorProto, helper

    net = cv2.dnn.readNetFromTFLite(str(tflite_path))
    weights = {name: [np.asarray(b) for b in net.getLayer(name).blobs] for name in net.getLayerNames()}
    g = GraphBuilder(weights)
    x = g.op("Relu", [g.conv("input", "conv2d", [1, 1, 2, 2], 2)], "relu")
    blocks = []
    for i in range(16):
        x = g.blaze_block(x, i, CHANNELS[i], CHANNELS[i + 1], 2 if i in STRIDE_2_BLOCKS else 1)
        blocks.append(x)
    feature_8 = blocks[FEATURE_8_BLOCK]
    g.nodes.append(helper.make_node("Concat", [g.head(feature_8, "classificator_8", 1),
                                               g.head(x, "classificator_16", 1)], ["classificators"], axis=1))
    g.nodes.append(helper.make_node("Concat", [g.head(feature_8, "regressor_8", 16),
                                               g.head(x, "regressor_16", 16)], ["regressors"], axis=1))
    graph = helper.make_graph(
        g.nodes, "blazeface_short_range",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("classificators", TensorProto.FLOAT, [1, "anchors", 1]),
         helper.make_tensor_value_info("regressors", TensorProto.FLOAT, [1, "anchors", 16])],
        g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="checkpoint drivers.mask.detector_export")
    onnx.checker.check_model(model)
    return model


def max_difference(tflite_path: Path, onnx_path: Path, inputs: list[np.ndarray]) -> float:
    """Largest absolute difference between the two files' outputs on 1x3x128x128 inputs."""
    reference, candidate = cv2.dnn.readNetFromTFLite(str(tflite_path)), cv2.dnn.readNetFromONNX(str(onnx_path))
    worst = 0.0
    for blob in inputs:
        reference.setInput(blob)
        candidate.setInput(blob)
        for a, b in zip(reference.forward(list(OUTPUTS)), candidate.forward(list(OUTPUTS))):
            worst = max(worst, float(np.abs(a.reshape(b.shape) - b).max()))
    return worst


def test_inputs(seed: int = 0) -> list[np.ndarray]:
    """Smooth random images and a drawn face-like pattern, scaled to [-1, 1]."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(3):
        small = rng.uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)
        out.append(np.ascontiguousarray(cv2.resize(small[0].transpose(1, 2, 0), (128, 128)).transpose(2, 0, 1)[None]))
    face = np.full((128, 128, 3), 200, np.uint8)
    cv2.ellipse(face, (64, 64), (30, 40), 0, 0, 360, (120, 160, 210), -1)
    for eye_x in (52, 76):
        cv2.circle(face, (eye_x, 55), 4, (40, 40, 40), -1)
    cv2.ellipse(face, (64, 84), (10, 4), 0, 0, 360, (60, 60, 150), -1)
    out.append(cv2.dnn.blobFromImage(face, 1 / 127.5, mean=(127.5, 127.5, 127.5), swapRB=True))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export BlazeFace short-range from TFLite to ONNX")
    parser.add_argument("out", nargs="?", type=Path, default=ONNX_PATH)
    args = parser.parse_args(argv)
    import onnx

    onnx.save(build_model(), str(args.out))
    diff = max_difference(TFLITE_PATH, args.out, test_inputs())
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes); max |ONNX - TFLite| = {diff:.3g}")
    if diff > MAX_DIFFERENCE:
        print(f"detector_export: outputs differ by more than {MAX_DIFFERENCE}: the structure does not match",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
