"""tfjs-converter's SavedModel -> graph-model path (`--input_format tf_saved_model`), reproduced.

Written from the converter sources at tensorflow/tfjs tag tfjs-v4.22.0 (tfjs-converter/python/
tensorflowjs): converters/tf_saved_model_conversion_v2.py (_convert_tf_saved_model,
_freeze_saved_model_v2, _build_signature_def, optimize_graph, extract_weights, write_artifacts),
converters/fold_batch_norms.py, normalize_bias_add.py, fuse_prelu.py, fuse_depthwise_conv2d.py,
graph_rewrite_util.py, common.py, write_weights.py and quantization.py. Every step keeps the
converter's order, naming and arithmetic (numpy semantics included), so the files are what the
converter writes for the same SavedModel with the same TensorFlow and numpy; see make.py.
"""

import fnmatch
import glob
import json
import math
import os
import re

import numpy as np
import tensorflow as tf
from google.protobuf.json_format import MessageToDict
from tensorflow.core.framework import attr_value_pb2, graph_pb2, node_def_pb2
from tensorflow.core.protobuf import config_pb2, device_properties_pb2, meta_graph_pb2
from tensorflow.python.framework import convert_to_constants, tensor_util
from tensorflow.python.grappler import cluster as gcluster
from tensorflow.python.grappler import tf_optimizer
from tensorflow.python.tools.saved_model_utils import get_meta_graph_def
from tensorflow.python.training.saver import export_meta_graph

CONVERTER_VERSION = "4.22.0"
CONVERTED_BY = f"TensorFlow.js Converter v{CONVERTER_VERSION} layout, reproduced by tools/graph-fixtures/make.py"
SHARD_BYTES = 4 * 1024 * 1024
# TensorProto value fields the converter clears once a Const's value has moved to the weights.
CLEARED_TENSOR_FIELDS = (
    "tensor_content", "half_val", "float_val", "double_val", "int_val", "string_val", "scomplex_val",
    "int64_val", "bool_val", "resource_handle_val", "variant_val", "uint32_val", "uint64_val")
FIRST_PASS = ["pruning", "constfold", "arithmetic", "dependency", "pruning", "constfold", "arithmetic", "dependency"]
SECOND_PASS = ["remap", "constfold", "arithmetic", "dependency"]


# ---------------------------------------------------------------- freezing and the signature


def freeze(concrete_func, control_flow_v2=False) -> tf.Graph:
    """_freeze_saved_model_v2: by default (--control_flow_v2 off) While/If are lowered to v1 ops."""
    return convert_to_constants.convert_variables_to_constants_v2(
        concrete_func, lower_control_flow=not control_flow_v2, aggressive_inlining=True).graph


def _signature_key(tensor, entries) -> str:
    """The saved signature's key whose dtype and shape match `tensor` when exactly one does, else the tensor name."""
    shape = tensor.shape.as_proto().SerializeToString()
    keys = [k for k, info in entries.items() if info.dtype == tensor.dtype and info.tensor_shape.SerializeToString() == shape]
    return keys[0] if len(keys) == 1 else tensor.name


def build_signature(frozen: tf.Graph, concrete_func, saved: meta_graph_pb2.SignatureDef) -> meta_graph_pb2.SignatureDef:
    """_build_signature_def: inputs that are still placeholders after freezing, all outputs."""
    sig = meta_graph_pb2.SignatureDef()
    for t in concrete_func.inputs:
        try:
            op = frozen.get_operation_by_name(t.name.split(":")[0])
        except KeyError:  # removed by freezing (a captured variable)
            continue
        if op.type == "Const":
            continue
        entry = sig.inputs[_signature_key(t, saved.inputs)]
        entry.name, entry.dtype = t.name, t.dtype.as_datatype_enum
        entry.tensor_shape.CopyFrom(t.shape.as_proto())
    for t in concrete_func.outputs:
        entry = sig.outputs[_signature_key(t, saved.outputs)]
        entry.name, entry.dtype = t.name, t.dtype.as_datatype_enum
        entry.tensor_shape.CopyFrom(t.shape.as_proto())
    return sig


