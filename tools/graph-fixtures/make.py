"""TF.js graph-model fixtures made with TensorFlow, for packages/tfjs (src/io/graph-fixtures.test.ts).

What it does
  Builds small seeded TensorFlow models (models.py), saves them as TensorFlow does (a TF2 SavedModel
  from a tf.Module, a TF1 SavedModel from a graph-mode session, or a TF1 frozen GraphDef), and
  converts them the way `tensorflowjs_converter --input_format tf_saved_model | tf_frozen_model`
  does (converter.py), into packages/tfjs/src/io/fixtures/graph/<name>/:

    mobilenet-v2          MobileNetV2-style classifier: image [-1,32,32,3] -> probs [-1,10]
    mobilenet-v2-uint8    the same SavedModel, --quantize_uint8 (every float32 weight)
    mobilenet-v2-float16  the same, --quantize_float16
    blazeface             BlazeFace-style detector: image [1,32,32,3] -> classificators [1,224,1],
                          regressors [1,224,16]; Pad, 5x5 depthwise, residual adds, channel pad,
                          PReLU, two heads; --use_structured_outputs_names, --metadata
    blazeface-float16     the same, --quantize_float16
    blazeface-mixed       the same, --quantize_uint8 '*pointwise*' --quantize_float16 (the rest)
    resnet-block          ResNet pieces: image [-1,24,24,3] -> logits [-1,5]; explicit padding,
                          batch norms that cannot fold, dilation, Squeeze, bias-free MatMul
    resnet-block-uint8    the same, --quantize_uint8
    while-loop            TF1 SavedModel: RNN by tf.while_loop over TensorArrays, then tf.cond:
                          sequence [-1,-1,4] -> states [-1,-1,6], final [-1,6]; v1 control flow
                          and TensorArrayV3 ops (executeAsync)
    while-loop-v2         the same RNN as a TF2 SavedModel, --control_flow_v2: While and
                          StatelessIf with library functions, TensorList ops (executeAsync)
    nms                   SSD-style head + tf.image.non_max_suppression + tf.where: image
                          [1,16,16,3] -> boxes [-1,4], scores [-1], indices [-1], count []
                          (executeAsync)
    dynamic-shapes        segmenter for any batch and size: image [-1,-1,-1,3] -> mask
                          [-1,-1,-1,3], features [-1,-1,24]; Shape/StridedSlice/FloorDiv/Pack
                          chains feeding resizes, a transposed conv and a Reshape
    no-format             small classifier whose model.json lacks the "format" field (otherwise
                          the converter's layout): image [-1,16,16,1] -> probs [-1,10]
    frozen-classifier     the small classifier frozen in TF1 (freeze_graph) and converted with
                          --input_format tf_frozen_model --output_node_names probs: a signature
                          with outputs only; -uint8: the same with --quantize_uint8

  Each directory holds model.json, group1-shard1of1.bin and sample.json:
    {"tensorflow_version", "numpy_version", "execute": "execute" | "executeAsync",
     "samples": [{"inputs":  {<input key>:  {"dtype", "shape", "values"}},
                  "outputs": {<signature output key>: {"dtype", "shape", "values"}},
                  "float_outputs": {...}}]}     (only in quantized fixtures)
  Input keys are the signature's (the placeholder name for frozen-classifier); values are flat,
  row-major, float32 values written as their shortest float32 repr. "outputs" are TensorFlow's
  own: the source model's outputs (SavedModel signature or frozen graph) for float32 fixtures; for
  quantized ones TensorFlow running the converted graph with the weights as TF.js decodes them
  (q * scale + min, float16 -> float32), "float_outputs" being the source model's. The script
  checks that TensorFlow running the converted graph with its float32 weights gives the source
  model's outputs (to 1e-5 of the output scale), and that no NMS score or IoU is near a threshold.

Conversion
  tensorflowjs cannot be installed here (it pins tf_keras, TF-DF, JAX and TF versions that are not
  among the local wheels), so converter.py reproduces its graph-model path, written from the
  converter sources at tensorflow/tfjs tag tfjs-v4.22.0 (tfjs-converter/python/tensorflowjs:
  converters/tf_saved_model_conversion_v2.py, fold_batch_norms.py, normalize_bias_add.py,
  fuse_prelu.py, fuse_depthwise_conv2d.py, graph_rewrite_util.py, common.py, write_weights.py,
  quantization.py). In short:
    * freeze: convert_variables_to_constants_v2(signature, lower_control_flow=not
      control_flow_v2, aggressive_inlining=True): variables become Const nodes, functions are
      inlined, While/If become Enter/Merge/Switch/NextIteration/Exit/LoopCond unless
      --control_flow_v2. Signature: the saved signature's keys, matched by dtype and shape.
    * grappler on a virtual GPU cluster: pruning, constfold, arithmetic, dependency (twice); the
      converter's batch-norm folding (BN after Conv2D / DepthwiseConv2dNative [+ bias] -> scaled
      weights <conv>_weights and a BiasAdd of <conv>_bn_offset) and Add-after-contraction ->
      BiasAdd; Conv2D and MatMul pinned to /device:CPU:0; grappler again (remap, constfold,
      arithmetic, dependency): _FusedConv2D / _FusedMatMul with fused_ops.
    * the converter's Python rewrites: Keras's PReLU pattern -> Prelu, DepthwiseConv2dNative
      [+ BiasAdd] [+ Relu|Relu6|Elu] -> FusedDepthwiseConv2dNative, a Prelu after a fused op
      with one fused op -> its second. Ops are checked against TF.js's op list (read from the
      installed @tensorflow/tfjs-converter package; the converter ships the same op_list/).
    * weights: every Const's value (graph, then library functions, whose Consts are renamed
      <function>/<const>) in node order, one group, 4 MiB shards; float64 -> float32, int64 ->
      int32; quantization of float32 weights only: affine uint8/uint16 over [min, max] with zero
      nudged onto the grid, or float16.
    * model.json = {format: "graph-model", generatedBy: <SavedModel's TF version; the converting
      TF's for a frozen graph>, convertedBy, signature, modelTopology: MessageToDict(GraphDef)
      (protobuf JSON: bytes base64, int64 as strings, Const tensors without their values),
      [userDefinedMetadata], weightsManifest}, json.dump defaults.
  Two departures, neither visible to a reader of the files: protobuf map fields (attr, signature
  inputs/outputs, function ret/argAttr) are written in sorted key order, where MessageToDict
  follows the runtime's map order, which changes from process to process; and convertedBy says
  that the layout was reproduced here.

oneDNN
  TensorFlow's oneDNN graph rewrites are on by default on x86-64 Linux and change what grappler's
  remapper makes. With them the fused ops carry `_input_shapes` attrs (kept here), an unfolded
  FusedBatchNormV3 + Relu becomes _FusedBatchNormEx, which TF.js lacks (the converter stops:
  "Unsupported Ops in the model after optimization"), and a loop's MatMul + BiasAdd + Tanh can
  become _FusedMatMul [BiasAdd, Tanh], which TF.js cannot run ("Unknown fused activation tanh").
  So resnet-block, while-loop and while-loop-v2 are converted as on a machine without oneDNN
  (macOS arm64, or TF_ENABLE_ONEDNN_OPTS=0), the others with TF's default. The script runs
  itself once per fixture (`--onednn on|off <name>`), since TF reads the switch at import.

TF2 loops without --control_flow_v2
  The converter's default lowers a TF2 tf.while_loop to v1 ops with control edges from Switch
  nodes (loop_body_control, input_control_node NoOps) and a LoopExecuted NoOp before the outputs;
  TF.js 4.22 cannot execute that ("Cannot compute the outputs ... LoopExecuted", as in
  tensorflow/tfjs#4350), so the TF2 loop fixture uses --control_flow_v2 and the v1 control-flow
  fixture comes from a TF1 graph, as TF1-era models (object detection exports) did.

Versions that made the committed fixtures
  Python 3.11, tensorflow-cpu 2.21.0, numpy 2.4.6, protobuf 7.36.2; TF.js op list from
  @tensorflow/tfjs-converter 4.22.0.

Rerun (no network needed; the wheels are local; node_modules must be installed, `npm ci`):
    python3.11 -m venv /work/scratch-venv
    /work/scratch-venv/bin/pip install --no-index --find-links /opt/pypi/files tensorflow_cpu==2.21.0
    nice -n 19 /work/scratch-venv/bin/python tools/graph-fixtures/make.py [fixture names]
  then `npx vitest run packages/tfjs/src/io/graph-fixtures.test.ts`. It rewrites each fixture's
  directory, with one thread and deterministic ops: a rerun with the same versions gives the same
  bytes. Other TF versions can give other graphs, as the converter's own output does.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile

# The script runs itself once per fixture, `--onednn on|off <name>` (see the docstring): TensorFlow
# reads the switch when it is imported, and a fresh process numbers traced functions from the start.
ONEDNN = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "--onednn" else None
if ONEDNN:
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if ONEDNN == "on" else "0"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import converter  # noqa: E402
import models  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "packages", "tfjs", "src", "io", "fixtures", "graph")
UINT8, FLOAT16 = {"uint8": True}, {"float16": True}


def spec(name, shape, dtype=tf.float32):
    return tf.TensorSpec(shape, dtype, name=name)


@dataclasses.dataclass
class Fixture:
    name: str
    forward: object
    inputs: list  # TensorSpecs; their names are the signature's input keys
    samples: list  # one input shape per sample (a single input each)
    seed: int
    variants: dict = dataclasses.field(default_factory=lambda: {"": None})  # name suffix -> quantization map
    execute: str = "execute"
    structured_outputs: bool = False
    metadata: dict | None = None
    drop_format: bool = False
    onednn: bool = True  # converted with TF's oneDNN graph rewrites (its default on x86-64 Linux)
    source: str = "tf2"  # "tf2": tf.Module SavedModel; "tf1": graph-mode SavedModel; "frozen": frozen GraphDef
    control_flow_v2: bool = False  # the converter's --control_flow_v2


FIXTURES = [
    Fixture("mobilenet-v2", models.mobilenet_v2, [spec("image", [None, 32, 32, 3])], [(4, 32, 32, 3)], 1,
            {"": None, "-uint8": UINT8, "-float16": FLOAT16}),
    Fixture("blazeface", models.blazeface, [spec("image", [1, 32, 32, 3])], [(1, 32, 32, 3), (1, 32, 32, 3)], 2,
            {"": None, "-float16": FLOAT16, "-mixed": {"uint8": ["*pointwise*"], "float16": True}},
            structured_outputs=True, metadata={"anchors": {"strides": [4, 8], "per_cell": [2, 6], "input_size": 32}}),
    Fixture("resnet-block", models.resnet_block, [spec("image", [None, 24, 24, 3])], [(3, 24, 24, 3)], 3,
            {"": None, "-uint8": UINT8}, onednn=False),
    Fixture("while-loop", models.recurrent, [spec("sequence", [None, None, 4])], [(2, 5, 4), (1, 9, 4)], 4,
            execute="executeAsync", onednn=False, source="tf1"),
    Fixture("while-loop-v2", models.recurrent, [spec("sequence", [None, None, 4])], [(2, 5, 4), (1, 9, 4)], 4,
            execute="executeAsync", onednn=False, control_flow_v2=True),
    Fixture("nms", models.nms_detector, [spec("image", [1, 16, 16, 3])], [(1, 16, 16, 3), (1, 16, 16, 3)], 5,
            execute="executeAsync"),
    Fixture("dynamic-shapes", models.dynamic_shapes, [spec("image", [None, None, None, 3])], [(2, 16, 12, 3), (1, 8, 20, 3)], 6),
    Fixture("no-format", models.tiny_classifier, [spec("image", [None, 16, 16, 1])], [(4, 16, 16, 1)], 7, drop_format=True),
    Fixture("frozen-classifier", models.tiny_classifier, [spec("image", [None, 16, 16, 1])], [(4, 16, 16, 1)], 8,
            {"": None, "-uint8": UINT8}, source="frozen"),
]


# ---------------------------------------------------------------- samples and TensorFlow's outputs


def sample_inputs(fixture: Fixture, rng) -> list[dict]:
    """Multiples of 1/16 in [-1, 1]: exact in float32 and short in JSON."""
    return [{s.name: (rng.integers(-16, 17, shape) / 16).astype(s.dtype.as_numpy_dtype) for s in fixture.inputs}
            for shape in fixture.samples]


def tensors_json(tensors: dict) -> dict:
    return {k: tensor_json(tensors[k]) for k in sorted(tensors)}


def tensor_json(a: np.ndarray) -> dict:
    a = np.asarray(a)
    values = [float(str(v)) for v in a.ravel()] if a.dtype == np.float32 else [int(v) for v in a.ravel()]
    return {"dtype": a.dtype.name, "shape": list(a.shape), "values": values}


def saved_model_outputs(model, inputs: dict) -> dict:
    out = model.signatures["serving_default"](**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in out.items()}


def tensor_name(name: str) -> str:
    return name if ":" in name else name + ":0"


def run_graph(graph_def, outputs: dict, inputs: dict) -> dict:
    """TensorFlow (a v1 session) running a GraphDef: placeholders fed by name, `outputs` = {key: tensor name}."""
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(graph_def, name="")
    keys = list(outputs)
    with tf.compat.v1.Session(graph=g) as s:
        values = s.run([tensor_name(outputs[k]) for k in keys], {tensor_name(k): v for k, v in inputs.items()})
    return dict(zip(keys, values))


def with_decoded_weights(runnable, raw: list, stored: list):
    """The TF-runnable graph with every weight as TF.js decodes it from the files.

    The runnable graph is the converter's graph before its Python fusions; a Prelu alpha is stored
    negated there (the converter negates it when it makes the Prelu), so it is negated back.
    """
    g = type(runnable)()
    g.CopyFrom(runnable)
    nodes = converter.node_map(g)
    for before, after in zip(raw, stored):
        node = nodes[before["name"]]
        have, decoded = converter.const_value(node), converter.dequantize(after)
        if have.dtype != decoded.dtype or np.array_equal(have, before["data"]):
            value = decoded
        elif np.array_equal(have, -before["data"]):
            value = -decoded
        else:
            raise ValueError(f"weight {before['name']}: the runnable graph holds another value")
        converter.set_const(node, value.astype(have.dtype), have.dtype.type)
    return g


def scale_diff(got: dict, want: dict) -> float:
    """max |got - want| over an output, relative to that output's largest magnitude (worst output)."""
    worst = 0.0
    for k, w in want.items():
        assert got[k].shape == w.shape and got[k].dtype == w.dtype, (k, got[k].shape, w.shape)
        scale = max(float(np.max(np.abs(w))), 1e-30) if w.size else 1.0
        worst = max(worst, float(np.max(np.abs(got[k].astype(np.float64) - w))) / scale if w.size else 0.0)
    return worst


