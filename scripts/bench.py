"""Benchmark the CNN tutorials' training step, part by part, and each page's training loop (`make bench`).

Prints tables and writes them to build/bench-jax-<version>.json. It measures; it never fails on a
slow machine (it does fail when a page's code no longer runs as the benchmark expects).

1. Where the CNN step's time goes: the CNN of tutorials 3 and 5 to 8 in one jitted functional step,
   batch 32, data on the device, built up part by part (the plain network, then BatchNorm, Dropout
   and the optimizer the pages use), with Dropout on the first convolution's output as the pages had
   it before, and BatchNorm after the pooling, a cheaper place. The pages' own CNN is taken from
   tutorial 3's notebook, Linen's from tutorial 4's. The median of 7 blocks of 40 steps each, taken in
   rounds over all the steps, so that a change in the machine's load slows them alike.
2. (not with --steps-only) Each page's training loop against its bare step (scripts/bench_loops.py,
   a process per page): loop efficiency, and where the loop's time goes.

`make bench` runs it with .venv (the newest end) and, with --steps-only, with .venv-colab (Colab's).
Usage: python scripts/bench.py [--steps-only] [--quick] [--loops 02,03]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax
from flax import linen, nnx
from notebook_code import definitions

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
BATCH = 32
PagesCNN = definitions(NOTEBOOKS / "03_flax_nnx_cnn_mnist.ipynb", ["avg_pool", "CNN"],
                       {"jax": jax, "nnx": nnx})["CNN"]
LinenCNN = definitions(NOTEBOOKS / "04_flax_linen_cnn_mnist.ipynb", ["avg_pool", "CNN"],
                       {"jax": jax, "nn": linen})["CNN"]


def avg_pool(x: jax.Array) -> jax.Array:
    return nnx.avg_pool(x, window_shape=(2, 2), strides=(2, 2))


class PartsCNN(nnx.Module):
    """The pages' CNN with each part optional: BatchNorm after each convolution (or after the pooling,
    where it sees a quarter of the values), Dropout on the dense layer (and on conv1's output)."""

    def __init__(self, *, batch_norm: str | None, dropout: tuple[str, ...], rngs: nnx.Rngs):
        self.batch_norm, self.dropout = batch_norm, dropout
        self.conv1 = nnx.Conv(1, 32, kernel_size=(3, 3), rngs=rngs)
        self.conv2 = nnx.Conv(32, 64, kernel_size=(3, 3), rngs=rngs)
        self.norm1, self.norm2 = nnx.BatchNorm(32, rngs=rngs), nnx.BatchNorm(64, rngs=rngs)
        self.drop_conv = nnx.Dropout(rate=0.025, rngs=rngs)
        self.drop_dense = nnx.Dropout(rate=0.1, rngs=rngs)
        self.linear1 = nnx.Linear(7 * 7 * 64, 256, rngs=rngs)
        self.linear2 = nnx.Linear(256, 10, rngs=rngs)

    def block(self, conv, norm, x, dropout: bool = False):
        x = conv(x)
        if self.batch_norm == "after pooling":
            x = avg_pool(x)
            return nnx.relu(norm(x))
        x = norm(x) if self.batch_norm else x
        x = self.drop_conv(x) if dropout else x
        return avg_pool(nnx.relu(x))

    def __call__(self, x):
        x = self.block(self.conv1, self.norm1, x, dropout="conv1" in self.dropout)
        x = self.block(self.conv2, self.norm2, x)
        x = nnx.relu(self.linear1(x.reshape(x.shape[0], -1)))
        return self.linear2(self.drop_dense(x) if "dense" in self.dropout else x)


def timed_rounds(steps: dict[str, tuple[Any, Any]], rounds: int, block: int) -> dict[str, dict[str, float]]:
    """For each named (step, carry): compile time, then the median and the fastest of `rounds` blocks of
    `block` steps, in ms per step. The rounds go over every step in turn, so that a machine whose load
    changes meanwhile slows them all alike."""
    carries, result = {}, {}
    for name, (step, carry) in steps.items():
        started = time.perf_counter()
        carries[name] = jax.block_until_ready(step(carry))
        result[name] = {"compile_s": time.perf_counter() - started, "blocks_ms": []}
    for _ in range(rounds):
        for name, (step, _) in steps.items():
            carry = carries[name]
            started = time.perf_counter()
            for _ in range(block):
                carry = step(carry)
            carries[name] = jax.block_until_ready(carry)
            result[name]["blocks_ms"].append((time.perf_counter() - started) / block * 1e3)
    for row in result.values():
        row["ms_per_step"], row["fastest_ms"] = statistics.median(row["blocks_ms"]), min(row["blocks_ms"])
    return result


def nnx_step(model: nnx.Module, tx) -> tuple[Any, Any]:
    """One jitted functional training step over the model's and optimizer's state (nnx.split once)."""
    model.train()
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))
    x, y = jax.random.normal(jax.random.key(1), (BATCH, 28, 28, 1)), jnp.zeros((BATCH,), jnp.int32)

    @jax.jit
    def step(state):
        model, optimizer = nnx.merge(graphdef, state)
        loss = lambda m: optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()  # noqa: E731
        optimizer.update(model, nnx.grad(loss)(model))
        return nnx.state((model, optimizer))

    return step, state


