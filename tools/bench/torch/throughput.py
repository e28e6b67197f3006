"""Training throughput of LeNet-300-100 and LeNet-5 in PyTorch, for the train-throughput benchmark.

Same models, batch size, optimizer and input shape as condense's benchmark; random data (speed
does not depend on the values). Prints one JSON object: samples/s per model, medians of repeats.
"""
import json
import sys
import time

import torch
from torch import nn

torch.manual_seed(1)
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
BATCH = 128


def lenet300100():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10),
    )


def samples_per_s(model, steps, repeats=5):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(BATCH, 1, 28, 28)
    y = torch.randint(0, 10, (BATCH,))

    def run(n):
        for _ in range(n):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

    run(3)
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        run(steps)
        rates.append(steps * BATCH / (time.perf_counter() - t))
    rates.sort()
    return rates[len(rates) // 2]


print(json.dumps({
    "torch_version": torch.__version__,
    "threads": torch.get_num_threads(),
    "torch_mlp_samples_per_s": samples_per_s(lenet300100(), 40),
    "torch_lenet5_samples_per_s": samples_per_s(lenet5(), 10),
}))
