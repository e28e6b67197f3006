"""PyTorch CPU peer of the benchmarks: the zoo's networks as torch modules (NCHW), trained with
Adam 1e-3 and cross-entropy, inference under torch.no_grad in eval mode. Run by
tools/bench/peers.mjs, never by hand: `python3 torch_peer.py THREADS`. Needs Debian's
python3-torch (apt-get install -y python3-torch).
"""
import os
import sys

import torch
from torch import nn

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.manual_seed(1)
torch.set_num_threads(THREADS)
torch.set_num_interop_threads(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from protocol import MODELS, mobilenet_v2_plan, serve, timed  # noqa: E402


def conv_bn(cin, cout, kernel, stride, act=None):
    mods = [nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)]
    if act == "relu":
        mods.append(nn.ReLU())
    elif act == "relu6":
        mods.append(nn.ReLU6())
    return nn.Sequential(*mods)


def lenet300100():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10),
    )


class Basic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.main = nn.Sequential(conv_bn(cin, cout, 3, stride, "relu"), conv_bn(cout, cout, 3, 1))
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return torch.relu(self.main(x) + self.shortcut(x))


def resnet20():
    mods, width = [conv_bn(1, 16, 3, 1, "relu")], 16
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            mods.append(Basic(width, filters, 2 if stage > 0 and block == 0 else 1))
            width = filters
    return nn.Sequential(*mods, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


class Inverted(nn.Module):
    def __init__(self, expand, cin, cout, stride, residual):
        super().__init__()
        mid = expand or cin
        mods = [conv_bn(cin, mid, 1, 1, "relu6")] if expand else []
        mods += [nn.Conv2d(mid, mid, 3, stride, padding=1, groups=mid, bias=False), nn.BatchNorm2d(mid, eps=1e-3, momentum=0.01), nn.ReLU6(), conv_bn(mid, cout, 1, 1)]
        self.body, self.residual = nn.Sequential(*mods), residual

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


def mobilenetv2():
    stem, blocks, head = mobilenet_v2_plan(0.5)
    return nn.Sequential(conv_bn(1, stem, 3, 1, "relu6"), *[Inverted(*b) for b in blocks], conv_bn(blocks[-1][2], head, 1, 1, "relu6"),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(head, 10))


BUILD = {name: globals()[name] for name in MODELS}
built = {}


def model(name):
    if name not in built:
        m = BUILD[name]()
        built[name] = (m, torch.optim.Adam(m.parameters(), lr=1e-3))
    return built[name]


def count(m):
    """Weights and batch-norm statistics, as condense and Keras count them."""
    buffers = sum(b.numel() for n, b in m.named_buffers() if not n.endswith("num_batches_tracked"))
    return sum(p.numel() for p in m.parameters()) + buffers


def train(req):
    m, opt = model(req["model"])
    m.train()
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(req["batch"], 1, 28, 28)
    y = torch.randint(0, 10, (req["batch"],))

    def run():
        for _ in range(req["steps"]):
            opt.zero_grad()
            loss_fn(m(x), y).backward()
            opt.step()

    s = timed(run)
    return {"samples_per_s": req["batch"] * req["steps"] / s, "seconds": s}


def latency(req):
    m, _ = model(req["model"])
    m.eval()
    x = torch.rand(req["batch"], 1, 28, 28)
    with torch.no_grad():
        for _ in range(req.get("warmup", 3)):
            m(x)
        return {"times_ms": [1000 * timed(lambda: m(x)) for _ in range(req["calls"])]}


serve({
    "info": lambda req: {"framework": "pytorch", "version": f"PyTorch {torch.__version__}", "threads": torch.get_num_threads(), "inter_op_threads": torch.get_num_interop_threads()},
    "params": lambda req: {"params": int(count(model(req["model"])[0]))},
    "train": train,
    "latency": latency,
})
