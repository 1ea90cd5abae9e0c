#!/usr/bin/env python3
"""l2r against PyTorch + HF PEFT, side by side on identical work, in one invocation (issue 6; docs/design.md,
"Performance design").

For every work item, R rounds; each round runs `l2r bench --work W --repeats K --json` and
`bench/torch_bench.py --work W --repeats K --json` (with --dtypes fp32,bf16 also `l2r bench --precision bf16` and
PyTorch under bf16 autocast) as fresh subprocesses, one after the other, the order reversed every other round
(A B, B A, ...) so that a drifting machine favours neither side. Each subprocess times K iterations after the
warm-up and reports their median; the table shows, per side, the median over rounds of those medians, and the
ratio l2r / PyTorch of tokens/s.

    cargo build --release && bench/.venv/bin/python bench/compare.py
    bench/.venv/bin/python bench/compare.py --works train-lora,infer --rounds 5 --out runs/bench.json
    bench/.venv/bin/python bench/compare.py --quick          # tiny sizes: a smoke test of both sides (CI)

GFLOP/s counts the encoder's useful matmul FLOPs (crates/l2r-cli/src/commands/bench/flops.rs, BENCHMARKS.md);
"% peak" is against --peak-gflops when given, else against a PyTorch fp32 matmul probe (a lower bound of the FMA
peak). Peak RSS is each subprocess's VmHWM (one work item per process). Benchmarks on a busy machine mean little:
the report prints the load average before and after.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
ALL_WORKS = ["train-lora", "train-adapter", "infer",
             "routed-wavg-1", "routed-wavg-5", "routed-wavg-10",
             "routed-merge-1", "routed-merge-5", "routed-merge-10",
             "router-fit"]
# --quick: every work item at tiny sizes (router-fit composes 5 modules: the training batch must hold 5 tasks).
QUICK = {"seq_len": 16, "train_batch": 6, "infer_batch": 4, "repeats": 1, "warmup": 1, "rounds": 1}
# Two warm-up iterations: in the session-5 runs the first timed iteration after a single warm-up was often
# still slower (allocator growth, first-touch pages; e.g. 0.465 s against 0.308 / 0.351 s for train-lora).
FULL = {"seq_len": 128, "train_batch": 16, "infer_batch": 32, "repeats": 3, "warmup": 2, "rounds": 3}


def machine():
    info = {"cpu": platform.processor() or platform.machine(), "cores": len(os.sched_getaffinity(0)),
            "logical_cpus": os.cpu_count(), "flags": []}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        for line in text.splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                info["flags"] = sorted(flags & {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni",
                                                 "amx_bf16", "amx_tile", "amx_int8"})
                break
    except OSError:
        pass
    return info


def load_average():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def git_revision():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def matmul_probe(threads, size, repeats=5):
    """Best GFLOP/s of a square fp32 PyTorch matmul: a lower bound of the machine's FMA peak."""
    import torch
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e9


