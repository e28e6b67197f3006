"""The stock keras.applications architectures (weights=None) at fixture size, a text and an audio model.

Each builder returns a model whose layer classes, configs other than widths, and connections are
those of the stock architecture: a small input (the architecture's minimum where it has one) and a
reduced width through the architecture's own parameters (alpha; width_coefficient and
depth_divisor; penultimate_filters) or, where it has none, by dividing its filter counts:
  ResNet50     keras' ResNet() with ResNet50's stack_fn at 1/16 of its filters (the 7x7 stem keeps 64)
  DenseNet121  growth rate 32 -> 4 (conv_block's argument; the stem keeps 64)
  Xception     every Conv2D / SeparableConv2D filter count // 16
"""

import contextlib
import types

import numpy as np
import keras
from keras import layers
from keras.src.applications import densenet, efficientnet, nasnet, resnet, xception

CLASSES = 10


@contextlib.contextmanager
def patched(module, name, value):
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def mobilenet():
    return keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.125, weights=None, classes=CLASSES)


def mobilenet_v2():
    return keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=CLASSES)


def mobilenet_v3_small():
    return keras.applications.MobileNetV3Small(input_shape=(32, 32, 3), alpha=0.2, weights=None, classes=CLASSES)


def efficientnet_b0():
    # EfficientNetB0 is EfficientNet(1.0, 1.0, 224, 0.2, ...): the same call at 0.15 of the width,
    # rounding channels to multiples of 4 rather than 8 (below that, or at width 0.25 with 8, equal
    # channel counts add residual connections that B0 does not have).
    return efficientnet.EfficientNet(
        0.15, 1.0, 224, 0.2, depth_divisor=4, name="efficientnetb0", input_shape=(32, 32, 3), weights=None, classes=CLASSES,
        classifier_activation=None,  # logits: its softmax saturates, and would hide differences
    )