# ---------------------------------------------------------------- grappler


def _gpu_cluster():
    """The converter optimizes for a virtual GPU; only Conv2D/MatMul are pinned to the CPU (for remap)."""
    device = device_properties_pb2.NamedDevice()
    device.name = "/GPU:0"
    device.properties.type = "GPU"
    device.properties.environment["architecture"] = "4"
    return gcluster.Cluster(devices=[device])


def run_grappler(optimizers, graph_def, graph, signature):
    config = config_pb2.ConfigProto()
    config.graph_options.rewrite_options.optimizers[:] = optimizers
    meta_graph = export_meta_graph(graph_def=graph_def, graph=graph)
    meta_graph.signature_def["not_used_key"].CopyFrom(signature)
    return tf_optimizer.OptimizeGraph(config, meta_graph, cluster=_gpu_cluster())


# ---------------------------------------------------------------- the converter's own graph rewrites


def node_name(ref: str) -> str:
    """'^a' / 'a:1' / 'a' -> 'a'."""
    ref = ref[1:] if ref.startswith("^") else ref
    m = re.match(r"(.*):\d+$", ref)
    return m.group(1) if m else ref


def node_map(graph_def) -> dict:
    nodes = {}
    for n in graph_def.node:
        if n.name in nodes:
            raise ValueError(f"duplicate node name {n.name}")
        nodes[n.name] = n
    return nodes


def const_value(node) -> np.ndarray:
    if node.op != "Const":
        raise ValueError(f"node {node.name} is {node.op}, not Const")
    return tensor_util.MakeNdarray(node.attr["value"].tensor)


def set_const(node, value: np.ndarray, dtype) -> None:
    node.attr["value"].CopyFrom(attr_value_pb2.AttrValue(tensor=tensor_util.make_tensor_proto(value, dtype, value.shape)))


def consumer_count(nodes: dict, ref: str) -> int:
    """len(graph_rewrite_util.get_output_node_names): inputs, over all nodes, that name `ref` verbatim."""
    return sum(list(n.input).count(ref) for n in nodes.values())


def graph_like(graph_def, nodes) -> graph_pb2.GraphDef:
    """A new GraphDef of copies of `nodes`, with `graph_def`'s library and versions (as each rewrite makes)."""
    out = graph_pb2.GraphDef()
    for n in nodes:
        out.node.add().CopyFrom(n)
    out.library.CopyFrom(graph_def.library)
    out.versions.CopyFrom(graph_def.versions)
    return out


def rebuild(graph_def, skip: set, bypass: list) -> graph_pb2.GraphDef:
    """graph_rewrite_util.cleanup_graph_def: drop `skip`; an input naming a bypassed node takes that node's first input."""
    out = graph_like(graph_def, [n for n in graph_def.node if n.name not in skip])
    for n in out.node:
        for gone in bypass:
            for i, ref in enumerate(n.input):
                if ref == gone.name:
                    n.input[i] = gone.input[0]
    return out


BN_INPUTS = {  # positions of (conv, gamma, beta, mean, var) among a batch norm's inputs
    "BatchNormWithGlobalNormalization": {"conv": 0, "mean": 1, "var": 2, "beta": 3, "gamma": 4},
    "FusedBatchNorm": {"conv": 0, "gamma": 1, "beta": 2, "mean": 3, "var": 4},
    "FusedBatchNormV3": {"conv": 0, "gamma": 1, "beta": 2, "mean": 3, "var": 4},
}
BN_EPSILON = {"BatchNormWithGlobalNormalization": "variance_epsilon", "FusedBatchNorm": "epsilon", "FusedBatchNormV3": "epsilon"}
CONVS = ("Conv2D", "DepthwiseConv2dNative")


