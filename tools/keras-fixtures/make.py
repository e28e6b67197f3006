"""Real Keras models as TF.js layers-model fixtures for packages/tfjs (src/io/keras-real.test.ts, src/io/keras-apps.test.ts).

Run (no network needed; the wheels are local):
    python3.11 -m venv /work/scratch-venv
    /work/scratch-venv/bin/pip install --no-index --find-links /opt/pypi/files tensorflow_cpu
    nice -n 19 /work/scratch-venv/bin/python tools/keras-fixtures/make.py [NAME ...]
NAME is a group below (default: all of them); each overwrites its own fixture directories.
Then `npx vitest run packages/tfjs/src/io/keras-real.test.ts packages/tfjs/src/io/keras-apps.test.ts`.

What it writes
  toy: packages/tfjs/src/io/fixtures/keras/ (keras-real.test.ts)
      mobilenet-h5/       a MobileNet-style model, trained a few steps; model.save("m.h5"), then the
                          converter's `--input_format keras` path
      inception-h5/       an Inception-style model, same path
      mobilenet-keras-v3/ the MobileNet-style model; model.save("m.keras"), then the converter's
                          `--input_format keras_keras` path (weights named by position,
                          layers/<layer>/vars/<i>, optimizer state included, as that path writes them)
  mobilenet, mobilenetv2, mobilenetv3small, efficientnetb0, resnet50, densenet121, xception,
  nasnetmobile, text, audio: packages/tfjs/src/io/fixtures/keras-apps/<group>-<layout>-<encoding>/
      (keras-apps.test.ts). The stock keras.applications architectures, weights=None, at a small
      input size and a reduced width (apps.py says how; make.py checks that each has the stock
      architecture's layers and connections), plus a text and an audio classifier. Each is
      exported through both converter paths, `h5` and `keras`, each with one weight encoding:
      float32, or the converter's --quantize_uint8 / --quantize_float16 (tfjs_layout.py).

  Each directory holds model.json, group1-shard1of1.bin and sample.json: a few fixed inputs and
  Keras's own `model.predict` outputs for them (float32 values, flat, row-major, with shapes; the
  keras-apps ones also give input_dtype). For a quantized fixture the outputs are those of the
  model holding the weights as TF.js decodes them (Keras's load_weights of a copy of the saved
  file whose weights are the decoded values), so they are the reference for the file as it is.

Weights of the keras-apps fixtures
  No training: the initializers' values (seeded), biases / BN gamma and beta / embeddings set from
  a seeded numpy generator, and the statistics (BatchNormalization moving mean and variance,
  Normalization mean and variance) taken from a calibration batch like the sample inputs and
  rounded to 3 significant digits, so that every BN sees data of its own statistics and the
  outputs neither vanish nor saturate. Initializers and numpy are platform independent and the
  rounding hides last-bit differences of the calibration pass, so a rerun with the same versions
  gives the same weight files (barring a statistic on a rounding boundary); the predict outputs
  may differ in the last bits on another CPU, and the *-keras-*/model.json files in their
  "shared_object_id" values on every run (see below).

Conversion
  tensorflowjs cannot be installed here (it pins tf_keras / TF versions and is not among the
  local wheels), so tfjs_layout.py reproduces the converter's output layout. It was written from
  the converter sources (github.com/tensorflow/tfjs at 0fc04d958ea5, June 2025, the tfjs 4.22
  line): tfjs-converter/python/tensorflowjs/converters/keras_h5_conversion.py
  (h5_merged_saved_model_to_tfjs_format, h5_v3_merged_saved_model_to_tfjs_format,
  write_artifacts), converter.py (dispatch_keras_keras_to_tfjs_layers_model_conversion),
  write_weights.py and quantization.py. In short:
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
    * Quantization (--quantize_uint8 / --quantize_float16 without names: every float32 weight):
      uint8 is affine per tensor, scale = (max - min) / 255 with min nudged so that 0.0 is a
      level, manifest entry quantization = {dtype, min, scale, original_dtype}; float16 is a cast,
      quantization = {dtype, original_dtype}. int32 weights are never quantized.
    * One weight group, one shard (group1-shard1of1.bin): values concatenated in manifest order.
  convertedBy says that the layout was reproduced here, not written by the converter itself.
  Checked once against the converter's own code: keras_h5_conversion.py, write_weights.py and
  quantization.py of that commit, run (outside this repository) on the same saved files with the
  same quantization flags, wrote the same weight files and the same model.json but for
  convertedBy, for all 20 keras-apps fixtures (numpy 2.4.6).
  Stock TF.js 4.22 loads none of these files as they are: its deserializer predates Keras 3's
  config format (batch_shape, inbound_nodes {args, kwargs}, DTypePolicy objects; see
  github.com/tensorflow/tfjs/issues/8494). keras-apps.test.ts rewrites the topology the way a
  Keras 2 export would have written it, to check each fixture against Keras with stock TF.js.

Versions that made the committed fixtures
  Python 3.11, tensorflow-cpu 2.21.0, keras 3.15.1 (TensorFlow backend), h5py 3.14.0,
  numpy 2.4.6. The toy fixtures are trained, and a rerun on another CPU changes the last bits of
  some trained weights (float sums in a different order): they were made on the first machine
  and left as they were. Their mobilenet-keras-v3/model.json also holds "shared_object_id" values
  (Python object ids that Keras writes into config.json; the converter keeps them).
"""