def fma_peak(l2r, threads):
    """The CPU's fp32 FMA peak in GFLOP/s: independent vector FMA chains on every thread, best of 5."""
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([str(l2r), "bench", "--fma-peak", "--repeats", "5", "--json"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["fma_peak_gflops"]


def sides(dtypes):
    """l2r fp32 always; l2r bf16 (`l2r bench --precision bf16`) beside PyTorch bf16 when bf16 is compared."""
    out = [("l2r", "fp32")]
    out += [("l2r", "bf16")] if "bf16" in dtypes else []
    out += [("pytorch", d) for d in dtypes]
    return out


def command(side, dtype, work, args):
    common = ["--work", work, "--repeats", str(args.repeats), "--warmup", str(args.warmup),
              "--train-batch", str(args.train_batch), "--infer-batch", str(args.infer_batch),
              "--seq-len", str(args.seq_len), "--json"]
    env = dict(os.environ)
    if side == "l2r":
        if args.threads:
            env["RAYON_NUM_THREADS"] = str(args.threads)
        return [str(args.l2r), "bench", "--quiet", "--precision", dtype, "--device", args.device, *common], env
    if args.omp_passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    cmd = [args.python, str(ROOT / "bench" / "torch_bench.py"), "--dtype", dtype, "--device", args.device,
           *common]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    return cmd, env


def run_one(side, dtype, work, args):
    cmd, env = command(side, dtype, work, args)
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout} s", "command": cmd}
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"error": f"exit {done.returncode}: " + " | ".join(tail), "command": cmd}
    try:
        report = json.loads(done.stdout)
        result = report["results"][0]
    except (ValueError, KeyError, IndexError) as e:
        return {"error": f"unreadable output ({e}): {done.stdout[-300:]}", "command": cmd}
    result["threads"] = report.get("threads")
    return result


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(work, side_runs):
    """side_runs: {(side, dtype): [result, ...]} -> per side medians over rounds."""
    out = {}
    for key, runs in side_runs.items():
        ok = [r for r in runs if "error" not in r]
        if not ok:
            out[key] = {"error": runs[-1]["error"] if runs else "not run"}
            continue
        out[key] = {
            "rounds": len(ok),
            "tokens_per_second": median([r["tokens_per_second"] for r in ok]),
            "median_seconds": median([r["median_seconds"] for r in ok]),
            "gflops_per_second": median([r["gflops_per_second"] for r in ok]),
            "flops": ok[0]["flops"],
            "peak_rss_mib": median([r["peak_rss_mib"] for r in ok]),
            "tokens": ok[0]["tokens"],
            "threads": ok[0].get("threads"),
        }
    return out


def fmt(value, spec, missing="–"):
    return missing if value is None else format(value, spec)


