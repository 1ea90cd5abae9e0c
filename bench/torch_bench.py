#!/usr/bin/env python3
"""The PyTorch + HF PEFT side of l2r's benchmark: the work items of `l2r bench --work ...` on the same
all-MiniLM-L6-v2 weights (transformers' BertModel), the same token ids, batch shapes, repeats and warm-up, printing
the same JSON. `bench/compare.py` runs both sides alternately; BENCHMARKS.md explains the work items.

    bench/.venv/bin/python bench/torch_bench.py --work train-lora --repeats 5 --json
    bench/.venv/bin/python bench/torch_bench.py --work infer,routed-wavg-10 --dtype bf16

Work items (batch B × S tokens; every parameter of the encoder frozen, dropout off as in l2r):
  infer            encoder forward + mean pooling (inference mode)
  train-lora       LoRA r=8, alpha=16 on query,value (peft.get_peft_model) + a 4-label head: forward,
                   cross-entropy, backward, AdamW step
  train-adapter    a bottleneck adapter (384 -> 64, ReLU, 64 -> 384, residual) on every layer's feed-forward
                   output (a forward hook on encoder.layer[i].output.dense: where l2r inserts it, before the
                   residual and layer norm), + the head; the same step
  routed-wavg-N    inference through N adapters composed per example: h + sum_t w[b,t] * adapter_t(h)
  routed-merge-N   inference through one adapter per example whose parameters are sum_t w[b,t] * theta_t
  router-fit[-N]   one router-fitting step over N (default 5) adapters composed by wavg: a linear router per
                   layer on the frozen mean-pooled embedding (+ learned-scale similarity prior to the task
                   centroids), Gumbel-sigmoid gates, per-head calibration, the joint objective, AdamW; gradients
                   reach the routers only (l2r's RouterConfig defaults)

--dtype bf16 runs the forward passes under torch.autocast("cpu", dtype=torch.bfloat16) (AMX / AVX-512 BF16 where
the CPU has them); the parameters and optimiser stay fp32.
"""
import argparse
import json
import math
import os
import pathlib
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never wait on the network

import torch
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORDS = "the quick brown fox jumps over the lazy dog near the river bank".split(" ")
NUM_LABELS = 4
ADAPTER_SIZE = 64
LORA_RANK = 8
ROUTER_FIT_MODULES = 5


# ----------------------------------------------------------------------------------------------------------------
# Work names and FLOPs (the same formulas as crates/l2r-cli/src/commands/bench/flops.rs, which documents them)

def parse_work(name):
    """('infer'|'train-lora'|'train-adapter'|'routed'|'router-fit', merge, modules)."""
    if name in ("infer", "train-lora", "train-adapter"):
        return (name, False, 0)
    if name == "router-fit":
        return ("router-fit", False, ROUTER_FIT_MODULES)
    for prefix, kind, merge in (("routed-wavg-", "routed", False), ("routed-merge-", "routed", True),
                                ("router-fit-", "router-fit", False)):
        if name.startswith(prefix):
            rest = name[len(prefix):]
            if rest.isdigit() and int(rest) >= 1:
                return (kind, merge, int(rest))
            raise SystemExit(f"'{name}': the module count must be a positive integer")
    raise SystemExit(f"unknown work '{name}': expected infer, train-lora, train-adapter, routed-wavg-N, "
                     "routed-merge-N, router-fit or router-fit-N")


def is_training(kind):
    return kind in ("train-lora", "train-adapter", "router-fit")


def work_flops(kind, merge, modules, config, batch, seq):
    L, d, f = config.num_hidden_layers, config.hidden_size, config.intermediate_size
    n = batch * seq
    a, r = ADAPTER_SIZE, LORA_RANK
    lin = 2 * n * (4 * d * d + 2 * d * f)
    att = 4 * n * seq * d
    m_a = 4 * n * d * a
    m_l = 8 * n * d * r
    forward = L * (lin + att)
    backward_above_first = (L - 1) * (lin + 2 * att)
    if kind == "infer":
        return float(forward)
    if kind == "train-adapter":
        return forward + backward_above_first + (3 * L - 0.5) * m_a
    if kind == "train-lora":
        return forward + backward_above_first + (lin - 6 * n * d * d + 1.5 * att) + (3 * L - 0.5) * m_l
    if kind == "routed" and not merge:
        return float(forward + L * modules * m_a)
    if kind == "routed":
        return float(forward + L * m_a + L * 4 * batch * modules * a * d)
    if kind == "router-fit":
        return float(forward + L * modules * m_a + backward_above_first + (L - 1) * modules * m_a)
    raise ValueError(kind)


