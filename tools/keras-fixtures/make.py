"""Real Keras models as TF.js layers-model fixtures for packages/tfjs (src/io/keras-real.test.ts).

What it does
  Builds two small seeded models with Keras, trains them for a few steps, gives the
  BatchNormalization layers non-trivial statistics, saves them with Keras, and converts the saved
  files to TF.js layers-model files the way `tensorflowjs_converter` does:

    packages/tfjs/src/io/fixtures/keras/
      mobilenet-h5/       MobileNet-style model; model.save("m.h5"),
                          then the converter's `--input_format keras` path
      inception-h5/       Inception-style model, same path
      mobilenet-keras-v3/ the MobileNet-style model; model.save("m.keras"),
                          then the converter's `--input_format keras_keras` path
                          (weights named by position, layers/<layer>/vars/<i>,
                          optimizer state included, as that path writes them)

  Each directory holds model.json, group1-shard1of1.bin, and sample.json: 4 input images and
  Keras's own `model.predict` outputs for them (float32 values, flat, row-major, with shapes).

Conversion
  tensorflowjs cannot be installed here (it pins tf_keras / TF versions and is not among the
  local wheels), so this script reproduces the converter's output layout. It was written from
  the converter sources (github.com/tensorflow/tfjs at 0fc04d958ea5, June 2025, the tfjs 4.22
  line): tfjs-converter/python/tensorflowjs/converters/keras_h5_conversion.py
  (h5_merged_saved_model_to_tfjs_format, h5_v3_merged_saved_model_to_tfjs_format,
  write_artifacts), converter.py (dispatch_keras_keras_to_tfjs_layers_model_conversion) and
  write_weights.py. In short:
    * model.json = {format: "layers-model", generatedBy: "keras v<keras_version>",
      convertedBy: <converter>, modelTopology, weightsManifest}, written with json.dump defaults.
    * .h5 path: modelTopology = {keras_version, backend, model_config, training_config} from the
      HDF5 file's attributes; weights are the model_weights/<layer> groups in HDF5 key order,
      each group's `weight_names` in order, named as stored ("conv2d/kernel", ":0" dropped).
      Optimizer weights are not converted.
    * .keras path: modelTopology = {keras_version (metadata.json), model_config (config.json with
      every "module", "registered_name" and "date_saved" key removed)}; no backend, no
      training_config. Weights: every dataset of model.weights.h5 in HDF5 key order, named by its
      path (layers/conv2d/vars/0, optimizer/vars/3, ...); int64 values become int32.
    * One weight group, one shard (group1-shard1of1.bin): values concatenated in manifest order.
  convertedBy says that the layout was reproduced here, not written by the converter itself.

Versions that made the committed fixtures
  Python 3.11, tensorflow-cpu 2.21.0, keras 3.15.1 (TensorFlow backend), h5py 3.14.0,
  numpy 2.4.6.

Rerun (no network needed; the wheels are local):
    python3.11 -m venv /work/scratch-venv
    /work/scratch-venv/bin/pip install --no-index --find-links /opt/pypi/files tensorflow_cpu
    nice -n 19 /work/scratch-venv/bin/python tools/keras-fixtures/make.py
  then `npx vitest run packages/tfjs/src/io/keras-real.test.ts`. The script overwrites the three
  fixture directories. Training uses one thread and deterministic ops, so a rerun with the same
  versions gives the same bytes, except the "shared_object_id" values in
  mobilenet-keras-v3/model.json (Python object ids that Keras writes into config.json; the
  converter keeps them). Other versions give different, equally valid, weights.
"""

import json
import os
import shutil
import sys
import tempfile
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "packages", "tfjs", "src", "io", "fixtures", "keras")
CONVERTED_BY = "TensorFlow.js Converter v4.22.0 layout, reproduced by tools/keras-fixtures/make.py"
SHAPE = (16, 16, 1)
SAMPLES = 4