def _fold_one(bn, nodes):
    """The fold of one batch norm into the conv before it (through an optional bias add), or None to leave it."""
    order = BN_INPUTS[bn.op]
    conv = nodes[node_name(bn.input[order["conv"]])]
    add = bias = None
    if conv.op in ("BiasAdd", "Add", "AddV2"):
        add = conv
        conv, bias = nodes[node_name(add.input[0])], nodes[node_name(add.input[1])]
        if conv.op not in CONVS:
            conv, bias = bias, conv
    if bias is not None and bias.op != "Const":
        return None
    if conv.op not in CONVS:
        return None
    weights_node = nodes[node_name(conv.input[1])]
    if weights_node.op != "Const":
        return None
    weights = const_value(weights_node)
    channels = weights.shape[3] if conv.op == "Conv2D" else weights.shape[2] * weights.shape[3]
    params = {}
    for role in ("mean", "var", "beta", "gamma"):
        p = nodes[node_name(bn.input[order[role]])]
        if p.op != "Const":
            return None
        params[role] = const_value(p)
        if role == "mean":
            mean_node = p
            if bias is not None:
                params["mean"] = params["mean"] - const_value(bias)
        if params[role].shape != (channels,):
            return None
    epsilon = bn.attr[BN_EPSILON[bn.op]].f
    scale = 1.0 / np.vectorize(math.sqrt)(params["var"] + epsilon)  # float64, as math.sqrt returns
    if bn.op != "BatchNormWithGlobalNormalization" or bn.attr["scale_after_normalization"].b:
        scale = scale * params["gamma"]
    offset = -params["mean"] * scale + params["beta"]
    # The converter scales element by element in place: a float64 product stored back as float32.
    per_out = scale if conv.op == "Conv2D" else scale.reshape(weights.shape[2], weights.shape[3])
    scaled = (weights * per_out).astype(weights.dtype)
    return {"conv": conv, "add": add, "weights": weights_node, "scaled": scaled, "offset": offset, "mean": mean_node}


def fold_batch_norms(graph_def) -> graph_pb2.GraphDef:
    """fold_batch_norms.fold_batch_norms: BN(conv(x, W)) -> BiasAdd(conv(x, W*scale), offset)."""
    nodes = node_map(graph_def)
    skip, new_nodes = set(), []
    for bn in graph_def.node:
        if bn.op not in BN_INPUTS:
            continue
        fold = _fold_one(bn, nodes)
        if fold is None:
            continue
        conv, weights_node = fold["conv"], fold["weights"]
        skip |= {bn.name, weights_node.name, conv.name} | ({fold["add"].name} if fold["add"] is not None else set())
        scaled = node_def_pb2.NodeDef(name=conv.name + "_weights", op="Const")
        scaled.attr["dtype"].CopyFrom(weights_node.attr["dtype"])
        set_const(scaled, fold["scaled"], fold["scaled"].dtype.type)
        for i, ref in enumerate(conv.input):
            if ref == weights_node.name:
                conv.input[i] = scaled.name
        new_conv = node_def_pb2.NodeDef()
        new_conv.CopyFrom(conv)
        offset = node_def_pb2.NodeDef(name=conv.name + "_bn_offset", op="Const")
        offset.attr["dtype"].CopyFrom(fold["mean"].attr["dtype"])
        mean_dtype = tf.dtypes.as_dtype(fold["mean"].attr["dtype"].type).as_numpy_dtype
        set_const(offset, fold["offset"], mean_dtype)
        bias_add = node_def_pb2.NodeDef(name=bn.name, op="BiasAdd", input=[new_conv.name, offset.name])
        bias_add.attr["T"].CopyFrom(conv.attr["T"])
        bias_add.attr["data_format"].CopyFrom(conv.attr["data_format"])
        new_nodes += [scaled, new_conv, offset, bias_add]
    out = graph_like(graph_def, [n for n in graph_def.node if n.name not in skip] + new_nodes)
    for n in out.node[:len(out.node) - len(new_nodes)]:  # control inputs naming a removed node are dropped
        n.input[:] = [ref for ref in n.input if not (ref.startswith("^") and ref[1:] in skip)]
    return out


