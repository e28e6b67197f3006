"""Small seeded TensorFlow models for the graph-model fixtures (see make.py).

They are written with raw TensorFlow ops, as TF1 / tf.keras 2 models are, so that their graphs hold
what production GraphModels hold: FusedBatchNormV3 after convolutions, BiasAdd, Relu6, Keras's
PReLU pattern, explicit Pad before strided depthwise convolutions, v1-lowered control flow.
"""

import numpy as np
import tensorflow as tf


class Net(tf.Module):
    """A model whose `forward(net, *inputs)` asks `net.p(...)` for its variables.

    Variables are made on a first eager call with zero inputs, then `serve` is the SavedModel's
    serving_default function. Initial values come from one seeded generator, in call order.
    """

    def __init__(self, name, forward, specs, example_shapes, seed):
        super().__init__(name=name)
        self._rng = np.random.default_rng(seed)
        self.params = {}
        self._forward = forward
        forward(self, *[tf.zeros(shape, spec.dtype) for shape, spec in zip(example_shapes, specs)])
        self.serve = tf.function(lambda *xs: forward(self, *xs), input_signature=specs)

    def p(self, name, shape, kind):
        if name not in self.params:
            self.params[name] = tf.Variable(init(self._rng, shape, kind), name=name)
        return self.params[name]


class GraphModeParams:
    """`net.p(...)` for a TF1-style graph: tf.compat.v1 variables with the same seeded initial values."""

    def __init__(self, seed):
        self._rng = np.random.default_rng(seed)

    def p(self, name, shape, kind):
        return tf.compat.v1.get_variable(name, initializer=init(self._rng, shape, kind))


def save_graph_mode(forward, specs, seed, saved_dir):
    """A TF1-era SavedModel: `forward` built in graph mode with control flow v1 (tf.while_loop and
    tf.cond make Enter/Merge/Switch/Exit, TensorArray makes TensorArrayV3 ops), saved by
    SavedModelBuilder with a serving_default predict signature."""

    def save(sess, inputs, outputs):
        builder = tf.compat.v1.saved_model.Builder(saved_dir)
        signature = tf.compat.v1.saved_model.predict_signature_def(inputs, outputs)
        builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": signature})
        builder.save()

    _in_graph_mode(forward, specs, seed, save)


def frozen_graph_mode(forward, specs, seed):
    """A TF1-era frozen GraphDef (freeze_graph): graph mode, variables made constants, every node's
    `_output_shapes` recorded (as_graph_def(add_shapes=True), as TF1 export tools wrote them).
    Returns the GraphDef and the output node names, each output an Identity named by its key."""
    result = []

    def freeze(sess, inputs, outputs):
        names = []
        for key, t in outputs.items():
            names.append(tf.identity(t, name=key).op.name)
        graph_def = sess.graph.as_graph_def(add_shapes=True)
        result.extend([tf.compat.v1.graph_util.convert_variables_to_constants(sess, graph_def, names), names])

    _in_graph_mode(forward, specs, seed, freeze)
    return result


def _in_graph_mode(forward, specs, seed, finish):
    tf.compat.v1.disable_control_flow_v2()
    try:
        with tf.Graph().as_default():
            inputs = {s.name: tf.compat.v1.placeholder(s.dtype, s.shape, name=s.name) for s in specs}
            outputs = forward(GraphModeParams(seed), *inputs.values())
            with tf.compat.v1.Session() as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                finish(sess, inputs, outputs)
    finally:
        tf.compat.v1.enable_control_flow_v2()


def init(rng, shape, kind):
    if kind == "kernel":  # He normal over the receptive field
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else shape[0]
        return (rng.normal(size=shape) * np.sqrt(2.0 / fan_in)).astype("float32")
    ranges = {"bias": (-0.2, 0.2), "gamma": (0.5, 1.5), "beta": (-0.5, 0.5), "mean": (-0.5, 0.5), "var": (0.3, 2.0), "alpha": (0.05, 0.3)}
    return rng.uniform(*ranges[kind], size=shape).astype("float32")


# ---------------------------------------------------------------- layers (each under its own name scope)


def scope(name):
    """The layer's own name scope; `name` is also its variables' key, so blocks pass "block/layer"."""
    return tf.name_scope(name.rsplit("/", 1)[-1])


