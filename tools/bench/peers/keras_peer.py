"""TensorFlow/Keras CPU peer of the benchmarks: the zoo's networks as Keras models, trained with
`model.fit` (Adam 1e-3, sparse categorical cross-entropy), inference through a tf.function.
Run by tools/bench/peers.mjs, never by hand: `python keras_peer.py THREADS` (intra-op threads;
inter-op 1). Needs tensorflow_cpu from the wheelhouse:
    python3.11 -m venv /work/scratch-venv
    /work/scratch-venv/bin/pip install --no-index --find-links /opt/pypi/files tensorflow_cpu
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
tf.config.threading.set_intra_op_parallelism_threads(THREADS)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras  # noqa: E402
from keras import layers  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from protocol import MODELS, mobilenet_v2_plan, serve, timed  # noqa: E402


def conv_bn(x, filters, kernel, strides, act=None):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(epsilon=1e-3)(x)
    if act == "relu":
        x = layers.ReLU()(x)
    elif act == "relu6":
        x = layers.ReLU(6.0)(x)
    return x


def lenet300100():
    inp = keras.Input((28, 28, 1))
    x = layers.Flatten()(inp)
    x = layers.Dense(300, activation="relu")(x)
    x = layers.Dense(100, activation="relu")(x)
    return keras.Model(inp, layers.Dense(10, activation="softmax")(x))


def lenet5():
    inp = keras.Input((28, 28, 1))
    x = layers.Conv2D(20, 5)(inp)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(50, 5)(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(500, activation="relu")(x)
    return keras.Model(inp, layers.Dense(10, activation="softmax")(x))


def resnet20():
    inp = keras.Input((28, 28, 1))
    x = conv_bn(inp, 16, 3, 1, "relu")
    width = 16
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            stride = 2 if stage > 0 and block == 0 else 1
            y = conv_bn(x, filters, 3, stride, "relu")
            y = conv_bn(y, filters, 3, 1)
            shortcut = conv_bn(x, filters, 1, stride) if stride != 1 or width != filters else x
            x = layers.ReLU()(layers.Add()([y, shortcut]))
            width = filters
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Dense(10, activation="softmax")(x))


def mobilenetv2():
    stem, blocks, head = mobilenet_v2_plan(0.5)
    inp = keras.Input((28, 28, 1))
    x = conv_bn(inp, stem, 3, 1, "relu6")
    for expand, _, out, stride, residual in blocks:
        y = conv_bn(x, expand, 1, 1, "relu6") if expand else x
        y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(y)
        y = layers.ReLU(6.0)(layers.BatchNormalization(epsilon=1e-3)(y))
        y = conv_bn(y, out, 1, 1)
        x = layers.Add()([x, y]) if residual else y
    x = conv_bn(x, head, 1, 1, "relu6")
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Dense(10, activation="softmax")(x))


BUILD = {name: globals()[name] for name in MODELS}
built = {}
rng = np.random.default_rng(1)


def model(name):
    if name not in built:
        m = BUILD[name]()
        m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        built[name] = (m, tf.function(lambda x, m=m: m(x, training=False), reduce_retracing=True))
    return built[name]


def train(req):
    m, _ = model(req["model"])
    n = req["batch"] * req["steps"]
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int32)
    s = timed(lambda: m.fit(x, y, batch_size=req["batch"], epochs=1, shuffle=False, verbose=0))
    return {"samples_per_s": n / s, "seconds": s}


def latency(req):
    _, f = model(req["model"])
    x = tf.constant(rng.random((req["batch"], 28, 28, 1), dtype=np.float32))
    for _ in range(req.get("warmup", 3)):
        f(x).numpy()
    return {"times_ms": [1000 * timed(lambda: f(x).numpy()) for _ in range(req["calls"])]}


serve({
    "info": lambda req: {"framework": "tensorflow", "version": f"TensorFlow {tf.__version__}, Keras {keras.__version__}", "threads": THREADS, "inter_op_threads": 1, "jit_compile": model("lenet5")[0].jit_compile, "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)")},
    "params": lambda req: {"params": int(model(req["model"])[0].count_params())},
    "train": train,
    "latency": latency,
})