def normalize_bias_add(graph_def) -> graph_pb2.GraphDef:
    """normalize_bias_add: Add/AddV2 right after a conv or MatMul that feeds nothing else becomes BiasAdd (in place)."""
    nodes = node_map(graph_def)
    for n in graph_def.node:
        if n.op not in ("Add", "AddV2"):
            continue
        parent = nodes[node_name(n.input[0])]
        if parent.op in ("Conv2D", "DepthwiseConv2dNative", "MatMul") and consumer_count(nodes, n.input[0]) == 1:
            n.op = "BiasAdd"
            n.attr["data_format"].s = b"NHWC"
    return graph_def


def pin_contractions_to_cpu(graph_def) -> None:
    """Grappler's remapper fuses Conv2D and MatMul only on the CPU."""
    for n in graph_def.node:
        if n.op in ("Conv2D", "MatMul"):
            n.device = "/device:CPU:0"


def remove_unused_control_flow_inputs(graph_def) -> graph_pb2.GraphDef:
    unused = lambda n: n.op == "Placeholder" and n.name.startswith("unused_control_flow_input")  # noqa: E731
    return graph_like(graph_def, [n for n in graph_def.node if not unused(n)])


def _first(nodes, refs, op):
    for ref in refs:
        n = nodes[node_name(ref)]
        if n.op == op:
            return n
    return None


def fuse_prelu(graph_def) -> graph_pb2.GraphDef:
    """fuse_prelu.fuse_ops_for_prelu: Relu(x) + Mul(-alpha, Relu(Neg(x))) -> Prelu(x, alpha)."""
    nodes = node_map(graph_def)
    skip, bypass, negated = set(), [], set()
    for add in graph_def.node:
        if add.op not in ("Add", "AddV2") or len(add.input) != 2:
            continue
        relu, mul = nodes[node_name(add.input[0])], nodes[node_name(add.input[1])]
        if relu.op != "Relu" or mul.op != "Mul":
            continue
        neg_alpha = _first(nodes, mul.input, "Const")
        relu_neg = _first(nodes, mul.input, "Relu")
        if neg_alpha is None or relu_neg is None or len(relu_neg.input) != 1:
            continue
        neg = nodes[node_name(relu_neg.input[0])]
        if neg.op != "Neg" or len(neg.input) != 1 or relu.input[0] != neg.input[0]:
            continue
        relu.op = "Prelu"
        relu.input.append(neg_alpha.name)
        del relu.attr["T"]  # TF.js's Prelu op def has no T
        add.op = "Identity"
        add.input[:] = [relu.name]
        if neg_alpha.name not in negated:
            alpha = -const_value(neg_alpha)
            set_const(neg_alpha, alpha, alpha.dtype.type)
            negated.add(neg_alpha.name)
        skip |= {mul.name, relu_neg.name, neg.name, add.name}
        bypass.append(add)
    return rebuild(graph_def, skip, bypass)


ACTIVATIONS_FOR_DEPTHWISE = ("Relu", "Relu6", "Elu")


def _depthwise_bias_act(n, nodes):
    if n.op not in ACTIVATIONS_FOR_DEPTHWISE or len(n.input) != 1:
        return None
    found = _depthwise_bias(nodes[node_name(n.input[0])], nodes)
    return found and (found[0], found[1], n)


def _depthwise_bias(n, nodes):
    if n.op != "BiasAdd" or not n.input:
        return None
    conv = nodes[node_name(n.input[0])]
    return (conv, n, None) if conv.op == "DepthwiseConv2dNative" else None