def conv(net, x, name, k, cout, stride=1, padding="SAME", bias=False, dilation=1):
    with scope(name):
        w = net.p(f"{name}/kernel", (k, k, x.shape[-1], cout), "kernel")
        y = tf.nn.conv2d(x, w, stride, padding, dilations=dilation)
        return tf.nn.bias_add(y, net.p(f"{name}/bias", (cout,), "bias")) if bias else y


def depthwise(net, x, name, k=3, stride=1, padding="SAME", bias=False, multiplier=1, dilation=1):
    with scope(name):
        w = net.p(f"{name}/depthwise_kernel", (k, k, x.shape[-1], multiplier), "kernel")
        # The raw op keeps dilations as an attr (tf.nn.depthwise_conv2d would wrap it in SpaceToBatchND).
        y = tf.raw_ops.DepthwiseConv2dNative(input=x, filter=w, strides=[1, stride, stride, 1], padding=padding,
                                             dilations=[1, dilation, dilation, 1])
        return tf.nn.bias_add(y, net.p(f"{name}/bias", (x.shape[-1] * multiplier,), "bias")) if bias else y


def batch_norm(net, x, name, epsilon=1e-3):
    """An inference FusedBatchNormV3, as tf.keras 2's BatchNormalization(fused=True) emits."""
    with scope(name):
        c = x.shape[-1]
        ps = [net.p(f"{name}/{k}", (c,), k) for k in ("gamma", "beta", "mean", "var")]
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, *ps, epsilon=epsilon, is_training=False)
        return y


def prelu(net, x, name):
    """tf.keras 2's PReLU(shared_axes=[1, 2]): relu(x) - alpha * relu(-x)."""
    with scope(name):
        alpha = net.p(f"{name}/alpha", (1, 1, x.shape[-1]), "alpha")
        return tf.nn.relu(x) + (-alpha) * tf.nn.relu(-x)


def dense(net, x, name, cout, bias=True):
    with scope(name):
        y = tf.matmul(x, net.p(f"{name}/kernel", (x.shape[-1], cout), "kernel"))
        return y + net.p(f"{name}/bias", (cout,), "bias") if bias else y


# ---------------------------------------------------------------- the models


def mobilenet_v2(net, image):
    """MobileNetV2 in small: stem, inverted residual blocks (expand, depthwise, linear project), head."""

    def block(x, name, expand, cout, stride):
        cin = x.shape[-1]
        with tf.name_scope(name):
            y = x
            if expand != 1:
                y = tf.nn.relu6(batch_norm(net, conv(net, y, f"{name}/expand", 1, cin * expand), f"{name}/expand_bn"))
            if stride == 2:  # keras.applications' correct_pad, then a VALID depthwise conv
                y = tf.pad(y, [[0, 0], [0, 1], [0, 1], [0, 0]])
            y = depthwise(net, y, f"{name}/depthwise", stride=stride, padding="VALID" if stride == 2 else "SAME")
            y = tf.nn.relu6(batch_norm(net, y, f"{name}/depthwise_bn"))
            y = batch_norm(net, conv(net, y, f"{name}/project", 1, cout), f"{name}/project_bn")
            return x + y if stride == 1 and cin == cout else y

    x = tf.nn.relu6(batch_norm(net, conv(net, image, "stem", 3, 8, stride=2), "stem_bn"))
    x = block(x, "block1", 1, 8, 1)
    x = block(x, "block2", 3, 12, 2)
    x = block(x, "block3", 3, 12, 1)
    x = block(x, "block4", 3, 16, 2)
    x = tf.nn.relu6(batch_norm(net, conv(net, x, "head", 1, 32), "head_bn"))
    x = tf.reduce_mean(x, [1, 2])
    return {"probs": tf.nn.softmax(dense(net, x, "logits", 10))}


