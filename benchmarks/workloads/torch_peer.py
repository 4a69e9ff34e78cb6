"""The benchmark workloads in PyTorch eager (peer environment only: torch 2.13.0 CPU, and
``transformers`` for MiniLM). Same shapes, data, seeds and threads as ``ours.py``; images are fed
NCHW (PyTorch's native layout, transposed before timing). ResNet50 (v1, Keras layout: stride on the
first 1x1 conv, convs with bias), VGG16 and CIFAR ResNet-20 (option A) are written here since
torchvision is not installable.

    /path/to/peer/python benchmarks/workloads/torch_peer.py WORKLOAD [--flush-denormal] [--repeats 3] [--smoke]

Prints one ``BENCH_RESULT {json}`` line. Never imported by the project.
"""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if __package__:
    from . import common
else:
    sys.path.insert(0, _HERE)
    import common  # noqa: E402
common.pin_child_threads()  # before NumPy or a framework is imported

import numpy as np  # noqa: E402

Unavailable = common.Unavailable
torch = nn = F = None  # imported in _setup


def _train_fns(model, opt, loss_fn, x, y, batch):
    """An epoch as a PyTorch user writes it: shuffled indices, zero_grad/forward/loss/backward/step."""
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))

    def epoch(n):
        model.train()
        perm = torch.randperm(n)
        total = torch.zeros(())
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.detach()
        return float(total)

    w = common.warmup_slice(len(x), batch)
    return (lambda: epoch(w)), (lambda: epoch(len(x)))


def mlp(s, d, args):
    m = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    return _train_fns(m, torch.optim.Adam(m.parameters()), F.cross_entropy, d["x"], d["y"], s["batch"])


def cnn(s, d, args):
    m = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 10))
    x = d["x"].transpose(0, 3, 1, 2)
    return _train_fns(m, torch.optim.Adam(m.parameters()), F.cross_entropy, x, d["y"], s["batch"])


def _inference(model, x):
    model.eval()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))

    def run():
        with torch.inference_mode():
            model(xt)

    return run, run


def _resnet50(num_classes=1000):
    class Bottleneck(nn.Module):
        def __init__(self, cin, filters, stride, conv_shortcut):
            super().__init__()
            eps = 1.001e-5
            self.c1, self.b1 = nn.Conv2d(cin, filters, 1, stride), nn.BatchNorm2d(filters, eps=eps)
            self.c2, self.b2 = nn.Conv2d(filters, filters, 3, 1, 1), nn.BatchNorm2d(filters, eps=eps)
            self.c3, self.b3 = nn.Conv2d(filters, 4 * filters, 1), nn.BatchNorm2d(4 * filters, eps=eps)
            self.short = (nn.Sequential(nn.Conv2d(cin, 4 * filters, 1, stride), nn.BatchNorm2d(4 * filters, eps=eps))
                          if conv_shortcut else None)

        def forward(self, x):
            sc = self.short(x) if self.short is not None else x
            out = F.relu(self.b1(self.c1(x)))
            out = F.relu(self.b2(self.c2(out)))
            return F.relu(self.b3(self.c3(out)) + sc)

    layers = [nn.Conv2d(3, 64, 7, 2, 3), nn.BatchNorm2d(64, eps=1.001e-5), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for filters, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(cin, filters, stride if i == 0 else 1, i == 0))
            cin = 4 * filters
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, num_classes), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)


def _vgg16(size, num_classes=1000):
    layers, cin = [], 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
            cin = v
    side = size // 32
    layers += [nn.Flatten(), nn.Linear(512 * side * side, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
               nn.Linear(4096, num_classes), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)


def resnet50(s, d, args):
    return _inference(_resnet50(), d["x"])


def vgg16(s, d, args):
    return _inference(_vgg16(s["size"]), d["x"])


def lstm(s, d, args):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(s["vocab"], 128)
            self.lstm = nn.LSTM(128, 128, batch_first=True)
            self.out = nn.Linear(128, 1)

        def forward(self, x):
            _, (h, _) = self.lstm(self.emb(x))
            return self.out(h[-1])

    m = Net()
    return _train_fns(m, torch.optim.Adam(m.parameters()), F.binary_cross_entropy_with_logits,
                      d["x"].astype(np.int64), d["y"], s["batch"])


def transformer(s, d, args):
    dm = s["d"]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(s["vocab"], dm)
            self.pos = nn.Parameter(torch.empty(s["length"], dm))
            nn.init.xavier_uniform_(self.pos)
            layer = nn.TransformerEncoderLayer(dm, s["heads"], s["ff"], dropout=0.0, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, s["blocks"], enable_nested_tensor=False)
            self.out = nn.Linear(dm, 2)

        def forward(self, x):
            return self.out(self.enc(self.emb(x) + self.pos).mean(1))

    m = Net()
    return _train_fns(m, torch.optim.Adam(m.parameters()), F.cross_entropy, d["x"].astype(np.int64), d["y"],
                      s["batch"])


def _resnet20():
    """akamaster's CIFAR ResNet-20 (option A shortcuts)."""

    class Block(nn.Module):
        def __init__(self, cin, planes, stride):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
            self.c2, self.b2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes)
            self.pad = planes // 4 if stride != 1 or cin != planes else None

        def forward(self, x):
            out = F.relu(self.b1(self.c1(x)))
            out = self.b2(self.c2(out))
            sc = x if self.pad is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
            return F.relu(out + sc)

    layers, cin = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for stage, planes in enumerate((16, 32, 64), start=1):
        for i in range(3):
            layers.append(Block(cin, planes, 2 if stage > 1 and i == 0 else 1))
            cin = planes
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    m = nn.Sequential(*layers)
    for mod in m.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(mod.weight)
    return m