def mobilenet_style() -> keras.Model:
    """Stem conv, a depthwise-separable residual block and a strided depthwise conv, as in MobileNet V1/V2."""
    inp = keras.Input(SHAPE, name="image")
    x = layers.ZeroPadding2D(((0, 1), (0, 1)), name="stem_pad")(inp)  # MobileNetV2's correct_pad
    x = layers.Conv2D(8, 3, strides=2, padding="valid", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    stem = layers.ReLU(max_value=6.0, name="stem_relu6")(x)
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="block_dw")(stem)
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="block_dw_bn")(x)
    x = layers.ReLU(max_value=6.0, name="block_dw_relu6")(x)
    x = layers.Conv2D(8, 1, use_bias=False, name="block_project")(x)
    x = layers.BatchNormalization(center=False, name="block_project_bn")(x)
    x = layers.Add(name="block_add")([stem, x])
    x = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, name="down_dw")(x)
    x = layers.ReLU(max_value=6.0, name="down_relu6")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    out = layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="mobilenet_style")


def inception_style() -> keras.Model:
    """A stem conv and one Inception (v1) module: 1x1, 3x3, 5x5 and pooling branches, concatenated."""
    inp = keras.Input(SHAPE)
    stem = layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    b1 = layers.Conv2D(4, 1, activation="relu")(stem)
    b2 = layers.Conv2D(3, 1, activation="relu")(stem)
    b2 = layers.Conv2D(4, 3, padding="same", activation="relu")(b2)
    b3 = layers.Conv2D(2, 1, activation="relu")(stem)
    b3 = layers.Conv2D(4, 5, padding="same", activation="relu")(b3)
    b4 = layers.MaxPooling2D(3, strides=1, padding="same")(stem)
    b4 = layers.Conv2D(4, 1, activation="relu")(b4)
    x = layers.Concatenate(axis=-1)([b1, b2, b3, b4])
    x = layers.AveragePooling2D(4)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.25)(x)
    out = layers.Dense(5)(x)  # logits: no softmax to hide differences
    return keras.Model(inp, out)


def train(model: keras.Model, classes: int, rng: np.random.Generator, from_logits: bool) -> None:
    """A few Adam steps on random data: trained (non-initial) weights and a training_config."""
    x = rng.uniform(-1, 1, (32, *SHAPE)).astype("float32")
    y = rng.integers(0, classes, 32)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)


def set_batchnorm_stats(model: keras.Model, rng: np.random.Generator) -> None:
    """BatchNormalization gamma/beta/moving stats far from their initial 1/0/0/1, so they are tested."""
    for layer in model.layers:
        if not isinstance(layer, layers.BatchNormalization):
            continue
        values = []
        for w in layer.weights:
            role = w.path.split("/")[-1]
            n = w.shape
            if role == "moving_variance":
                values.append(rng.uniform(0.3, 2.5, n).astype("float32"))
            elif role == "gamma":
                values.append(rng.uniform(0.5, 1.5, n).astype("float32"))
            else:  # beta, moving_mean
                values.append(rng.uniform(-0.8, 0.8, n).astype("float32"))
        layer.set_weights(values)


def sample(model: keras.Model, rng: np.random.Generator) -> dict:
    # Multiples of 1/16: exact in float32 and short in JSON.
    x = (rng.integers(-16, 17, (SAMPLES, *SHAPE)) / 16).astype("float32")
    y = model.predict(x, verbose=0).astype("float32")
    return {
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "input_shape": list(x.shape),
        "inputs": [float(v) for v in x.ravel()],
        "output_shape": list(y.shape),
        "outputs": [float(v) for v in y.ravel()],
    }


# ---------------------------------------------------------------- converter layout


def text(v) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def converter_dtype(a: np.ndarray) -> np.ndarray:
    """write_weights' automatic conversions (float64/float16 -> float32, int64 -> int32)."""
    auto = {np.dtype("float64"): np.float32, np.dtype("float16"): np.float32, np.dtype("int64"): np.int32}
    return a.astype(auto[a.dtype]) if a.dtype in auto else a