def blazeface(net, image):
    """BlazeFace in small: a 5x5 stem, BlazeBlocks (5x5 depthwise + 1x1, residual; max-pool and channel
    padding on the strided ones), PReLU as in MediaPipe's models, and two heads at two scales
    (2 anchors per cell at stride 4, 6 at stride 8) as in the real model."""

    def blaze_block(x, name, cout, stride, act):
        cin = x.shape[-1]
        with tf.name_scope(name):
            if stride == 2:
                y = tf.pad(x, [[0, 0], [1, 2], [1, 2], [0, 0]])
                y = depthwise(net, y, f"{name}/depthwise", k=5, stride=2, padding="VALID", bias=True)
                short = tf.nn.max_pool2d(x, 2, 2, "VALID")
            else:
                y = depthwise(net, x, f"{name}/depthwise", k=5, bias=True)
                short = x
            y = conv(net, y, f"{name}/pointwise", 1, cout, bias=True)
            if cout > cin:
                short = tf.pad(short, [[0, 0], [0, 0], [0, 0], [0, cout - cin]])
            y = y + short
            return prelu(net, y, f"{name}/prelu") if act == "prelu" else tf.nn.relu(y)

    x = tf.nn.relu(conv(net, image, "stem", 5, 8, stride=2, bias=True))  # 16x16
    x = blaze_block(x, "block1", 8, 1, "relu")
    x = blaze_block(x, "block2", 16, 2, "relu")  # 8x8
    x = blaze_block(x, "block3", 16, 1, "prelu")
    fine = prelu(net, conv(net, x, "fine", 1, 16, bias=True), "fine_prelu")
    x = blaze_block(x, "block4", 24, 2, "relu")  # 4x4
    coarse = blaze_block(x, "block5", 24, 1, "relu")

    scores = tf.concat([tf.reshape(conv(net, fine, "classificator_16", 1, 2, bias=True), [1, -1, 1]),
                        tf.reshape(conv(net, coarse, "classificator_8", 1, 6, bias=True), [1, -1, 1])], axis=1)
    boxes = tf.concat([tf.reshape(conv(net, fine, "regressor_16", 1, 32, bias=True), [1, -1, 16]),
                       tf.reshape(conv(net, coarse, "regressor_8", 1, 96, bias=True), [1, -1, 16])], axis=1)
    return {"classificators": scores, "regressors": boxes}


def resnet_block(net, image):
    """ResNet pieces: input normalisation, an explicitly padded stem, max pool, a projection
    bottleneck, a pre-activation block (its batch norms follow additions, so they stay), a dilated
    conv, global pooling with keepdims + Squeeze, a bias-free MatMul."""
    x = (image - tf.constant([0.5, 0.4, 0.3])) / tf.constant([0.25, 0.2, 0.3])
    x = tf.nn.relu(batch_norm(net, conv(net, x, "stem", 3, 16, padding=[[0, 0], [1, 1], [1, 1], [0, 0]]), "stem_bn"))
    x = tf.nn.max_pool2d(x, 3, 2, "SAME")  # 12x12

    with tf.name_scope("bottleneck"):
        y = tf.nn.relu(batch_norm(net, conv(net, x, "bottleneck/reduce", 1, 8), "bottleneck/reduce_bn"))
        y = tf.nn.relu(batch_norm(net, conv(net, y, "bottleneck/conv", 3, 8, stride=2), "bottleneck/conv_bn"))
        y = batch_norm(net, conv(net, y, "bottleneck/expand", 1, 32), "bottleneck/expand_bn", epsilon=1.001e-5)
        short = batch_norm(net, conv(net, x, "bottleneck/shortcut", 1, 32, stride=2), "bottleneck/shortcut_bn", epsilon=1.001e-5)
        x = tf.nn.relu(y + short)  # 6x6x32

    with tf.name_scope("preact"):
        y = tf.nn.relu(batch_norm(net, x, "preact/bn1"))
        y = conv(net, y, "preact/conv1", 3, 32, bias=True, dilation=2)
        y = tf.nn.relu(batch_norm(net, y, "preact/bn2"))
        y = conv(net, y, "preact/conv2", 3, 32, bias=True)
        x = x + y

    x = tf.squeeze(tf.reduce_mean(x, [1, 2], keepdims=True), [1, 2])
    return {"logits": dense(net, x, "fc", 5, bias=False)}


def recurrent(net, sequence):
    """An Elman RNN over a sequence of any length: tf.while_loop over TensorArrays, then a tf.cond
    on the final state. In a TF2 function: While/If with TensorList ops; in a TF1 graph: v1 control
    flow with TensorArrayV3 ops."""
    hidden = 6
    wx = net.p("rnn/wx", (4, hidden), "kernel")
    wh = net.p("rnn/wh", (hidden, hidden), "kernel")
    b = net.p("rnn/b", (hidden,), "bias")
    batch, steps = tf.shape(sequence)[0], tf.shape(sequence)[1]
    xs = tf.TensorArray(tf.float32, size=steps).unstack(tf.transpose(sequence, [1, 0, 2]))
    states = tf.TensorArray(tf.float32, size=steps, element_shape=[None, hidden])

    def body(t, h, states):
        h = tf.tanh(tf.matmul(xs.read(t), wx) + tf.matmul(h, wh) + b)
        return t + 1, h, states.write(t, h)

    _, h, states = tf.while_loop(lambda t, h, s: t < steps, body, [tf.constant(0), tf.zeros(tf.stack([batch, hidden])), states])
    final = tf.cond(tf.reduce_mean(h) > 0, lambda: h * 2.0, lambda: h - 1.0)
    return {"states": tf.transpose(states.stack(), [1, 0, 2]), "final": final}


