#!/usr/bin/env python3
"""Corrupt files (issue 18, item 5): every file of a task library and of a run folder, in turn, truncated to half
its size and, separately, with one bit flipped (at a seeded random offset); then the commands that read them.

A command may succeed only with exactly the output it gives on the intact folder (it did not need the file, or
rewrote it); otherwise it must exit non-zero with an error that names the damaged file. A panic, or a success with
a different output (a silently wrong answer), fails the case.

  library (two tasks, tiny settings):  predict --library, library show, library history, library add (a third task)
  run folder (two tasks, tiny):        predict --run, report, run --resume (then metrics.json compared)

    python3 scripts/reliability/corrupt.py [--seed 1] [--only library|run] [--out results.json]

Standard library only; builds its folders in a temporary directory with target/release/l2r. Exit 1 on any failure.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CITIES = ["Paris", "Lima", "Oslo", "Cairo", "Delhi", "Quito", "Rome", "Tokyo", "Accra", "Bern", "Hanoi", "Doha"]
TINY = ('[module]\ntype = "adapter"\nsize = 8\n[train]\nepochs = 2\nbatch_size = 8\n'
        '[memory]\nper_class = 2\n[router]\nepochs = 3\nbatch_size = 4\n')
TEXTS = ["Heavy rain over Oslo again", "A cake tasting of honey", "Thunder and hail all night"]


def write_tasks(work):
    rows = {
        "weather": [("The sky over {c} is clear and bright on day {i}", "sunny"),
                    ("Heavy rain keeps falling on {c} since day {i}", "rainy")],
        "food": [("This cake from {c} tastes of honey and sugar number {i}", "sweet"),
                 ("The chips sold in {c} are covered in salt batch {i}", "salty")],
        "sport": [("The team from {c} won the final in game {i}", "win"),
                  ("The club from {c} lost at home in round {i}", "loss")],
    }
    for name, templates in rows.items():
        with open(os.path.join(work, f"{name}.csv"), "w") as f:
            f.write("text,label\n")
            for i, city in enumerate(CITIES):
                for template, label in templates:
                    f.write(f"{template.format(c=city, i=i)},{label}\n")


class L2r:
    def __init__(self, binary, work):
        self.binary, self.work = binary, work

    def __call__(self, *args, timeout=600):
        done = subprocess.run([self.binary, *args, "--quiet"], capture_output=True, text=True, timeout=timeout,
                              cwd=self.work)
        return done.returncode, done.stdout, done.stderr

    def ok(self, *args):
        code, out, err = self(*args)
        if code != 0:
            sys.exit(f"l2r {' '.join(args)} failed ({code}): {err}")
        return out


# ---------------------------------------------------------------------------------------------------------------
# What each folder is read by, and the output that counts


def library_commands(l2r, folder):
    """(name, function of a library folder → comparable output or (code, stderr))."""
    def predict(lib):
        return l2r("predict", "--library", lib, "--json", *TEXTS)

    def show(lib):
        return l2r("library", "show", lib, "--json")

    def history(lib):
        return l2r("library", "history", lib, "--json")

    def add(lib):
        code, out, err = l2r("library", "add", lib, "--name", "sport", "--data", "sport.csv", "--json")
        if code == 0:  # the new generation's evaluation is the answer that counts (timings differ run to run)
            with open(os.path.join(lib, "generations", "000003", "evaluation.json")) as f:
                out = f.read()
        return code, out, err
    return [("predict", predict), ("show", show), ("history", history), ("add", add)]


def run_commands(l2r, folder):
    def predict(run):
        return l2r("predict", "--run", run, "--json", *TEXTS)

    def report(run):
        code, out, err = l2r("report", run, "--out", os.path.join(run, "..", "report.html"))
        return code, "", err  # the page embeds timings; success and errors are what count

    def resume(run):
        code, out, err = l2r("run", "--resume", run)
        if code == 0:
            with open(os.path.join(run, "metrics.json")) as f:
                out = f.read()
        return code, out, err
    return [("predict", predict), ("report", report), ("resume", resume)]


# ---------------------------------------------------------------------------------------------------------------


def damage(path, mode, rng):
    data = bytearray(open(path, "rb").read())
    if mode == "truncate":
        data = data[: len(data) // 2]
        where = f"cut to {len(data)} bytes"
    else:
        offset = rng.randrange(len(data))
        bit = rng.randrange(8)
        data[offset] ^= 1 << bit
        where = f"bit {bit} of byte {offset} flipped"
    with open(path, "wb") as f:
        f.write(data)
    return where


def check_folder(kind, folder, commands, rng, results):
    with tempfile.TemporaryDirectory(dir=os.path.dirname(folder)) as scratch:
        copy = os.path.join(scratch, os.path.basename(folder))
        shutil.copytree(folder, copy)  # the commands may write (add, resume): the folder itself stays as built
        reference = {name: command(copy) for name, command in commands}
    for name, (code, _, err) in reference.items():
        if code != 0:
            sys.exit(f"{kind}: {name} fails on the intact folder: {err}")
    files = sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)
    files = [f for f in files if not f.endswith((".lock", ".html")) and os.path.getsize(os.path.join(folder, f))]
    print(f"{kind}: {len(files)} files × 2 damages × {len(commands)} commands")
    for relative in files:
        for mode in ("truncate", "flip"):
            with tempfile.TemporaryDirectory(dir=os.path.dirname(folder)) as scratch:
                copy = os.path.join(scratch, os.path.basename(folder))
                shutil.copytree(folder, copy)
                where = damage(os.path.join(copy, relative), mode, rng)
                outcomes = {}
                for name, command in commands:
                    code, out, err = command(copy)
                    if code == 101 or "panicked" in err:
                        outcome = "PANIC"
                    elif code == 0:
                        outcome = "same" if out == reference[name][1] else "SILENTLY WRONG"
                    else:
                        named = relative in err or os.path.join(copy, relative) in err
                        outcome = "error naming the file" if named else "ERROR NOT NAMING THE FILE"
                    outcomes[name] = outcome
                    if outcome.isupper():
                        print(f"    {name}: {err.strip()[:300]}")
                failed = [n for n, o in outcomes.items() if o.isupper()]
                results.append({"folder": kind, "file": relative, "damage": where, "outcomes": outcomes,
                                "failed": failed})
                flag = "FAIL" if failed else "ok  "
                summary = ", ".join(f"{n}: {o}" for n, o in outcomes.items())
                print(f"  {flag} {relative} ({where}): {summary}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(REPO, "target/release/l2r"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=["library", "run"])
    parser.add_argument("--out", help="write every case as JSON here")
    args = parser.parse_args()
    os.environ.setdefault("L2R_ASSETS", os.path.join(REPO, "assets"))
    rng = random.Random(args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="l2r-corrupt.") as work:
        write_tasks(work)
        l2r = L2r(args.binary, work)
        if args.only in (None, "library"):
            with open(os.path.join(work, "library.toml"), "w") as f:
                f.write("max_len = 32\n" + TINY)
            lib = os.path.join(work, "library")
            l2r.ok("library", "init", lib, "--config", "library.toml")
            for task in ("weather", "food"):
                l2r.ok("library", "add", lib, "--name", task, "--data", f"{task}.csv")
            check_folder("library", lib, library_commands(l2r, lib), rng, results)
        if args.only in (None, "run"):
            with open(os.path.join(work, "run.toml"), "w") as f:
                f.write("max_len = 32\nseeds = [0]\n" + "".join(
                    f'[[tasks]]\nname = "{task}"\npath = "{os.path.join(work, task)}.csv"\n'
                    for task in ("weather", "food")) + TINY)
            run = os.path.join(work, "run")
            l2r.ok("run", "run.toml", "--out", run)
            check_folder("run", run, run_commands(l2r, run), rng, results)
    failed = [r for r in results if r["failed"]]
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"seed": args.seed, "cases": len(results), "failed": len(failed), "results": results}, f,
                      indent=2)
    print(f"corrupt files: {len(results)} cases (seed {args.seed}), {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