def resnet20(s, d, args):
    m = _resnet20()
    x = d["x"].transpose(0, 3, 1, 2)
    return _train_fns(m, torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9), F.cross_entropy, x, d["y"],
                      s["batch"])


def minilm(s, d, args):
    try:
        from transformers import BertConfig, BertModel
    except ImportError as e:
        raise Unavailable(f"transformers: {e}") from None
    cfg = dict(common.MINILM_CONFIG)
    model = BertModel(BertConfig(**cfg), add_pooling_layer=False).eval()
    ids, mask, types = (torch.from_numpy(d[k].astype(np.int64)) for k in ("ids", "mask", "token_type"))
    pieces = [(i, j, int(mask[i:j].sum(1).max())) for i, j in common.batches(len(ids), s["batch"])]

    def run():
        outs = []
        with torch.inference_mode():
            for i, j, L in pieces:  # each batch padded to its longest sentence, as a tokenizer does
                m = mask[i:j, :L]
                h = model(input_ids=ids[i:j, :L], attention_mask=m, token_type_ids=types[i:j, :L]).last_hidden_state
                mf = m.unsqueeze(-1).to(h.dtype)
                emb = (h * mf).sum(1) / mf.sum(1).clamp(min=1e-9)
                outs.append(F.normalize(emb, p=2, dim=1))
        return torch.cat(outs)

    return run, run


def autoencoder(s, d, args):
    m = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.ConvTranspose2d(32, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                      nn.ConvTranspose2d(32, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                      nn.Conv2d(32, 1, 3, padding=1), nn.Sigmoid())
    x = d["x"].transpose(0, 3, 1, 2)
    return _train_fns(m, torch.optim.Adam(m.parameters()), F.binary_cross_entropy, x, x, s["batch"])


def toy_resnet(s, d, args):
    class ToyResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(3, 32, 3), nn.Conv2d(32, 64, 3)
            self.blocks = nn.ModuleList(nn.Conv2d(64, 64, 3, padding=1) for _ in range(4))
            self.c3 = nn.Conv2d(64, 64, 3)
            self.d1, self.d2, self.drop = nn.Linear(64, 256), nn.Linear(256, 10), nn.Dropout(0.5)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.c2(F.relu(self.c1(x)))), 3)
            for k in (0, 2):  # two residual blocks
                x = F.relu(self.blocks[k + 1](F.relu(self.blocks[k](x)))) + x
            x = F.relu(self.c3(x)).mean((2, 3))
            return self.d2(self.drop(F.relu(self.d1(x))))

    m = ToyResNet()
    x = d["x"].transpose(0, 3, 1, 2)
    opt = torch.optim.RMSprop(m.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)  # Keras's rho and epsilon

    def loss_and_accuracy(logits, y):  # Keras computes the "acc" metric in the same step
        (logits.argmax(1) == y.argmax(1)).float().mean()
        return F.cross_entropy(logits, y)

    return _train_fns(m, opt, loss_and_accuracy, x, d["y"], s["batch"])


BUILDERS = dict(mlp=mlp, cnn=cnn, resnet50=resnet50, vgg16=vgg16, lstm=lstm, transformer=transformer,
                resnet20=resnet20, minilm=minilm, autoencoder=autoencoder, toy_resnet=toy_resnet)


def _setup(args):
    global torch, nn, F
    import torch as _torch

    torch, nn, F = _torch, _torch.nn, _torch.nn.functional
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError:  # already set (only once per process)
        pass
    torch.manual_seed(0)
    if args.flush_denormal and not torch.set_flush_denormal(True):
        raise Unavailable("torch.set_flush_denormal(True) is not supported on this CPU")
    versions = {"torch": torch.__version__}
    try:  # the version from the metadata, without importing transformers (its memory would count)
        from importlib.metadata import version

        versions["transformers"] = version("transformers")
    except Exception:
        pass
    return ("torch-fd" if args.flush_denormal else "torch"), versions


if __name__ == "__main__":
    sys.exit(common.child_main("torch", BUILDERS, setup=_setup,
                               extra_args=[(("--flush-denormal",), dict(action="store_true",
                                                                        help="torch.set_flush_denormal(True)"))]))