def resnet50():
    def stack_fn(x):
        x = resnet.stack_residual_blocks_v1(x, 64 // 16, 3, stride1=1, name="conv2")
        x = resnet.stack_residual_blocks_v1(x, 128 // 16, 4, name="conv3")
        x = resnet.stack_residual_blocks_v1(x, 256 // 16, 6, name="conv4")
        return resnet.stack_residual_blocks_v1(x, 512 // 16, 3, name="conv5")

    return resnet.ResNet(
        stack_fn, preact=False, use_bias=True, name="resnet50", input_shape=(32, 32, 3), weights=None, classes=CLASSES,
        classifier_activation=None,  # logits: its softmax saturates, and would hide differences
    )


def densenet121():
    conv_block = densenet.conv_block
    with patched(densenet, "conv_block", lambda x, growth_rate, name: conv_block(x, growth_rate // 8, name)):
        return keras.applications.DenseNet121(input_shape=(32, 32, 3), weights=None, classes=CLASSES)


def xception_model():
    narrow = lambda cls: lambda filters, *a, **k: cls(filters // 16, *a, **k)  # noqa: E731
    proxy = types.SimpleNamespace(**{n: getattr(layers, n) for n in dir(layers) if not n.startswith("_")})
    proxy.Conv2D, proxy.SeparableConv2D = narrow(layers.Conv2D), narrow(layers.SeparableConv2D)
    with patched(xception, "layers", proxy):
        return keras.applications.Xception(input_shape=(71, 71, 3), weights=None, classes=CLASSES)


def nasnet_mobile():
    # NASNetMobile is NASNet(penultimate_filters=1056, num_blocks=4, stem_block_filters=32,
    # skip_reduction=False, filter_multiplier=2, default_size=224); 96 is the smallest allowed.
    return nasnet.NASNet(
        (32, 32, 3), penultimate_filters=96, num_blocks=4, stem_block_filters=32, skip_reduction=False, filter_multiplier=2,
        weights=None, classes=CLASSES, default_size=224, name="nasnet_mobile",
    )


TEXT_LENGTH, VOCAB = 12, 60


def text_classifier():
    """Token ids -> Embedding (0 = padding, masked) -> Bidirectional LSTM -> GRU and SimpleRNN heads -> classes."""
    tokens = keras.Input((TEXT_LENGTH,), dtype="int32", name="tokens")
    x = layers.Embedding(VOCAB, 16, mask_zero=True, name="embedding")(tokens)
    x = layers.Bidirectional(layers.LSTM(12, return_sequences=True), name="bilstm")(x)
    # reset_after=False: TF.js 4.22's GRU refuses Keras's default reset_after=True.
    g = layers.GRU(10, reset_after=False, name="gru")(x)
    r = layers.SimpleRNN(6, activation="tanh", name="rnn")(x)
    x = layers.Concatenate(name="heads")([g, r])
    x = layers.Dense(16, activation="relu", name="hidden")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    out = layers.Dense(3, activation="softmax", name="predictions")(x)
    return keras.Model(tokens, out, name="text_classifier")


AUDIO_LENGTH = 256


def audio_classifier():
    """Waveform -> strided and dilated Conv1D blocks with 1-D pooling -> global pools -> logits."""
    wave = keras.Input((AUDIO_LENGTH, 1), name="waveform")
    x = layers.Conv1D(8, 9, strides=2, padding="same", use_bias=False, name="stem")(wave)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    x = layers.MaxPooling1D(2, name="pool1")(x)
    # padding "same", not "causal": TF.js 4.22's Conv1D throws on causal padding.
    x = layers.Conv1D(12, 5, dilation_rate=2, padding="same", activation="relu", name="dilated")(x)
    x = layers.AveragePooling1D(2, padding="same", name="pool2")(x)
    x = layers.Conv1D(16, 3, activation="gelu", name="conv3")(x)
    x = layers.LayerNormalization(name="norm")(x)
    avg = layers.GlobalAveragePooling1D(name="avg")(x)
    peak = layers.GlobalMaxPooling1D(name="peak")(x)
    x = layers.Concatenate(name="pools")([avg, peak])
    out = layers.Dense(5, name="logits")(x)
    return keras.Model(wave, out, name="audio_classifier")


def compile_untrained(model: keras.Model, loss: str) -> None:
    """compile() and build the optimizer: a training_config in the .h5 and optimizer state in the .keras, no training."""
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    model.optimizer.build(model.trainable_variables)


# ---------------------------------------------------------------- inputs


def signed_images(rng, n, shape):
    """Multiples of 1/16 in [-1, 1]: exact in float32 and short in JSON."""
    return (rng.integers(-16, 17, (n, *shape)) / 16).astype("float32")


def pixel_images(rng, n, shape):
    """Integer pixel values 0..255, for the models that rescale their input themselves."""
    return rng.integers(0, 256, (n, *shape)).astype("float32")


def token_ids(rng, n, shape):
    """Token ids 1..VOCAB-1 with a zero (padding) tail of 0..4 tokens."""
    x = rng.integers(1, VOCAB, (n, *shape))
    for row, pad in zip(x, rng.integers(0, 5, n)):
        row[len(row) - pad:] = 0
    return x.astype("int32")


# ---------------------------------------------------------------- non-trivial weights


def randomize_trivial_weights(model: keras.Model, rng) -> None:
    """Seeded random values for what the initializers leave trivial: biases, BN gamma and beta, embeddings.

    Statistics (BN moving mean/variance, Normalization mean/variance) are set by `calibrate`.
    """
    for v in model.weights:
        role = v.path.split("/")[-1]
        if role in ("bias", "beta"):
            v.assign(v.numpy() + rng.uniform(-0.2, 0.2, v.shape).astype("float32"))
        elif role == "gamma":
            v.assign(rng.uniform(0.6, 1.4, v.shape).astype("float32"))
        elif role == "embeddings":  # uniform(-0.05, 0.05) by default: too small to drive the recurrent layers
            v.assign(rng.uniform(-1, 1, v.shape).astype("float32"))


def three_digits(v: np.ndarray) -> np.ndarray:
    """Statistics to 3 significant digits: a rerun on another CPU, whose float sums differ in the last bits, gives the same bytes."""
    return np.array([float(f"{x:.3g}") for x in v.ravel()], dtype="float32").reshape(v.shape)


def weights_changed(model: keras.Model) -> None:
    """After set_weights / load_weights, so that predict uses the new values.

    Normalization divides by copies of its mean and variance made at build time (set_weights and an
    .h5 load_weights leave them stale), and predict's traced function holds those copies as
    constants: the copies are remade and the traced function dropped.
    """
    for layer in model.layers:
        if isinstance(layer, layers.Normalization):
            layer.finalize_state()
    model.predict_function = None


def calibrate(model: keras.Model, x) -> None:
    """Normalization and BatchNormalization statistics of the data they see, as a trained model has them.

    Normalization layers are adapted to their input; the BatchNormalization moving statistics are
    the batch statistics of one training-mode pass with momentum 0, so that in inference each BN
    sees the activations it was calibrated on.
    """
    for layer in model.layers:
        if isinstance(layer, layers.Normalization):
            seen = keras.Model(model.inputs, layer.input)(x)
            mean = three_digits(np.mean(seen, axis=(0, 1, 2)))
            var = three_digits(np.var(seen, axis=(0, 1, 2)))
            layer.set_weights([mean, var, np.array(len(x), dtype=layer.count.dtype)])
    weights_changed(model)
    bns = [l for l in model._flatten_layers(include_self=False) if isinstance(l, layers.BatchNormalization)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    model(x, training=True)
    for bn, m in zip(bns, momenta):
        bn.momentum = m
        gamma_beta = [w.numpy() for w in bn.weights if w.path.split("/")[-1] in ("gamma", "beta")]
        mean, var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
        bn.set_weights(gamma_beta + [three_digits(mean), three_digits(np.maximum(var, 1e-3))])