NMS = {"max_boxes": 10, "iou_threshold": 0.3, "score_threshold": 0.5}


def nms_candidates(net, image):
    """An SSD-style head on an 8x8 grid: one box and score per cell (64 candidates)."""
    x = tf.nn.relu(conv(net, image, "backbone", 3, 8, stride=2, bias=True))
    y = tf.reshape(conv(net, x, "head", 1, 5, bias=True), [-1, 5])
    grid = (np.stack(np.meshgrid(np.arange(8), np.arange(8), indexing="ij"), -1).reshape(-1, 2) + 0.5) / 8
    centers = tf.constant(grid.astype("float32")) + 0.1 * tf.tanh(y[:, :2])
    sizes = 0.2 * tf.sigmoid(y[:, 2:4]) + 0.1
    boxes = tf.concat([centers - sizes / 2, centers + sizes / 2], axis=1)
    return boxes, tf.sigmoid(y[:, 4])


def nms_detector(net, image):
    """The candidates through tf.image.non_max_suppression (NonMaxSuppressionV3) and tf.where."""
    boxes, scores = nms_candidates(net, image)
    keep = tf.image.non_max_suppression(boxes, scores, NMS["max_boxes"], NMS["iou_threshold"], NMS["score_threshold"])
    confident = tf.where(scores > NMS["score_threshold"])
    return {"boxes": tf.gather(boxes, keep), "scores": tf.gather(scores, keep), "indices": keep,
            "count": tf.shape(confident)[0]}


def dynamic_shapes(net, image):
    """A small segmenter for any batch and size (H, W multiples of 4), all of its sizes computed
    from Shape through StridedSlice / FloorDiv / Pack: MirrorPad, resizes to computed sizes, a
    transposed conv with a computed output shape, DepthToSpace, a Reshape to a Pack'ed shape."""
    shape = tf.shape(image)
    batch, h, w = shape[0], shape[1], shape[2]
    x = tf.pad(image, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
    x = tf.nn.relu(batch_norm(net, conv(net, x, "enc1", 3, 8, padding="VALID"), "enc1_bn"))
    x = tf.nn.relu(batch_norm(net, conv(net, x, "enc2", 3, 16, stride=2), "enc2_bn"))  # H/2
    small = tf.image.resize(x, tf.stack([h // 4, w // 4]), method="bilinear")
    context = tf.image.resize(conv(net, small, "context", 1, 8, bias=True), tf.stack([h // 2, w // 2]), method="nearest")
    x = tf.concat([x, context], axis=-1)  # 24 channels
    with tf.name_scope("up"):
        kernel = net.p("up/kernel", (3, 3, 8, 24), "kernel")
        up = tf.nn.conv2d_transpose(x, kernel, tf.stack([batch, h, w, 8]), 2, "SAME")
        up = tf.nn.relu(tf.nn.bias_add(up, net.p("up/bias", (8,), "bias")))
    shuffled = tf.nn.depth_to_space(conv(net, x, "shuffle", 1, 16, bias=True), 2)  # H, W, 4
    logits = conv(net, tf.concat([up, shuffled], axis=-1), "classes", 1, 3, bias=True)
    features = tf.reshape(x, tf.stack([batch, -1, 24])) * (1.0 / tf.cast(h * w, tf.float32))
    return {"mask": tf.nn.softmax(logits), "features": features}


def tiny_classifier(net, image):
    """A conv, BN, ReLU, Flatten as a Reshape to a constant int32 shape, Dense, Softmax."""
    x = tf.nn.relu(batch_norm(net, conv(net, image, "conv", 3, 4, stride=2), "conv_bn"))
    x = tf.reshape(x, [-1, 8 * 8 * 4])
    return {"probs": tf.nn.softmax(dense(net, x, "dense", 10))}