def markdown(summary, dtypes, peak, peak_label):
    torch_cols = [d for d in dtypes]
    head = ["work", "tokens/iter", "l2r tok/s"]
    for d in torch_cols:
        head += [f"PyTorch {d} tok/s", f"l2r / PyTorch {d}"]
    if "bf16" in dtypes:
        head += ["l2r bf16 tok/s", "l2r bf16 / PyTorch bf16"]
    head += ["l2r GFLOP/s", "PyTorch fp32 GFLOP/s" if "fp32" in dtypes else f"PyTorch {dtypes[0]} GFLOP/s",
             "l2r peak RSS MiB", "PyTorch peak RSS MiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for work, sides_ in summary.items():
        l2r = sides_.get(("l2r", "fp32"), {})
        row = [work, fmt(l2r.get("tokens"), "d"), fmt(l2r.get("tokens_per_second"), ".0f", "failed")]
        for d in torch_cols:
            t = sides_.get(("pytorch", d), {})
            row.append(fmt(t.get("tokens_per_second"), ".0f", "failed"))
            ratio = None
            if l2r.get("tokens_per_second") and t.get("tokens_per_second"):
                ratio = l2r["tokens_per_second"] / t["tokens_per_second"]
            row.append(fmt(ratio, ".2f") + ("×" if ratio is not None else ""))
        if "bf16" in dtypes:
            l2r_bf16 = sides_.get(("l2r", "bf16"), {})
            t = sides_.get(("pytorch", "bf16"), {})
            row.append(fmt(l2r_bf16.get("tokens_per_second"), ".0f", "failed"))
            ratio = None
            if l2r_bf16.get("tokens_per_second") and t.get("tokens_per_second"):
                ratio = l2r_bf16["tokens_per_second"] / t["tokens_per_second"]
            row.append(fmt(ratio, ".2f") + ("×" if ratio is not None else ""))
        ref = sides_.get(("pytorch", "fp32" if "fp32" in dtypes else dtypes[0]), {})

        def gflops(s):
            g = s.get("gflops_per_second")
            if g is None:
                return "–"
            return f"{g:.0f}" + (f" ({100 * g / peak:.0f}%)" if peak else "")
        row += [gflops(l2r), gflops(ref), fmt(l2r.get("peak_rss_mib"), ".0f"), fmt(ref.get("peak_rss_mib"), ".0f")]
        lines.append("| " + " | ".join(row) + " |")
        for key, s in sides_.items():
            if "error" in s:
                notes.append(f"- {work}, {key[0]} {key[1]}: {s['error']}")
        if l2r.get("flops") and ref.get("flops") and abs(l2r["flops"] - ref["flops"]) > 1e-9 * ref["flops"]:
            notes.append(f"- {work}: the two sides count different FLOPs ({l2r['flops']:.4g} vs {ref['flops']:.4g})")
    # Routed scaling: the cost of 10 (or the most) modules against 1, per composition and side.
    for mode in ("wavg", "merge"):
        counts = sorted(int(w.rsplit("-", 1)[1]) for w in summary if w.startswith(f"routed-{mode}-"))
        if len(counts) < 2 or counts[0] != 1:
            continue
        most = counts[-1]
        parts = []
        for key in sides(dtypes):
            one = summary[f"routed-{mode}-1"].get(key, {}).get("median_seconds")
            many = summary[f"routed-{mode}-{most}"].get(key, {}).get("median_seconds")
            if one and many:
                parts.append(f"{key[0]} {key[1]} {many / one:.2f}×")
        if parts:
            notes.append(f"- routed {mode}: {most} modules cost " + ", ".join(parts) + " the time of 1 module")
    if peak:
        notes.append(f"- % peak: against {peak:.0f} GFLOP/s ({peak_label})")
    return "\n".join(lines + ([""] + notes if notes else []))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--works", default=None, help="comma-separated work items (default: all: "
                        + ",".join(ALL_WORKS) + ")")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds per work item (default 3)")
    parser.add_argument("--repeats", type=int, default=None, help="timed iterations per subprocess (default 3)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed iterations per subprocess (default 2)")
    parser.add_argument("--seq-len", type=int, default=None)
    parser.add_argument("--train-batch", type=int, default=None)
    parser.add_argument("--infer-batch", type=int, default=None)
    parser.add_argument("--dtypes", default="fp32", help="PyTorch dtypes to compare with: fp32, bf16 or fp32,bf16")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of both sides (default: each side uses every core it may)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round, one repeat: a smoke test")
    parser.add_argument("--peak-gflops", type=float, default=None,
                        help="the CPU's fp32 FMA peak for '%% peak' (default: measured by `l2r bench --fma-peak`)")
    parser.add_argument("--no-probe", action="store_true",
                        help="measure no peak and skip the PyTorch matmul probe (no '%% peak')")
    parser.add_argument("--omp-passive", action="store_true",
                        help="OMP_WAIT_POLICY=PASSIVE for PyTorch: its OpenMP threads sleep instead of spinning, "
                             "which only helps on a busy machine (not PyTorch's default; recorded in the report)")
    parser.add_argument("--out", type=pathlib.Path, default=None, help="write every raw number as JSON here")
    parser.add_argument("--l2r", type=pathlib.Path, default=ROOT / "target" / "release" / "l2r")
    parser.add_argument("--python", default=sys.executable, help="the Python with torch, transformers, peft")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per subprocess")
    parser.add_argument("--device", default="cpu",
                        help="cpu, or cuda / cuda:N: both sides on that GPU (l2r built with scripts/build-cuda.sh, "
                             "--l2r target/cuda/release/l2r); implies --no-probe (the probe measures the CPU)")
    args = parser.parse_args()
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    works = [w for w in (args.works or ",".join(ALL_WORKS)).split(",") if w]
    dtypes = [d for d in args.dtypes.split(",") if d]
    if any(d not in ("fp32", "bf16") for d in dtypes) or not dtypes:
        raise SystemExit("--dtypes: fp32, bf16 or fp32,bf16")
    if not args.l2r.exists():
        raise SystemExit(f"{args.l2r} is missing: run `cargo build --release` first")
    if args.rounds < 1 or args.repeats < 1:
        raise SystemExit("--rounds and --repeats must be at least 1")

    started = datetime.datetime.now(datetime.timezone.utc)
    info = machine()
    load_before = load_average()
    threads = args.threads or info["cores"]
    peak, peak_label = args.peak_gflops, "given with --peak-gflops"
    probe = None
    if not args.no_probe and args.device == "cpu":
        size = 1024 if args.quick else 4096
        probe = matmul_probe(threads, size)
        if peak is None:
            peak = fma_peak(args.l2r, threads)
            peak_label = f"fp32 FMA peak measured by `l2r bench --fma-peak` on {threads} threads"
    print(f"l2r {git_revision()} vs PyTorch on {info['cpu']} ({info['cores']} cores, "
          f"{' '.join(info['flags'])}); load average {load_before}", file=sys.stderr)

    runs = []
    summary = {}
    order = sides(dtypes)
    for work in works:
        side_runs = {key: [] for key in order}
        for round_ in range(args.rounds):
            for side, dtype in (order if round_ % 2 == 0 else order[::-1]):
                result = run_one(side, dtype, work, args)
                runs.append({"work": work, "side": side, "dtype": dtype, "round": round_, **result})
                side_runs[(side, dtype)].append(result)
                shown = (f"{result['tokens_per_second']:.0f} tok/s" if "error" not in result
                         else "FAILED: " + result["error"])
                print(f"  {work:<16} round {round_ + 1}/{args.rounds} {side:<7} {dtype}: {shown}",
                      file=sys.stderr)
        summary[work] = summarise(work, side_runs)
    load_after = load_average()

    sizes = (f"training batch {args.train_batch} × {args.seq_len}, inference batch {args.infer_batch} × "
             f"{args.seq_len}; {args.rounds} rounds × {args.repeats} repeats (warm-up {args.warmup})")
    print(f"## l2r vs PyTorch + HF PEFT — {started:%Y-%m-%d %H:%M} UTC\n")
    print(f"Machine: {info['cpu']}, {info['cores']} cores ({threads} threads), flags: {' '.join(info['flags'])}; "
          f"load average before {fmt_load(load_before)}, after {fmt_load(load_after)}.  ")
    print(f"l2r {git_revision()}; {sizes}" + ("; --quick: NOT the benchmark sizes" if args.quick else "") + ".  ")
    if peak:
        print(f"fp32 peak for % peak: {peak:.0f} GFLOP/s ({peak_label}).  ")
    if probe:
        print(f"PyTorch fp32 {size}² matmul alone: {probe:.0f} GFLOP/s"
              + (f" ({100 * probe / peak:.0f}% of peak)" if peak else "") + ".  ")
    if args.omp_passive:
        print("PyTorch ran with OMP_WAIT_POLICY=PASSIVE (not its default).  ")
    busiest = max((load_before or [0])[0], (load_after or [0])[0])
    if busiest >= 1.0:
        print(f"**Warning: the machine was busy (1-minute load {busiest:.1f} on {info['cores']} cores): these numbers "
              "are not a benchmark.** PyTorch suffers most: its OpenMP threads spin-wait for each other, and a "
              "descheduled thread stalls every parallel region (on a loaded 2-core machine a 4 × 16 forward took "
              "0.52 s with the default policy, 0.02 s with --omp-passive).")
    print()
    print(markdown(summary, dtypes, peak, peak_label))
    failed = any("error" in r for r in runs)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "started": started.isoformat(), "machine": info, "threads": threads,
            "load_average_before": load_before, "load_average_after": load_after,
            "l2r_revision": git_revision(), "peak_gflops": peak, "peak_source": peak_label,
            "omp_passive": args.omp_passive,
            "settings": {k: getattr(args, k) for k in ("rounds", "repeats", "warmup", "seq_len", "train_batch",
                                                       "infer_batch", "quick")},
            "dtypes": dtypes, "works": works, "runs": runs,
            "summary": {w: {f"{k[0]}-{k[1]}": v for k, v in s.items()} for w, s in summary.items()},
        }
        tmp = args.out.with_suffix(args.out.suffix + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        tmp.replace(args.out)
        print(f"\nraw numbers: {args.out}", file=sys.stderr)
    sys.exit(1 if failed else 0)


def fmt_load(load):
    return "?" if load is None else " / ".join(f"{x:.1f}" for x in load)


if __name__ == "__main__":
    main()
