"""The peers' side of the benchmark protocol (tools/bench/peers.mjs is the other side).

A peer is a long-lived process that builds the zoo's networks in its framework and answers one
JSON request per stdin line with one JSON line on stdout:
  {"id": 1, "cmd": "info"}                                        -> framework, versions, threads
  {"id": 2, "cmd": "params", "model": "resnet20"}                 -> {"params": n}
  {"id": 3, "cmd": "train", "model": "resnet20", "batch": 128, "steps": 10}
                                                                  -> {"samples_per_s": x, "seconds": t}
  {"id": 4, "cmd": "latency", "model": "resnet20", "batch": 1, "calls": 20, "warmup": 3}
                                                                  -> {"times_ms": [...]}
Replies are {"id", "ok": true, "result"} or {"id", "ok": false, "error"}. Random inputs: speed
does not depend on the values. Staying up lets the benchmark interleave its measurements with
the WASM ones, so load on a shared machine hits every framework alike.
"""
import json
import sys
import time
import traceback

MODELS = ("lenet300100", "lenet5", "resnet20", "mobilenetv2")


def make_divisible(v, divisor=8):
    """Keras's _make_divisible (MobileNetV2 channel rounding), as @condense/ir makeDivisible."""
    r = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return r + divisor if r < 0.9 * v else r


# MobileNetV2 stages for small inputs, as @condense/ir: (expansion, channels, repeats, stride).
MOBILENET_V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v2_plan(width=0.5):
    """[(expand_channels or None, in, out, stride, residual)] per block, the stem and head widths."""
    stem = make_divisible(32 * width)
    blocks, c_in = [], stem
    for t, c, n, s in MOBILENET_V2_STAGES:
        out = make_divisible(c * width)
        for i in range(n):
            stride = s if i == 0 else 1
            blocks.append((c_in * t if t != 1 else None, c_in, out, stride, stride == 1 and c_in == out))
            c_in = out
    head = make_divisible(1280 * width) if width > 1 else 1280
    return stem, blocks, head


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def serve(handlers):
    """Answer requests until stdin closes. `handlers`: cmd -> fn(request) -> result."""
    for line in sys.stdin:
        if not line.strip():
            continue
        req = {}
        try:
            req = json.loads(line)
            result = handlers[req["cmd"]](req)
            reply = {"id": req.get("id"), "ok": True, "result": result}
        except Exception as e:  # the error goes back to the benchmark, which names the peer
            reply = {"id": req.get("id"), "ok": False, "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc(limit=3)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