import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

import apps  # noqa: E402
from tfjs_layout import from_h5, from_keras_file, replace_weights, write_tfjs  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "packages", "tfjs", "src", "io", "fixtures", "keras")
OUT_APPS = os.path.join(ROOT, "packages", "tfjs", "src", "io", "fixtures", "keras-apps")
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




def write_sample(out: str, sample_json: dict) -> None:
    with open(os.path.join(out, "sample.json"), "w") as f:
        json.dump(sample_json, f)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"{os.path.relpath(out, ROOT)}: {size} bytes", flush=True)


def make_toy(tmp: str) -> None:
    for name, build, classes, logits, seed in [("mobilenet", mobilenet_style, 4, False, 1), ("inception", inception_style, 5, True, 2)]:
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        model = build()
        train(model, classes, rng, logits)
        set_batchnorm_stats(model, rng)
        s = sample(model, rng)
        h5 = os.path.join(tmp, f"{name}.h5")
        model.save(h5)
        out = os.path.join(OUT, f"{name}-h5")
        write_tfjs(*from_h5(h5), out, CONVERTED_BY)
        write_sample(out, s)
        if name == "mobilenet":
            kf = os.path.join(tmp, name, f"{name}.keras")
            os.makedirs(os.path.dirname(kf))
            model.save(kf)
            out = os.path.join(OUT, f"{name}-keras-v3")
            write_tfjs(*from_keras_file(kf), out, CONVERTED_BY)
            write_sample(out, s)


# ---------------------------------------------------------------- keras-apps fixtures

A = keras.applications
# group: (builder, the stock builder whose structure it must have, sample inputs, input shape,
#         number of samples, [(layout, encoding)], loss to compile with or None, seed)
APPS = {
    "mobilenet": (apps.mobilenet, lambda: A.MobileNet(input_shape=(32, 32, 3), weights=None, classes=apps.CLASSES),
                  apps.signed_images, (32, 32, 3), 2, [("h5", "uint8"), ("keras", "float16")], None, 11),
    "mobilenetv2": (apps.mobilenet_v2, lambda: A.MobileNetV2(input_shape=(32, 32, 3), weights=None, classes=apps.CLASSES),
                    apps.signed_images, (32, 32, 3), 2, [("h5", "uint8"), ("keras", "uint8")], None, 12),
    "mobilenetv3small": (apps.mobilenet_v3_small, lambda: A.MobileNetV3Small(input_shape=(32, 32, 3), weights=None, classes=apps.CLASSES),
                         apps.pixel_images, (32, 32, 3), 2, [("h5", "uint8"), ("keras", "uint8")], None, 13),
    "efficientnetb0": (apps.efficientnet_b0, lambda: A.EfficientNetB0(input_shape=(32, 32, 3), weights=None, classes=apps.CLASSES, classifier_activation=None),
                       apps.pixel_images, (32, 32, 3), 2, [("h5", "float16"), ("keras", "uint8")], None, 14),
    "resnet50": (apps.resnet50, lambda: A.ResNet50(input_shape=(32, 32, 3), weights=None, classes=apps.CLASSES, classifier_activation=None),
                 apps.signed_images, (32, 32, 3), 2, [("h5", "uint8"), ("keras", "float16")], None, 15),
    "densenet121": (apps.densenet121, lambda: A.DenseNet121(input_shape=(32, 32, 3), weights=None, classes=apps.CLASSES),
                    apps.signed_images, (32, 32, 3), 2, [("h5", "float16"), ("keras", "uint8")], None, 16),
    "xception": (apps.xception_model, lambda: A.Xception(input_shape=(71, 71, 3), weights=None, classes=apps.CLASSES),
                 apps.signed_images, (71, 71, 3), 2, [("h5", "uint8"), ("keras", "float16")], None, 17),
    "nasnetmobile": (apps.nasnet_mobile, lambda: A.NASNetMobile(input_shape=(32, 32, 3), weights=None, classes=apps.CLASSES),
                     apps.signed_images, (32, 32, 3), 2, [("h5", "float16"), ("keras", "float32")], None, 18),
    "text": (apps.text_classifier, None, apps.token_ids, (apps.TEXT_LENGTH,), 4,
             [("h5", "float32"), ("keras", "uint8")], "sparse_categorical_crossentropy", 19),
    "audio": (apps.audio_classifier, None, apps.signed_images, (apps.AUDIO_LENGTH, 1), 4,
              [("h5", "uint8"), ("keras", "float32")], "mean_squared_error", 20),
}