def linen_step() -> tuple[Any, Any]:
    """Tutorial 4's step: its Linen CNN, AdamW, BatchNorm's statistics returned by apply."""
    cnn = LinenCNN()
    variables = cnn.init(jax.random.key(0), jnp.ones((1, 28, 28, 1)), train=False)
    tx = optax.adamw(0.003)
    x, y = jax.random.normal(jax.random.key(1), (BATCH, 28, 28, 1)), jnp.zeros((BATCH,), jnp.int32)

    @jax.jit
    def step(carry):
        params, batch_stats, opt_state, count = carry

        def loss(params):
            logits, changed = cnn.apply({"params": params, "batch_stats": batch_stats}, x, train=True,
                                        rngs={"dropout": jax.random.fold_in(jax.random.key(2), count)},
                                        mutable=["batch_stats"])
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), changed["batch_stats"]

        grads, batch_stats = jax.grad(loss, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), batch_stats, opt_state, count + 1

    params = variables["params"]
    return step, (params, variables["batch_stats"], tx.init(params), 0)


def parts(model: str, rngs: nnx.Rngs) -> nnx.Module:
    return {
        "plain": lambda: PartsCNN(batch_norm=None, dropout=(), rngs=rngs),
        "+ BatchNorm": lambda: PartsCNN(batch_norm="before pooling", dropout=(), rngs=rngs),
        "+ Dropout": lambda: PartsCNN(batch_norm=None, dropout=("dense",), rngs=rngs),
        "+ conv Dropout": lambda: PartsCNN(batch_norm=None, dropout=("dense", "conv1"), rngs=rngs),
        "pages": lambda: PagesCNN(rngs=rngs),
        "before": lambda: PartsCNN(batch_norm="before pooling", dropout=("dense", "conv1"), rngs=rngs),
        "norm after pooling": lambda: PartsCNN(batch_norm="after pooling", dropout=("dense",), rngs=rngs),
    }[model]()


STEPS = {  # row: (model, optimizer)
    "plain network (conv, ReLU, pooling; dense), SGD": ("plain", "sgd"),
    "+ BatchNorm after each convolution, SGD": ("+ BatchNorm", "sgd"),
    "+ Dropout on the first dense layer's output, SGD": ("+ Dropout", "sgd"),
    "+ Dropout on conv1's output too, SGD": ("+ conv Dropout", "sgd"),
    "the pages' CNN (BatchNorm and dense Dropout), SGD (tutorial 7)": ("pages", "sgd"),
    "the pages' CNN, AdamW (tutorials 3, 5, 6, 8)": ("pages", "adamw"),
    "the pages' CNN with conv1 Dropout too (until 2026-12), AdamW": ("before", "adamw"),
    "BatchNorm after the pooling instead, AdamW": ("norm after pooling", "adamw"),
}