def _depthwise_act(n, nodes):
    if n.op not in ACTIVATIONS_FOR_DEPTHWISE or len(n.input) != 1:
        return None
    conv = nodes[node_name(n.input[0])]
    return (conv, None, n) if conv.op == "DepthwiseConv2dNative" else None


def fuse_depthwise(graph_def) -> graph_pb2.GraphDef:
    """fuse_depthwise_conv2d: DepthwiseConv2dNative [+ BiasAdd] [+ Relu|Relu6|Elu] -> FusedDepthwiseConv2dNative.

    Three passes, as the converter makes them: bias and activation, then bias, then activation.
    """
    for match in (_depthwise_bias_act, _depthwise_bias, _depthwise_act):
        nodes = node_map(graph_def)
        skip, bypass = set(), []
        for n in graph_def.node:
            found = match(n, nodes)
            if not found:
                continue
            conv, bias, act = found
            conv.op = "FusedDepthwiseConv2dNative"
            conv.attr["num_args"].i = 0
            if bias is not None:
                conv.input.append(bias.input[1])
                conv.attr["fused_ops"].list.s.append(b"BiasAdd")
                conv.attr["num_args"].i += 1
                bias.input[:] = [conv.name]
                bypass.append(bias)
                skip.add(bias.name)
            else:
                conv.attr["fused_ops"].list.s.append(b"NoOp")
            if act is not None:
                conv.attr["fused_ops"].list.s.append(act.op.encode("ascii"))
                skip.add(act.name)
                act.input[:] = [conv.name]
                bypass.append(act)
        if skip or bypass:
            graph_def = rebuild(graph_def, skip, bypass)
    return graph_def


def fuse_prelu_into_contraction(graph_def) -> graph_pb2.GraphDef:
    """fuse_prelu.fuse_prelu_with_fused_conv2d_or_matmul: a Prelu after a fused op with at most one fused op joins it."""
    nodes = node_map(graph_def)
    skip, bypass = set(), []
    for n in graph_def.node:
        if n.op != "Prelu":
            continue
        fused = nodes[node_name(n.input[0])]
        if fused.op not in ("_FusedConv2D", "_FusedMatMul", "FusedDepthwiseConv2dNative") or len(fused.attr["fused_ops"].list.s) > 1:
            continue
        fused.input.append(n.input[1])
        fused.attr["fused_ops"].list.s.append(b"Prelu")
        fused.attr["num_args"].i += 1
        n.op = "Identity"
        n.input[:] = [n.input[0]]
        skip.add(n.name)
        bypass.append(n)
    return rebuild(graph_def, skip, bypass)


def tfjs_op_names(root: str) -> set:
    """TF.js's op list (the converter checks against its op_list/*.json; the npm package ships the same lists)."""
    files = glob.glob(os.path.join(root, "node_modules", "@tensorflow", "tfjs-converter", "dist", "operations", "op_list", "*.js"))
    if not files:
        raise SystemExit("node_modules/@tensorflow/tfjs-converter is missing: run `npm ci` first")
    names = set()
    for f in files:
        names |= set(re.findall(r"'tfOpName': '([A-Za-z0-9_]+)'", open(f).read()))
    return names


def validate(graph_def, supported: set, when: str) -> None:
    ops = {n.op for n in graph_def.node} | {n.op for f in graph_def.library.function for n in f.node_def}
    missing = sorted(ops - supported)
    if missing:
        raise ValueError(f"Unsupported Ops in the model {when} optimization\n" + ", ".join(missing))


