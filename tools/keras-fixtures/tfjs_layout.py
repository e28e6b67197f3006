"""The TF.js layers-model files tensorflowjs_converter writes for a Keras model, reproduced.

Written from the converter sources (github.com/tensorflow/tfjs at 0fc04d958ea5, June 2025, the tfjs
4.22 line), not copied: tfjs-converter/python/tensorflowjs/converters/keras_h5_conversion.py
(h5_merged_saved_model_to_tfjs_format, h5_v3_merged_saved_model_to_tfjs_format, write_artifacts),
converter.py (dispatch_keras_keras_to_tfjs_layers_model_conversion, _parse_quantization_dtype_map),
write_weights.py and quantization.py. make.py's docstring summarises the layout.

Weight encodings, as the converter's flags give them (each flag without a list of names applies to
every weight; only float32 weights are quantized, int32 ones stay as they are):
  float32   no flag
  uint8     --quantize_uint8: affine, per tensor, the range nudged so that 0 is exact
  uint16    --quantize_uint16: the same with 16 bits
  float16   --quantize_float16: a cast
"""

import json
import os
import shutil
import tempfile
import zipfile

import h5py
import numpy as np

ENCODINGS = ("float32", "uint8", "uint16", "float16")
# write_weights' automatic conversions, applied before any quantization.
AUTO_DTYPE = {np.dtype("float64"): np.float32, np.dtype("float16"): np.float32, np.dtype("int64"): np.int32}


class Weight:
    """One manifest entry: its name, its value, and the HDF5 dataset it was read from."""

    def __init__(self, name: str, data: np.ndarray, dataset: str):
        self.name = name
        self.data = data
        self.dataset = dataset


def text(v) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


# ---------------------------------------------------------------- reading the Keras files


def from_h5(path: str) -> tuple[dict, list[Weight]]:
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
                    weights.append(Weight(name[:-2] if name.endswith(":0") else name, np.array(g[name]), g[name].name))
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


def from_keras_file(path: str) -> tuple[dict, list[Weight]]:
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
                    weights.extend(Weight(f"{prefix}{k}", np.array(g[k]), g[k].name) for k in g.keys())
                    break

        with h5py.File(os.path.join(d, "model.weights.h5"), "r") as f:
            walk(f, "")
    return topology, weights


# ---------------------------------------------------------------- quantization


def affine_range(lo: np.float64, hi: np.float64, qmax: int) -> tuple:
    """Scale and the [min, max] range, nudged so that 0.0 is one of the levels when the range holds it."""
    scale = (hi - lo) / qmax
    if lo <= 0 <= hi:
        zero = np.round((0 - lo) / scale)
        lo = -zero * scale
        hi = qmax * scale + lo
    return scale, lo, hi


def quantize(data: np.ndarray, encoding: str) -> tuple[np.ndarray, dict | None]:
    """A float32 weight as the converter stores it, and the manifest's `quantization` entry."""
    if encoding == "float32" or data.dtype != np.float32:
        return data, None
    if encoding == "float16":
        return data.astype(np.float16), {"dtype": "float16", "original_dtype": "float32"}
    qtype = np.dtype(encoding)
    lo, hi = data.min().astype(np.float64), data.max().astype(np.float64)
    if lo == hi:  # one value: every level is 0 and min carries it
        q, scale = np.zeros_like(data, dtype=qtype), 1.0
    else:
        scale, lo, hi = affine_range(lo, hi, np.iinfo(qtype).max)
        q = np.round((data.clip(lo, hi) - lo) / scale).astype(qtype)
    return q, {"dtype": encoding, "min": lo, "scale": scale, "original_dtype": "float32"}


def dequantize(stored: np.ndarray, quantization: dict | None) -> np.ndarray:
    """The values TF.js decodes (io_utils decodeWeight): q * scale + min in doubles, stored as float32."""
    if quantization is None:
        return stored
    if quantization["dtype"] == "float16":
        return stored.astype(np.float32)
    return (stored.astype(np.float64) * float(quantization["scale"]) + float(quantization["min"])).astype(np.float32)


# ---------------------------------------------------------------- writing the TF.js files


def write_tfjs(topology: dict, weights: list[Weight], out: str, converted_by: str, encoding: str = "float32") -> list[np.ndarray]:
    """model.json + group1-shard1of1.bin in `out`; returns each weight's value as TF.js will read it."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r} is not one of {ENCODINGS}")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    manifest, decoded = [], []
    with open(os.path.join(out, "group1-shard1of1.bin"), "wb") as f:
        for w in weights:
            data = w.data.astype(AUTO_DTYPE[w.data.dtype]) if w.data.dtype in AUTO_DTYPE else w.data
            stored, quantization = quantize(data, encoding)
            f.write(stored.tobytes())
            entry = {"name": w.name, "shape": list(data.shape), "dtype": data.dtype.name}
            if quantization is not None:
                entry["quantization"] = quantization
            manifest.append(entry)
            decoded.append(dequantize(stored, quantization))
    if os.path.getsize(os.path.join(out, "group1-shard1of1.bin")) > 4 * 1024 * 1024:
        raise ValueError(f"{out}: weights over the converter's 4 MB shard size; this script writes one shard")
    model_json = {
        "format": "layers-model",
        "generatedBy": f"keras v{topology['keras_version']}",
        "convertedBy": converted_by,
        "modelTopology": topology,
        "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": manifest}],
    }
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(model_json, f)
    return decoded


def replace_weights(saved: str, weights: list[Weight], values: list[np.ndarray], out: str) -> None:
    """A copy of a saved .h5 / .keras file whose weight datasets hold `values` (e.g. the decoded ones)."""
    def rewrite(h5_path):
        with h5py.File(h5_path, "r+") as f:
            for w, v in zip(weights, values):
                f[w.dataset][...] = v.astype(f[w.dataset].dtype)

    if saved.endswith(".h5"):
        shutil.copy(saved, out)
        rewrite(out)
        return
    with tempfile.TemporaryDirectory() as d:
        with zipfile.ZipFile(saved) as z:
            names = z.namelist()
            z.extractall(d)
        rewrite(os.path.join(d, "model.weights.h5"))
        with zipfile.ZipFile(out, "w") as z:
            for n in names:
                z.write(os.path.join(d, n), n)