def iou(a, b) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def check_nms_margins(net, inputs: dict) -> None:
    """No score near the threshold or another score, no IoU near the threshold: NMS is stable."""
    boxes, scores = [t.numpy().astype(np.float64) for t in models.nms_candidates(net, tf.constant(inputs["image"]))]
    live = np.flatnonzero(scores > models.NMS["score_threshold"] - 1e-3)
    assert np.min(np.abs(scores - models.NMS["score_threshold"])) > 1e-3, "a score is near the score threshold"
    s = np.sort(scores[live])
    assert len(s) < 2 or np.min(np.diff(s)) > 1e-5, "two candidate scores are too close"
    for i in live:
        for j in live:
            if i < j:
                assert abs(iou(boxes[i], boxes[j]) - models.NMS["iou_threshold"]) > 1e-3, "an IoU is near the threshold"


# ---------------------------------------------------------------- writing


def write_json(path: str, value) -> None:
    with open(path, "w") as f:
        json.dump(value, f)
        f.write("\n")


def drop_format(out_dir: str) -> None:
    path = os.path.join(out_dir, "model.json")
    with open(path) as f:
        model_json = json.load(f)
    del model_json["format"]
    with open(path, "w") as f:
        json.dump(model_json, f)


def save_source(fixture: Fixture, tmp: str, supported: set):
    """Saves the fixture's source model. Returns convert(out_dir, dtype_map) -> the conversion's
    results, reference(done, inputs) -> TensorFlow's outputs of the source model, and the tf.Module."""
    example = [[1 if d is None else d for d in s.shape] for s in fixture.inputs]
    for s, shape in zip(fixture.inputs, example):  # dynamic spatial sizes get a multiple of 4
        shape[1:-1] = [16 if d is None else d for d in s.shape[1:-1]]
    if fixture.source == "frozen":
        frozen, names = models.frozen_graph_mode(fixture.forward, fixture.inputs, fixture.seed)
        return (lambda out_dir, dtype_map: converter.convert_frozen(frozen, names, out_dir, supported, dtype_map),
                lambda done, x: run_graph(frozen, {n: n for n in names}, x), None)
    saved_dir, net = os.path.join(tmp, fixture.name), None
    if fixture.source == "tf1":
        models.save_graph_mode(fixture.forward, fixture.inputs, fixture.seed, saved_dir)
    else:
        net = models.Net(fixture.name.replace("-", "_"), fixture.forward, fixture.inputs, example, fixture.seed)
        tf.saved_model.save(net, saved_dir, signatures={"serving_default": net.serve})

    def convert(out_dir, dtype_map):
        return converter.convert(saved_dir, out_dir, supported, dtype_map=dtype_map, metadata=fixture.metadata,
                                 structured_outputs=fixture.structured_outputs, control_flow_v2=fixture.control_flow_v2)

    return convert, lambda done, x: saved_model_outputs(done["model"], x), net