# ----------------------------------------------------------------------------------------------------------------
# Inputs and helpers

def bench_text(i, seq_len):
    """The same texts as l2r's `bench_text`: the sentence's words rotated by i, repeated past --seq-len."""
    k = i % len(WORDS)
    return (" ".join(WORDS[k:] + WORDS[:k]) + " ") * seq_len


def token_batch(tokenizer, rows, seq_len):
    ids = [tokenizer.encode(bench_text(i, seq_len)).ids for i in range(rows)]
    if any(len(x) != seq_len for x in ids):
        raise SystemExit("the benchmark text is shorter than --seq-len")
    input_ids = torch.tensor(ids, dtype=torch.long)
    return input_ids, torch.ones_like(input_ids)


def mean_pool(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def labels_for(rows):
    return torch.tensor([i % NUM_LABELS for i in range(rows)], dtype=torch.long)


def peak_rss_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


class Autocast:
    """torch.autocast on the bench's device ("cpu" or "cuda") for bf16, nothing for fp32."""

    def __init__(self, dtype, device="cpu"):
        self.dtype = dtype
        self.device_type = torch.device(device).type

    def __call__(self):
        if self.dtype == "bf16":
            return torch.autocast(self.device_type, dtype=torch.bfloat16)
        return torch.autocast(self.device_type, enabled=False)


def synchronize(device):
    """Waits for the GPU's queued work, so that a step's time is its own (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def uniform_(t, bound, generator):
    with torch.no_grad():
        # Drawn on the CPU from the seeded generator, so that every device starts from the same values.
        draw = torch.rand(t.shape, generator=generator, device="cpu")
        t.copy_(((draw * 2 - 1) * bound).to(t.device))
    return t


# ----------------------------------------------------------------------------------------------------------------
# Modules

class Adapter(torch.nn.Module):
    """h + up(relu(down(h))); down Kaiming-uniform (bound 1/sqrt(d)), up zero: l2r's BottleneckAdapter."""

    def __init__(self, d, size, generator):
        super().__init__()
        self.down = torch.nn.Linear(d, size)
        self.up = torch.nn.Linear(size, d)
        with torch.no_grad():
            uniform_(self.down.weight, 1 / math.sqrt(d), generator)
            self.down.bias.zero_()
            self.up.weight.zero_()
            self.up.bias.zero_()

    def forward(self, h):
        return h + self.up(torch.relu(self.down(h)))


class AdapterStack:
    """N adapters' parameters stacked on a leading axis, as l2r's ModuleStack: every value non-zero, frozen."""

    def __init__(self, modules, d, size, generator):
        def rand(*shape):
            return uniform_(torch.empty(*shape), 0.5 / math.sqrt(shape[-1]), generator)

        self.n, self.size = modules, size
        self.down_w, self.down_b = rand(modules, size, d), rand(modules, size)
        self.up_w, self.up_b = rand(modules, d, size), rand(modules, d)

    def wavg(self, h, w):
        """h + sum_t w[:, t] * up_t(relu(down_t(h))): all N adapters in two batched matmuls (as l2r's wavg)."""
        b, s, d = h.shape
        n, a = self.n, self.size
        flat = h.reshape(b * s, d)
        down = (flat @ self.down_w.reshape(n * a, d).t().to(flat.dtype)).reshape(b * s, n, a)
        down = torch.relu(down + self.down_b.to(down.dtype))
        up = torch.bmm(down.transpose(0, 1), self.up_w.transpose(1, 2).to(down.dtype))  # (N, b*s, d)
        up = (up + self.up_b.unsqueeze(1).to(up.dtype)).reshape(n, b, s, d)
        return h + (up * w.t().reshape(n, b, 1, 1).to(up.dtype)).sum(0)

    def merge(self, h, w):
        """h + adapter_b(h) with, per example b, parameters sum_t w[b, t] * theta_t (einsum, then bmm)."""
        dt = h.dtype
        down_w = torch.einsum("bn,nad->bad", w, self.down_w).to(dt)
        down_b = (w @ self.down_b).unsqueeze(1).to(dt)
        up_w = torch.einsum("bn,nda->bda", w, self.up_w).to(dt)
        up_b = (w @ self.up_b).unsqueeze(1).to(dt)
        down = torch.relu(torch.bmm(h, down_w.transpose(1, 2)) + down_b)
        return h + torch.bmm(down, up_w.transpose(1, 2)) + up_b


def hook_layers(model, make_hook):
    """A forward hook on every layer's feed-forward output linear (encoder.layer[i].output.dense) that replaces
    its output with make_hook(i)(output): where l2r's adapters act (before dropout, residual and layer norm)."""
    handles = []
    for i, layer in enumerate(model.encoder.layer):
        fn = make_hook(i)
        handles.append(layer.output.dense.register_forward_hook(lambda _m, _inp, out, fn=fn: fn(out)))
    return handles


# ----------------------------------------------------------------------------------------------------------------
# Work items: each returns the closure of one iteration

def setup_infer(ctx, rows):
    model, autocast = ctx["model"], ctx["autocast"]
    ids, mask = token_batch(ctx["tokenizer"], rows, ctx["seq_len"])

    def step():
        with torch.inference_mode(), autocast():
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            mean_pool(hidden, mask).float().sum().item()
    return step


def training_step(forward, params, ids, mask, labels, autocast, head):
    # torch.optim.AdamW's defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01) are candle's too.
    optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            logits = head(mean_pool(forward(ids, mask), mask))
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        optimizer.step()
        loss.item()
    return step


def setup_train_lora(ctx, rows):
    from peft import LoraConfig, get_peft_model
    ids, mask = token_batch(ctx["tokenizer"], rows, ctx["seq_len"])
    config = LoraConfig(r=LORA_RANK, lora_alpha=16, target_modules=["query", "value"], lora_dropout=0.0)
    model = get_peft_model(ctx["model"], config)
    model.eval()
    head = torch.nn.Linear(ctx["config"].hidden_size, NUM_LABELS)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    assert sum(p.numel() for p in params) == 6 * 2 * 2 * LORA_RANK * 384 + 384 * NUM_LABELS + NUM_LABELS

    def forward(ids, mask):
        return model(input_ids=ids, attention_mask=mask).last_hidden_state
    return training_step(forward, params, ids, mask, labels_for(rows), ctx["autocast"], head)


def setup_train_adapter(ctx, rows):
    model = ctx["model"]
    d = ctx["config"].hidden_size
    ids, mask = token_batch(ctx["tokenizer"], rows, ctx["seq_len"])
    adapters = torch.nn.ModuleList(Adapter(d, ADAPTER_SIZE, ctx["generator"]) for _ in model.encoder.layer)
    hook_layers(model, lambda i: adapters[i])
    head = torch.nn.Linear(d, NUM_LABELS)
    params = list(adapters.parameters()) + list(head.parameters())

    def forward(ids, mask):
        return model(input_ids=ids, attention_mask=mask).last_hidden_state
    return training_step(forward, params, ids, mask, labels_for(rows), ctx["autocast"], head)


def routed_parts(ctx, modules):
    d = ctx["config"].hidden_size
    stack = AdapterStack(modules, d, ADAPTER_SIZE, ctx["generator"])
    heads = [torch.nn.Linear(d, NUM_LABELS).requires_grad_(False) for _ in range(modules)]
    return stack, heads


def setup_routed(ctx, rows, merge, modules):
    model, autocast = ctx["model"], ctx["autocast"]
    ids, mask = token_batch(ctx["tokenizer"], rows, ctx["seq_len"])
    stack, heads = routed_parts(ctx, modules)
    w = 0.1 + torch.rand(rows, modules, generator=ctx["generator"])
    w = w / w.sum(1, keepdim=True)
    compose = stack.merge if merge else stack.wavg
    hook_layers(model, lambda _i: lambda out: compose(out, w))

    def step():
        with torch.inference_mode(), autocast():
            pooled = mean_pool(model(input_ids=ids, attention_mask=mask).last_hidden_state, mask)
            torch.cat([h(pooled) for h in heads], -1).float().sum().item()
    return step


def setup_router_fit(ctx, rows, modules):
    """One step of l2r's fit_router with RouterConfig's defaults, epochs 1 and one batch of all `rows` examples;
    like fit_router, each iteration also builds the routers, the prior and the optimiser."""
    if rows < modules:
        raise SystemExit(f"router-fit needs --train-batch of at least {modules} (an example of every module's task)")
    model, autocast = ctx["model"], ctx["autocast"]
    config = ctx["config"]
    num_layers, d = config.num_hidden_layers, config.hidden_size
    ids, mask = token_batch(ctx["tokenizer"], rows, ctx["seq_len"])
    stack, heads = routed_parts(ctx, modules)
    tasks = torch.tensor([i % modules for i in range(rows)])
    labels = labels_for(rows)
    # Untimed, as in l2r (MemoryBatch::new): the memory's frozen unit-norm mean-pooled embeddings.
    with torch.inference_mode():
        frozen = F.normalize(mean_pool(model(input_ids=ids, attention_mask=mask).last_hidden_state, mask), dim=-1)
    frozen = frozen.clone()
    layer_weights = {}
    hook_layers(model, lambda i: lambda out: stack.wavg(out, layer_weights[i]))
    prior_temperature, temperature = 0.05, 1.0
    generator = ctx["generator"]

    def step():
        centroids = torch.stack([frozen[tasks == t].mean(0) for t in range(modules)])
        centroids = F.normalize(centroids, dim=-1)
        weights = [torch.zeros(modules, d, requires_grad=True) for _ in range(num_layers)]
        biases = [torch.zeros(modules, requires_grad=True) for _ in range(num_layers)]
        prior_scale = torch.ones(1, requires_grad=True)
        cal_scale = torch.ones(modules, requires_grad=True)
        cal_bias = torch.zeros(modules, requires_grad=True)
        optimizer = torch.optim.AdamW(weights + biases + [prior_scale, cal_scale, cal_bias], lr=1e-2,
                                      weight_decay=0.0)
        order = torch.randperm(rows, generator=generator)
        q = frozen[order]
        batch_ids, batch_mask = ids[order], mask[order]
        targets = tasks[order] * NUM_LABELS + labels[order]  # every head has NUM_LABELS labels
        prior = q @ centroids.t() / prior_temperature
        prior = prior - prior.max(-1, keepdim=True).values
        ws = []
        for layer in range(num_layers):
            z = q @ weights[layer].t() + biases[layer] + prior * prior_scale
            u = torch.rand(z.shape, generator=generator).clamp(1e-6, 1 - 1e-6)
            g = torch.sigmoid((z + (u.log() - (1 - u).log())) / temperature)
            w = g / g.sum(-1, keepdim=True).clamp(min=1e-12)
            layer_weights[layer] = w
            ws.append(w)
        with autocast():
            pooled = mean_pool(model(input_ids=batch_ids, attention_mask=batch_mask).last_hidden_state,
                               batch_mask)
            parts = [h(pooled) for h in heads]
        log_w = torch.stack(ws).mean(0).clamp(1e-12, 1.0).log()
        joint = torch.cat([F.log_softmax(p.float() * cal_scale[t] + cal_bias[t], -1) + log_w[:, t:t + 1]
                           for t, p in enumerate(parts)], -1)
        loss = F.nll_loss(joint, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()
    return step


# ----------------------------------------------------------------------------------------------------------------

def load_model(assets):
    import transformers
    from transformers import BertModel
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    # .float(): the GPU check carries MiniLM's weights in bf16 (scripts/bf16-weights.py); both sides widen them.
    model = BertModel.from_pretrained(str(assets), add_pooling_layer=False).float()
    model.eval()
    model.requires_grad_(False)
    return model


def measure(name, args, tokenizer):
    kind, merge, modules = parse_work(name)
    # A fresh model per work item: hooks and PEFT wrapping must not leak into the next item.
    model = load_model(args.assets).to(args.device)
    ctx = {
        "model": model,
        "config": model.config,
        "tokenizer": tokenizer,
        "seq_len": args.seq_len,
        "autocast": Autocast(args.dtype, args.device),
        "generator": torch.Generator().manual_seed(0),
    }
    rows = args.train_batch if is_training(kind) else args.infer_batch
    if kind == "infer":
        step = setup_infer(ctx, rows)
    elif kind == "train-lora":
        step = setup_train_lora(ctx, rows)
    elif kind == "train-adapter":
        step = setup_train_adapter(ctx, rows)
    elif kind == "routed":
        step = setup_routed(ctx, rows, merge, modules)
    else:
        step = setup_router_fit(ctx, rows, modules)
    for _ in range(args.warmup):
        step()
    synchronize(args.device)
    seconds = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        step()
        synchronize(args.device)
        seconds.append(time.perf_counter() - started)
    median = sorted(seconds)[len(seconds) // 2]  # the upper median, as l2r's
    tokens = rows * args.seq_len
    flops = work_flops(kind, merge, modules, model.config, rows, args.seq_len)
    return {
        "work": name,
        "batch": rows,
        "seq_len": args.seq_len,
        "tokens": tokens,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "seconds": seconds,
        "median_seconds": median,
        "tokens_per_second": tokens / median,
        "flops": flops,
        "gflops_per_second": flops / median / 1e9,
        "peak_rss_mib": peak_rss_mib(),
    }


def default_assets():
    root = os.environ.get("L2R_ASSETS")
    return pathlib.Path(root) / "minilm" if root else ROOT / "assets" / "minilm"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="infer,train-lora,train-adapter",
                        help="comma-separated work items (default: infer,train-lora,train-adapter)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per work item")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations before the timed ones")
    parser.add_argument("--train-batch", type=int, default=16)
    parser.add_argument("--infer-batch", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128, help="tokens per sequence, special tokens included")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: the cores this process may use)")
    parser.add_argument("--assets", type=pathlib.Path, default=default_assets(),
                        help="folder with config.json, model.safetensors and tokenizer.json")
    parser.add_argument("--json", action="store_true", help="print JSON (as `l2r bench --json`)")
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda or cuda:N: every tensor the bench makes goes there (torch.set_default_device)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if args.repeats < 1:
        raise SystemExit("--repeats must be at least 1")
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    # Inputs, modules and routers are made with plain torch calls; the default device puts them beside the model.
    torch.set_default_device(args.device)
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(str(args.assets / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=args.seq_len)
    results = []
    for name in [w for w in args.work.split(",") if w]:
        if not (args.quiet or args.json):
            print(f"timing {name}", file=sys.stderr)
        results.append(measure(name, args, tokenizer))
    if args.json:
        print(json.dumps({"side": "pytorch", "dtype": args.dtype, "device": args.device,
                          "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
                          "threads": torch.get_num_threads(),
                          "torch": torch.__version__, "results": results}, indent=2))
        return
    print(f"{'work':<18} {'tokens/s':>10} {'median s':>10} {'GFLOP/s':>10} {'peak RSS MiB':>14}")
    for r in results:
        rss = "-" if r["peak_rss_mib"] is None else f"{r['peak_rss_mib']:.0f}"
        print(f"{r['work']:<18} {r['tokens_per_second']:>10.0f} {r['median_seconds']:>10.3f} "
              f"{r['gflops_per_second']:>10.1f} {rss:>14}")
    print(f"PyTorch {torch.__version__} {args.dtype}, {torch.get_num_threads()} threads; peak RSS is cumulative "
          "over the rows above")


if __name__ == "__main__":
    main()