def structure(model: keras.Model) -> list:
    """Each layer's name, class and inputs: what a width change must leave alone."""
    def inputs(node):
        return [a["config"]["keras_history"][0] for a in json_tensors(node)]

    return [(l["name"], l["class_name"], [inputs(n) for n in l["inbound_nodes"]]) for l in model.get_config()["layers"]]


def json_tensors(v):
    if isinstance(v, dict):
        if v.get("class_name") == "__keras_tensor__":
            return [v]
        return [t for x in v.values() for t in json_tensors(x)]
    if isinstance(v, (list, tuple)):
        return [t for x in v for t in json_tensors(x)]
    return []


def fresh(seed: int) -> None:
    """Layer names and random numbers as in a fresh process."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)


def predict_as_read(model: keras.Model, saved: str, weights, decoded, x) -> np.ndarray:
    """Keras's predict with the weights as TF.js decodes them, loaded by Keras from a copy of the saved file.

    load_weights rather than load_model: Keras cannot load back an .h5 model holding op nodes
    (the NotEqual of Embedding(mask_zero=True), MobileNetV3's x + 3.0): "Unknown layer".
    """
    as_read = f"{os.path.splitext(saved)[0]}-decoded{os.path.splitext(saved)[1]}"
    replace_weights(saved, weights, decoded, as_read)
    own = model.get_weights()
    model.load_weights(as_read)
    apps.weights_changed(model)
    y = model.predict(x, verbose=0).astype("float32")
    model.set_weights(own)
    apps.weights_changed(model)
    return y


def make_app(tmp: str, group: str) -> None:
    build, stock, inputs, shape, samples, exports, loss, seed = APPS[group]
    if stock is not None:
        fresh(seed)
        want = structure(stock())
    fresh(seed)
    model = build()
    if stock is not None and structure(model) != want:
        raise SystemExit(f"{group}: the reduced model's layers or connections differ from the stock architecture's")
    if loss:
        apps.compile_untrained(model, loss)
    rng = np.random.default_rng(seed)
    apps.randomize_trivial_weights(model, rng)
    apps.calibrate(model, inputs(rng, 32, shape))
    x = inputs(rng, samples, shape)
    want_float = model.predict(x, verbose=0)
    for layout, encoding in exports:
        saved = os.path.join(tmp, f"{group}.{layout}")
        model.save(saved)
        topology, weights = (from_h5 if layout == "h5" else from_keras_file)(saved)
        out = os.path.join(OUT_APPS, f"{group}-{layout}-{encoding}")
        decoded = write_tfjs(topology, weights, out, CONVERTED_BY, encoding)
        y = predict_as_read(model, saved, weights, decoded, x)
        if encoding == "float32" and not np.array_equal(y, want_float):
            raise SystemExit(f"{out}: the model with the weights of the saved file predicts otherwise than the model")
        write_sample(out, {
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
            "input_dtype": x.dtype.name,
            "input_shape": list(x.shape),
            "inputs": [float(v) for v in x.ravel()],
            "output_shape": list(y.shape),
            "outputs": [float(v) for v in y.ravel()],
        })


def main() -> None:
    groups = ["toy", *APPS]
    parser = argparse.ArgumentParser(description="Write the Keras fixtures of packages/tfjs.")
    parser.add_argument("groups", nargs="*", choices=groups, help=f"default: all ({', '.join(groups)})")
    chosen = parser.parse_args().groups or groups
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    print(f"tensorflow {tf.__version__}, keras {keras.__version__} ({keras.backend.backend()}), h5py {h5py.__version__}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        for group in chosen:
            make_toy(tmp) if group == "toy" else make_app(tmp, group)


if __name__ == "__main__":
    sys.exit(main())