def tf_executable(graph_def) -> graph_pb2.GraphDef:
    """A copy that TensorFlow itself runs as TF.js runs the converter's graph.

    normalize_bias_add turns any Add after a MatMul into BiasAdd, so a "bias" can be a whole tensor
    (`matmul(x, W) + matmul(h, U)`), and grappler may then fuse it into _FusedMatMul. TF kernels
    want a 1-D bias; TF.js adds with broadcasting. Here BiasAdd becomes AddV2 and a _FusedMatMul
    whose only fused op is BiasAdd becomes MatMul + AddV2, which is what TF.js computes.
    """
    out = graph_pb2.GraphDef()
    out.CopyFrom(graph_def)
    extra = []
    for n in out.node:
        if n.op == "BiasAdd":
            n.op = "AddV2"
            del n.attr["data_format"]
        elif n.op == "_FusedMatMul" and list(n.attr["fused_ops"].list.s) == [b"BiasAdd"]:
            matmul = node_def_pb2.NodeDef(name=n.name + "/unfused_matmul", op="MatMul", input=n.input[:2], device=n.device)
            for k in ("T", "transpose_a", "transpose_b"):
                matmul.attr[k].CopyFrom(n.attr[k])
            extra.append(matmul)
            bias = n.input[2]
            n.op, n.device = "AddV2", ""
            n.input[:] = [matmul.name, bias]
            for k in list(n.attr.keys()):
                if k != "T":
                    del n.attr[k]
    out.node.extend(extra)
    return out


def optimize(frozen: tf.Graph, signature, supported: set) -> tuple[graph_pb2.GraphDef, graph_pb2.GraphDef]:
    """optimize_graph. Returns (the converter's graph, the graph just before its Python fusions).

    The second one is plain TensorFlow (it has no Prelu or FusedDepthwiseConv2dNative), so TF can run
    it; its BiasAdds are AddV2s, which is what TF.js executes for BiasAdd (a broadcasting add).
    """
    for out in signature.outputs.values():
        frozen.add_to_collection("train_op", frozen.get_operation_by_name(out.name.split(":")[0]))
    graph_def = frozen.as_graph_def()
    validate(graph_def, supported, "before")
    g = run_grappler(FIRST_PASS, graph_def, frozen, signature)
    g = fold_batch_norms(g)
    g = normalize_bias_add(g)
    pin_contractions_to_cpu(g)
    g = run_grappler(SECOND_PASS, g, frozen, signature)
    g = remove_unused_control_flow_inputs(g)
    runnable = tf_executable(g)
    g = fuse_prelu(g)
    g = fuse_depthwise(g)
    g = fuse_prelu_into_contraction(g)
    validate(g, supported, "after")
    return g, runnable


# ---------------------------------------------------------------- weights


def _rename_function_constants(nodes, prefix):
    """graph_rewrite_util.rename_constants: a function's Const nodes get `<function>/` in front (weights are global)."""
    consts = [n.name for n in nodes if n.op == "Const"]
    out = []
    for n in nodes:
        copy = node_def_pb2.NodeDef()
        copy.CopyFrom(n)
        if n.op == "Const":
            copy.name = prefix + "/" + n.name
        else:
            for i, ref in enumerate(copy.input):
                for name in consts:
                    if ref.startswith(name):
                        copy.input[i] = prefix + "/" + ref
        out.append(copy)
    return out


def _take_consts(nodes) -> list:
    """extract_const_nodes: each Const's value becomes a weight; its tensor keeps only dtype and shape."""
    weights = []
    for n in nodes:
        if n.op != "Const":
            continue
        weights.append({"name": n.name, "data": const_value(n)})
        for field in CLEARED_TENSOR_FIELDS:
            n.attr["value"].tensor.ClearField(field)
    return weights


def extract_weights(graph_def) -> list:
    """extract_weights: graph Consts, then each library function's (renamed) Consts, as one weight group."""
    weights = _take_consts(graph_def.node)
    for func in graph_def.library.function:
        renamed = _rename_function_constants(func.node_def, func.signature.name)
        del func.node_def[:]
        func.node_def.extend(renamed)
        weights += _take_consts(func.node_def)
    return [weights]