def from_h5(path: str) -> tuple[dict, list[tuple[str, np.ndarray]]]:
    """`--input_format keras`: topology from the file attributes, weights from model_weights/."""
    with h5py.File(path, "r") as f:
        topology = {"keras_version": text(f.attrs["keras_version"]), "backend": text(f.attrs["backend"])}
        topology["model_config"] = json.loads(text(f.attrs["model_config"]))
        if "training_config" in f.attrs:
            topology["training_config"] = json.loads(text(f.attrs["training_config"]))
        weights = []

        def group(g):
            if "weight_names" in g.attrs:
                for name in [text(n) for n in g.attrs["weight_names"].tolist()]:
                    weights.append((name[:-2] if name.endswith(":0") else name, np.array(g[name])))
            else:
                for key in g.keys():
                    group(g[key])

        for layer_name in f["model_weights"]:
            group(f["model_weights"][layer_name])
    return topology, weights


def drop_keys(v, keys):
    if isinstance(v, dict):
        return {k: drop_keys(x, keys) for k, x in v.items() if k not in keys}
    if isinstance(v, list):
        return [drop_keys(x, keys) for x in v]
    return v


def from_keras_file(path: str) -> tuple[dict, list[tuple[str, np.ndarray]]]:
    """`--input_format keras_keras`: metadata.json + config.json + model.weights.h5 of a .keras zip."""
    with tempfile.TemporaryDirectory() as d:
        with zipfile.ZipFile(path) as z:
            z.extractall(d)
        meta = json.load(open(os.path.join(d, "metadata.json")))
        config = json.load(open(os.path.join(d, "config.json")))
        topology = {"keras_version": meta["keras_version"], "model_config": drop_keys(config, {"module", "registered_name", "date_saved"})}
        weights = []

        def walk(g, prefix):
            for key in g.keys():
                if isinstance(g[key], h5py.Group):
                    walk(g[key], f"{prefix}{key}/")
                else:  # a group holding datasets: all of them, in key order
                    weights.extend((f"{prefix}{k}", np.array(g[k])) for k in g.keys())
                    break

        with h5py.File(os.path.join(d, "model.weights.h5"), "r") as f:
            walk(f, "")
    return topology, weights


def write_tfjs(topology: dict, weights: list[tuple[str, np.ndarray]], out: str, sample_json: dict) -> None:
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    manifest = []
    with open(os.path.join(out, "group1-shard1of1.bin"), "wb") as f:
        for name, data in weights:
            data = converter_dtype(data)
            f.write(data.tobytes())
            manifest.append({"name": name, "shape": list(data.shape), "dtype": data.dtype.name})
    model_json = {
        "format": "layers-model",
        "generatedBy": f"keras v{topology['keras_version']}",
        "convertedBy": CONVERTED_BY,
        "modelTopology": topology,
        "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": manifest}],
    }
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(model_json, f)
    with open(os.path.join(out, "sample.json"), "w") as f:
        json.dump(sample_json, f)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"{os.path.relpath(out, ROOT)}: {len(weights)} weights, {size} bytes")


def main() -> None:
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    print(f"tensorflow {tf.__version__}, keras {keras.__version__} ({keras.backend.backend()}), h5py {h5py.__version__}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, build, classes, logits, seed in [("mobilenet", mobilenet_style, 4, False, 1), ("inception", inception_style, 5, True, 2)]:
            keras.utils.set_random_seed(seed)
            rng = np.random.default_rng(seed)
            model = build()
            train(model, classes, rng, logits)
            set_batchnorm_stats(model, rng)
            s = sample(model, rng)
            h5 = os.path.join(tmp, f"{name}.h5")
            model.save(h5)
            write_tfjs(*from_h5(h5), os.path.join(OUT, f"{name}-h5"), s)
            if name == "mobilenet":
                kf = os.path.join(tmp, name, f"{name}.keras")
                os.makedirs(os.path.dirname(kf))
                model.save(kf)
                write_tfjs(*from_keras_file(kf), os.path.join(OUT, f"{name}-keras-v3"), s)


if __name__ == "__main__":
    sys.exit(main())