def cnn_step_parts(quick: bool) -> list[dict[str, Any]]:
    built = {}
    for name, (model, optimizer) in STEPS.items():
        tx = optax.sgd(0.1, momentum=0.9) if optimizer == "sgd" else optax.adamw(0.003)
        built[name] = nnx_step(parts(model, nnx.Rngs(0)), tx)
    built["tutorial 4's Linen CNN, AdamW"] = linen_step()
    timings = timed_rounds(built, rounds=3 if quick else 7, block=40)
    rows = [{"step": name, "batch": BATCH, **timing} for name, timing in timings.items()]
    plain = rows[0]["ms_per_step"]
    for row in rows:
        row["to_plain"] = row["ms_per_step"] / plain
    return rows


def print_parts(rows: list[dict[str, Any]]) -> None:
    print(f"the CNN's training step, batch {BATCH}, data on the device (median of rounds of 40 steps):")
    print(f"{'step':72s} {'ms/step':>8s} {'fastest':>8s} {'x plain':>8s} {'compile s':>9s}")
    for row in rows:
        print(f"{row['step']:72s} {row['ms_per_step']:8.2f} {row['fastest_ms']:8.2f} {row['to_plain']:8.2f}"
              f" {row['compile_s']:9.2f}")


def training_loops(keys: list[str], quick: bool) -> list[dict[str, Any]]:
    """Each selected page's loop, measured by scripts/bench_loops.py in a process of its own."""
    rows = []
    for key in keys:
        args = [sys.executable, str(REPO / "scripts" / "bench_loops.py"), key, *(["--quick"] if quick else [])]
        child = subprocess.run(args, capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(f"training loop {key}: scripts/bench_loops.py failed:\n{child.stderr[-4000:]}")
        rows.append(json.loads(child.stdout.splitlines()[-1]))
    return rows


def print_loops(loops: list[dict[str, Any]]) -> None:
    print("training loops, each page's own code (a shorter run in the page's proportions, timed after a first run):")
    print(f"{'tutorial':34s} {'batch':>5s} {'steps':>5s} {'bare ms':>8s} {'loop ms':>8s} {'efficiency':>10s}"
          f"   time in: {'steps':>6s} {'evaluation':>10s} {'rest':>6s}")
    for row in loops:
        share = row["breakdown"]
        print(f"{row['tutorial'] + ' ' + row['notebook'][3:-6]:34.34s} {row['batch']:5d} {row['steps_timed']:5d}"
              f" {row['bare_step_ms']:8.2f} {row['loop_ms_per_step']:8.2f} {row['efficiency']:10.2f}"
              f"            {share['steps']:6.0%} {share['evaluation']:10.0%} {share['rest']:6.0%}")


def main() -> None:
    from bench_loops import LOOPS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps-only", action="store_true", help="only the CNN step's parts (no loops)")
    parser.add_argument("--quick", action="store_true", help="fewer timed blocks and loop runs")
    parser.add_argument("--loops", default=",".join(sorted(LOOPS)), help="these pages' loops, e.g. 02,03")
    args = parser.parse_args()
    machine = {"devices": [str(d) for d in jax.devices()], "cpu": platform.processor() or platform.machine(),
               "cores": os.cpu_count(), "jax": jax.__version__, "flax": flax.__version__,
               "python": platform.python_version()}
    print(f"jax {machine['jax']}, flax {machine['flax']}, python {machine['python']}; "
          f"{machine['devices'][0]} ({machine['cores']} cores){'  [quick]' if args.quick else ''}\n")
    steps = cnn_step_parts(args.quick)
    print_parts(steps)
    loops = [] if args.steps_only else training_loops(args.loops.split(","), args.quick)
    if loops:
        print()
        print_loops(loops)
    out = REPO / "build" / f"bench-jax-{jax.__version__}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "cnn_step": steps, "training_loops": loops}, indent=2))
    print(f"\nwritten: {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