AUTO_DTYPE = {np.dtype(np.float16): np.float32, np.dtype(np.float64): np.float32, np.dtype(np.int64): np.int32,
              np.dtype(np.complex128): np.complex64}
QUANT_DTYPES = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


def quantization_targets(names, dtype_map) -> dict:
    """quantization.map_layers_to_quantization_dtype: glob patterns per dtype, `True` = every other weight."""
    if not dtype_map:
        return {}
    chosen, fallthrough = {}, None
    for dtype_name, patterns in dtype_map.items():
        if patterns is True:
            if fallthrough is not None:
                raise ValueError("More than one quantization fallthrough provided, exactly one is supported")
            fallthrough = dtype_name
            continue
        for pattern in [patterns] if isinstance(patterns, str) else patterns:
            for name in fnmatch.filter(names, pattern):
                if chosen.get(name, QUANT_DTYPES[dtype_name]) != QUANT_DTYPES[dtype_name]:
                    raise ValueError(f"Two quantization values match the same node {name}")
                chosen[name] = QUANT_DTYPES[dtype_name]
    if fallthrough is not None:
        for name in set(names) - set(chosen):
            chosen[name] = QUANT_DTYPES[fallthrough]
    return chosen


def quantize(data: np.ndarray, dtype) -> tuple[np.ndarray, dict]:
    """quantization.quantize_weights: affine uint8/uint16 with zero nudged onto the grid (as TF Lite), or float16."""
    if dtype == np.float16:
        return data.astype(np.float16), {}
    lo, hi = data.min().astype(np.float64), data.max().astype(np.float64)
    if lo == hi:
        return np.zeros_like(data, dtype=dtype), {"min": lo, "scale": 1.0}
    qmax = np.iinfo(dtype).max
    scale = (hi - lo) / qmax
    if lo <= 0 <= hi:
        zero = np.round((0 - lo) / scale)
        lo = -zero * scale
        hi = qmax * scale + lo
    return np.round((data.clip(lo, hi) - lo) / scale).astype(dtype), {"min": lo, "scale": scale}


def dequantize(entry: dict) -> np.ndarray:
    """What TF.js's decodeWeights makes of a stored weight: q * scale + min in doubles, kept as float32."""
    q = entry.get("quantization")
    if q is None:
        return entry["data"]
    if entry["data"].dtype == np.float16:
        return entry["data"].astype(np.float32)
    return (entry["data"].astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)


def encode_weights(group: list, dtype_map) -> list:
    """write_weights: auto dtype conversion, then quantization of float32 weights chosen by `dtype_map`."""
    for e in group:
        if e["data"].dtype in AUTO_DTYPE:
            e["data"] = e["data"].astype(AUTO_DTYPE[e["data"].dtype])
        if e["data"].dtype.name.startswith(("str", "bytes")):
            e["data"] = e["data"].astype(object)
    targets = quantization_targets([e["name"] for e in group], dtype_map)
    out = []
    for e in group:
        if e["name"] in targets and e["data"].dtype == np.float32:
            data, meta = quantize(e["data"], targets[e["name"]])
            meta["original_dtype"] = e["data"].dtype.name
            out.append({"name": e["name"], "data": data, "quantization": meta})
        else:
            out.append(e)
    return out


def _weight_bytes(data: np.ndarray) -> bytes:
    if data.dtype != object:
        return data.tobytes()
    out = b""
    for s in data.flatten().tolist():  # uint32 little-endian length, then the bytes
        s = s if isinstance(s, bytes) else s.encode("utf-8")
        out += np.array(len(s), "<u4").tobytes() + s
    return out


def manifest_entry(e: dict) -> dict:
    q = e.get("quantization")
    dtype = q["original_dtype"] if q else e["data"].dtype.name
    spec = {"name": e["name"], "shape": list(e["data"].shape), "dtype": "string" if dtype == "object" else dtype}
    if q:
        spec["quantization"] = {"dtype": e["data"].dtype.name, **q}
    return spec