def tf_samples(done: dict, inputs: list, reference, quantized: bool) -> tuple[list, float]:
    """sample.json's samples, and the worst difference between the converted graph (float32 weights,
    run by TF) and the source model, relative to the output scale."""
    outputs = {k: v.name for k, v in done["signature"].outputs.items()}
    decoded = with_decoded_weights(done["runnable"], done["raw_weights"][0], done["weights"][0]) if quantized else None
    samples, worst = [], 0.0
    for x in inputs:
        want = reference(done, x)
        worst = max(worst, scale_diff(run_graph(done["runnable"], outputs, x), want))
        sample = {"inputs": tensors_json(x)}
        if quantized:  # TF running what the files hold; the source model's outputs beside it
            sample["outputs"] = tensors_json(run_graph(decoded, outputs, x))
            sample["float_outputs"] = tensors_json(want)
        else:
            sample["outputs"] = tensors_json(want)
        samples.append(sample)
    return samples, worst


def make(fixture: Fixture, tmp: str, supported: set) -> None:
    tf.random.set_seed(fixture.seed)
    convert, reference, net = save_source(fixture, tmp, supported)
    inputs = sample_inputs(fixture, np.random.default_rng(fixture.seed))
    if fixture.forward is models.nms_detector:
        for x in inputs:
            check_nms_margins(net, x)
    for suffix, dtype_map in fixture.variants.items():
        out_dir = os.path.join(OUT, fixture.name + suffix)
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        done = convert(out_dir, dtype_map)
        if fixture.drop_format:
            drop_format(out_dir)
        samples, worst = tf_samples(done, inputs, reference, bool(dtype_map))
        if worst > 1e-5:
            raise SystemExit(f"{fixture.name}{suffix}: the converted graph differs from the source model by {worst:.2e} of the output scale")
        write_json(os.path.join(out_dir, "sample.json"), {
            "tensorflow_version": tf.__version__, "numpy_version": np.__version__, "execute": fixture.execute, "samples": samples})
        size = sum(os.path.getsize(os.path.join(out_dir, n)) for n in os.listdir(out_dir))
        print(f"{os.path.relpath(out_dir, ROOT)}: {len(done['graph_def'].node)} nodes, "
              f"{len(done['weights'][0])} weights, {size} bytes, converted graph vs source model {worst:.1e}")


def main() -> None:
    tf.get_logger().setLevel("ERROR")  # TF1 graph-mode deprecation notes
    only = set(sys.argv[3:] if ONEDNN else sys.argv[1:])
    chosen = [f for f in FIXTURES if not only or f.name in only]
    if not ONEDNN:
        for f in chosen:
            subprocess.run([sys.executable, __file__, "--onednn", "on" if f.onednn else "off", f.name], check=True)
        return
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    print(f"tensorflow {tf.__version__}, numpy {np.__version__}, oneDNN {ONEDNN}")
    supported = converter.tfjs_op_names(ROOT)
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for fixture in chosen:
            make(fixture, tmp, supported)


if __name__ == "__main__":
    sys.exit(main())