def write_shards(out_dir: str, groups: list) -> list:
    """Each group's bytes concatenated and cut into 4 MiB shards named group<g>-shard<i>of<n>.bin."""
    manifest = []
    for gi, group in enumerate(groups):
        data = b"".join(_weight_bytes(e["data"]) for e in group)
        count = int(math.ceil(len(data) / SHARD_BYTES))
        paths = [f"group{gi + 1}-shard{i + 1}of{count}.bin" for i in range(count)]
        for i, p in enumerate(paths):
            with open(os.path.join(out_dir, p), "wb") as f:
                f.write(data[i * SHARD_BYTES:(i + 1) * SHARD_BYTES])
        manifest.append({"paths": paths, "weights": [manifest_entry(e) for e in group]})
    return manifest


# ---------------------------------------------------------------- the whole path

# Protobuf map fields: MessageToDict writes them in the map's iteration order, which the Python
# protobuf runtime (upb) varies from process to process; sorted here so that reruns are identical.
MAP_FIELDS = ("attr", "ret", "controlRet", "argAttr", "resourceArgUniqueId", "inputs", "outputs")


def sorted_maps(value):
    if isinstance(value, list):
        return [sorted_maps(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: sorted_maps(dict(sorted(v.items())) if k in MAP_FIELDS and isinstance(v, dict) else v) for k, v in value.items()}


def to_json(message) -> dict:
    return sorted_maps(MessageToDict(message))


def convert(saved_model_dir: str, out_dir: str, supported: set, signature_name="serving_default", dtype_map=None,
            structured_outputs=False, metadata=None, control_flow_v2=False) -> dict:
    """`--input_format tf_saved_model` (_convert_tf_saved_model). Returns what make.py needs to run TensorFlow."""
    saved = get_meta_graph_def(saved_model_dir, "serve").signature_def[signature_name]
    model = tf.saved_model.load(saved_model_dir, ["serve"])
    concrete = model.signatures[signature_name]
    if structured_outputs:  # --use_structured_outputs_names: TF.js then returns a map keyed like the outputs dict
        metadata = dict(metadata or {}, structuredOutputKeys=sorted(concrete.structured_outputs.keys()))
    frozen = freeze(concrete, control_flow_v2)
    signature = build_signature(frozen, concrete, saved)
    done = write_graph_model(out_dir, frozen, signature, model.tensorflow_version, supported, dtype_map, metadata)
    return dict(done, model=model)


def convert_frozen(graph_def, output_names: list, out_dir: str, supported: set, dtype_map=None, metadata=None) -> dict:
    """`--input_format tf_frozen_model --output_node_names ...` (convert_tf_frozen_model): a signature
    with outputs only, each named by the node name as given; generatedBy is the converting TF's version."""
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
    signature = meta_graph_pb2.SignatureDef()
    for name in output_names:
        signature.outputs[name].name = name
    return write_graph_model(out_dir, graph, signature, tf.__version__, supported, dtype_map, metadata)


def write_graph_model(out_dir, frozen, signature, tf_version, supported, dtype_map, metadata) -> dict:
    """optimize_graph, extract_weights and write_artifacts."""
    graph_def, runnable = optimize(frozen, signature, supported)
    raw = extract_weights(graph_def)
    groups = [encode_weights([dict(e) for e in g], dtype_map) for g in raw]
    os.makedirs(out_dir)
    model_json = {
        "format": "graph-model",
        "generatedBy": tf_version,
        "convertedBy": CONVERTED_BY,
        "signature": to_json(signature),
        "modelTopology": to_json(graph_def),
    }
    if metadata:
        model_json["userDefinedMetadata"] = metadata
    model_json["weightsManifest"] = write_shards(out_dir, groups)
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(model_json, f)
    return {"signature": signature, "graph_def": graph_def, "runnable": runnable, "raw_weights": raw, "weights": groups}
