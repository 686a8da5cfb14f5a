"""Benchmark the tutorials' training steps and training loops on this machine (`make bench`).

Prints tables and writes them as JSON to build/bench.json. Not a test: it
measures, it never fails on a slow machine (it does fail when a tutorial's code
no longer runs as the benchmark expects).

Measured:
- the CNN training steps, with the data already on the device (the framework,
  not the input pipeline): compile time, steady-state ms/step and examples/s at
  the tutorial's batch size; the NNX CNN in three forms over the identical
  computation (plain `nnx.jit` on the objects, the split/merge fast path the
  tutorial teaches, and a purely functional `jax.jit` step), with ratios to the
  functional one; each step's GFLOP/s as a fraction of the machine's float32
  matmul peak. The models are the notebooks' own class definitions, executed
  from the notebooks (scripts/notebook_code.py).
- every training tutorial's loop, from the notebook's own cells, against its bare
  step (scripts/bench_loops.py, one process per tutorial): loop efficiency and
  where the loop's time goes.

On a CPU it measures the CNN steps a second time, in a child process started
with CPU_CONV_FLAG added to XLA_FLAGS (XLA reads them once, at start-up): with
jaxlib 0.10 to 0.12, XLA's CPU backend hands each convolution to YNNPACK, which
is slower than XLA's own convolutions for these small images; the flag turns
that offload off (docs/performance.md has the figures).

Usage: python scripts/bench.py [--quick] [--batches 256,2048] [--loops 02,03]  (--help for all options)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import optax
from bench_loops import LOOPS
from flax import linen, nnx
from flax.training import train_state
from notebook_code import definitions

REPO = Path(__file__).resolve().parent.parent
CPU_CONV_FLAG = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"


def batch_sizes(text: str) -> list[int]:
    try:
        return [int(size) for size in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("comma-separated batch sizes, e.g. 256,2048") from None


def loop_keys(text: str) -> list[str]:
    keys = [] if text == "none" else text.split(",")
    unknown = sorted(set(keys) - set(LOOPS))
    if unknown:
        raise argparse.ArgumentTypeError(f"no training loop {unknown}; known: {','.join(sorted(LOOPS))}")
    return keys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the tutorials' training steps and training loops; "
                                                 "prints a table and writes build/bench.json.")
    parser.add_argument("--quick", action="store_true", help="fewer timed steps (what CI runs)")
    parser.add_argument("--batches", type=batch_sizes, default=[], metavar="SIZES",
                        help="also time the CNN steps at these batch sizes, e.g. 256,2048 "
                             "(what a larger batch buys, e.g. on a GPU)")
    parser.add_argument("--loops", type=loop_keys, default=sorted(LOOPS), metavar="NN,NN",
                        help="time only these tutorials' training loops, e.g. 02,03 ('none': no loop table)")
    parser.add_argument("--cnn-only", action="store_true",
                        help="time only the CNN steps and print them as one JSON line; the mode of the "
                             "child process that measures them with CPU_CONV_FLAG")
    return parser.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else parse_args([])
QUICK = ARGS.quick
STEPS = 20 if QUICK else 100


def timed_steps(step: Callable[[Any], Any], carry: Any, wait: Callable[[Any], Any]) -> dict[str, float]:
    """Compile time of the first call, then mean wall time of STEPS calls."""
    start = time.perf_counter()
    carry = step(carry)
    jax.block_until_ready(wait(carry))
    compile_s = time.perf_counter() - start
    for _ in range(3):  # warm up
        carry = step(carry)
    jax.block_until_ready(wait(carry))
    start = time.perf_counter()
    for _ in range(STEPS):
        carry = step(carry)
    jax.block_until_ready(wait(carry))
    return {"compile_s": compile_s, "ms_per_step": (time.perf_counter() - start) / STEPS * 1e3}


def matmul_size() -> int:
    """2048 keeps a CPU busy for a while; an accelerator needs a larger product to reach its peak."""
    return 2048 if jax.default_backend() == "cpu" else 8192


def matmul_peak_gflops(precision: str | None = None, repeats: int = 10) -> float:
    """float32 matmul rate at XLA's default precision (on recent NVIDIA GPUs that uses TF32, as the
    CNN steps do) or at the precision named (e.g. "highest": true float32)."""
    n = matmul_size()
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    matmul = jax.jit(lambda x: jnp.matmul(x, x, precision=precision))
    matmul(a).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def cnn_training_gflop_per_example() -> float:
    """Forward MACs x 2 = FLOPs; training (forward + backward) ~ 3x forward."""
    macs = (28 * 28 * 32 * 3 * 3 * 1      # conv 1 (SAME padding, 28x28 output)
            + 14 * 14 * 64 * 3 * 3 * 32   # conv 2 (14x14 output)
            + 3136 * 256 + 256 * 10)      # dense layers
    return 3 * 2 * macs / 1e9


# --- the tutorials' models, taken from the notebooks ------------------------

NOTEBOOKS = REPO / "notebooks"
SHARED_IMPORTS = {"jax": jax, "jnp": jnp, "nnx": nnx, "nn": linen, "partial": partial}
NnxCNN = definitions(NOTEBOOKS / "03_flax_nnx_cnn_mnist.ipynb", ["avg_pool", "CNN"], dict(SHARED_IMPORTS))["CNN"]
LinenCNN = definitions(NOTEBOOKS / "04_flax_linen_cnn_mnist.ipynb", ["avg_pool", "CNN"], dict(SHARED_IMPORTS))["CNN"]


def cross_entropy(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


# --- benchmarks ---------------------------------------------------------------

def nnx_cnn_setup(batch: int):
    model = NnxCNN(rngs=nnx.Rngs(0))
    model.train()
    optimizer = nnx.Optimizer(model, optax.adamw(0.003, 0.9), wrt=nnx.Param)
    data = {"image": jnp.ones((batch, 28, 28, 1)), "label": jnp.zeros((batch,), jnp.int32)}
    return model, optimizer, data


def nnx_loss(model, batch):
    logits = model(batch["image"])
    return cross_entropy(logits, batch["label"]), logits


def bench_nnx_cnn_forms(batch: int = 32) -> list[dict[str, Any]]:
    @nnx.jit
    def train_step(model, optimizer, batch):
        (_, _), grads = nnx.value_and_grad(nnx_loss, has_aux=True)(model, batch)
        optimizer.update(model, grads)

    rows = []
    model, optimizer, data = nnx_cnn_setup(batch)

    def plain(objects):
        train_step(*objects, data)
        return objects

    rows.append({"tutorial": "03 NNX CNN: nnx.jit on objects", "batch": batch,
                 **timed_steps(plain, (model, optimizer), lambda o: nnx.state(o[0]))})

    model, optimizer, data = nnx_cnn_setup(batch)
    graphdef, state = nnx.split((model, optimizer))

    @jax.jit
    def fast(state):
        model, optimizer = nnx.merge(graphdef, state)
        train_step(model, optimizer, data)
        return nnx.state((model, optimizer))

    rows.append({"tutorial": "03 NNX CNN: split/merge + jax.jit", "batch": batch,
                 **timed_steps(fast, state, lambda s: s)})

    # Purely functional reference: the same modules' pure state, one jax.jit over arrays.
    model, optimizer, data = nnx_cnn_setup(batch)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adamw(0.003, 0.9)

    @jax.jit
    def functional(carry):
        params, rest, opt_state = carry

        def loss(params, rest):
            module = nnx.merge(graphdef, params, rest, copy=True)
            loss_value, _ = nnx_loss(module, data)
            return loss_value, nnx.state(module, nnx.Not(nnx.Param))

        grads, rest = jax.grad(loss, has_aux=True)(params, rest)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), rest, opt_state

    carry = (params, rest, tx.init(params))
    rows.append({"tutorial": "03 NNX CNN: functional jax.jit reference", "batch": batch,
                 **timed_steps(functional, carry, lambda c: c)})
    reference = rows[-1]["ms_per_step"]
    for row in rows:
        row["ratio_to_functional"] = row["ms_per_step"] / reference
    return rows


def bench_linen_cnn(batch: int = 32) -> dict[str, Any]:
    cnn = LinenCNN()
    variables = cnn.init(jax.random.key(0), jnp.ones((1, 28, 28, 1)), train=False)
    state = train_state.TrainState.create(apply_fn=cnn.apply, params=variables["params"],
                                          tx=optax.sgd(0.1, momentum=0.9))
    x, y = jnp.ones((batch, 28, 28, 1)), jnp.zeros((batch,), jnp.int32)

    @jax.jit
    def step(carry):
        state, batch_stats = carry

        def loss(params):
            logits, changed = state.apply_fn({"params": params, "batch_stats": batch_stats}, x, train=True,
                                             rngs={"dropout": jax.random.fold_in(jax.random.key(1), state.step)},
                                             mutable=["batch_stats"])
            return cross_entropy(logits, y), changed["batch_stats"]

        grads, batch_stats = jax.grad(loss, has_aux=True)(state.params)
        return state.apply_gradients(grads=grads), batch_stats

    carry = (state, variables["batch_stats"])
    return {"tutorial": "04 Linen CNN (jax.jit)", "batch": batch, **timed_steps(step, carry, lambda c: c)}


def bench_cnns(batch: int = 32) -> list[dict[str, Any]]:
    """The CNN tutorials' steps (NNX in its three forms, then Linen) at one batch size."""
    return [*bench_nnx_cnn_forms(batch), bench_linen_cnn(batch)]


def describe_cpu() -> str:
    """Model name, family/model numbers and AVX-512 support: machines sold under one name differ, and
    the CNN steps (and the conv flag's effect) with them."""
    try:
        fields = dict(line.split(":", 1) for line in open("/proc/cpuinfo").read().split("\n\n")[0].splitlines()
                      if ":" in line)
    except OSError:
        return platform.processor()
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    avx512 = "avx512f" in fields.get("flags", "").split()
    name, family, model = (fields.get(key, "?") for key in ("model name", "cpu family", "model"))
    return f"{name}, family {family} model {model}, {'with' if avx512 else 'no'} AVX-512"


def describe_machine() -> dict[str, Any]:
    cpu = describe_cpu()
    import flax

    return {"devices": [str(d) for d in jax.devices()], "device_kind": jax.devices()[0].device_kind,
            "cpu": cpu, "cores": os.cpu_count(),
            "jax": jax.__version__, "flax": flax.__version__, "optax": optax.__version__,
            "python": platform.python_version(), "quick": QUICK, "steps_timed": STEPS}


def add_rates(steps: list[dict[str, Any]], peak: float) -> None:
    for row in steps:
        row["examples_per_s"] = row["batch"] / row["ms_per_step"] * 1e3
        if "CNN" in row["tutorial"]:
            row["gflops"] = cnn_training_gflop_per_example() * row["examples_per_s"]
            row["fraction_of_peak"] = row["gflops"] / peak


def print_steps(steps: list[dict[str, Any]]) -> None:
    print(f"{'training step':44s} {'batch':>5s} {'compile s':>9s} {'ms/step':>8s} {'examples/s':>10s}"
          f" {'GFLOP/s':>8s} {'of peak':>7s} {'vs functional':>13s}")
    for row in steps:
        gflops = f"{row['gflops']:8.1f} {row['fraction_of_peak']:7.1%}" if "gflops" in row else f"{'':8s} {'':7s}"
        ratio = f"{row['ratio_to_functional']:12.2f}x" if "ratio_to_functional" in row else ""
        print(f"{row['tutorial']:44s} {row['batch']:5d} {row['compile_s']:9.2f} {row['ms_per_step']:8.2f}"
              f" {row['examples_per_s']:10.0f} {gflops} {ratio}")


def training_loops() -> list[dict[str, Any]]:
    """Each selected tutorial's loop, measured by scripts/bench_loops.py in a process of its own (the
    page's start-up settings apply there). A failure is an error: the page's code and LOOPS disagree."""
    rows = []
    for key in ARGS.loops:
        args = [sys.executable, str(REPO / "scripts" / "bench_loops.py"), key, *(["--quick"] if QUICK else [])]
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
        parts = row["breakdown"]
        print(f"{row['tutorial'] + ' ' + row['notebook'][3:-6]:34.34s} {row['batch']:5d} {row['steps_timed']:5d}"
              f" {row['bare_step_ms']:8.2f} {row['loop_ms_per_step']:8.2f} {row['efficiency']:10.2f}"
              f"            {parts['steps']:6.0%} {parts['evaluation']:10.0%} {parts['rest']:6.0%}")


def cnn_steps_with_conv_flag() -> dict[str, Any] | None:
    """The CNN steps (and the matmul peak) measured in a child process started with CPU_CONV_FLAG;
    None, with the reason printed, where that process fails (XLA stops on a flag its version lacks)."""
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {CPU_CONV_FLAG}".strip()}
    args = [sys.executable, __file__, "--cnn-only", *(["--quick"] if QUICK else [])]
    child = subprocess.run(args, env=env, capture_output=True, text=True)
    if child.returncode != 0:
        reason = (child.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"CNN steps with XLA_FLAGS={CPU_CONV_FLAG}: not measured, the process failed: {reason}")
        return None
    return json.loads(child.stdout.splitlines()[-1])


def main() -> None:
    if ARGS.cnn_only:
        peak = matmul_peak_gflops()
        steps = bench_cnns()
        add_rates(steps, peak)
        print(json.dumps({"xla_flags": os.environ.get("XLA_FLAGS", ""), "matmul_peak_gflops": peak,
                          "training_steps": steps}))
        return
    info = describe_machine()
    peak = matmul_peak_gflops()
    steps = bench_cnns()
    for batch in ARGS.batches:
        steps += bench_cnns(batch)
    add_rates(steps, peak)
    on_cpu = jax.default_backend() == "cpu"
    peak_highest = None if on_cpu else matmul_peak_gflops("highest")
    with_flag = cnn_steps_with_conv_flag() if on_cpu else None
    loops = training_loops()

    print(f"devices: {info['devices']} ({info['device_kind']})  cpu: {info['cpu']} ({info['cores']} cores)")
    print(f"jax {info['jax']}, flax {info['flax']}, optax {info['optax']}, python {info['python']}"
          f"{'  [quick]' if QUICK else ''}")
    n = matmul_size()
    print(f"float32 matmul peak ({n}x{n}, jitted, default precision): {peak:.1f} GFLOP/s")
    if peak_highest:
        print(f"float32 matmul at precision='highest' (no TF32): {peak_highest:.1f} GFLOP/s")
    print()
    print_steps(steps)
    print()
    if with_flag:
        print(f"\nCNN steps again with XLA_FLAGS={CPU_CONV_FLAG}")
        print(f"float32 matmul peak in that process: {with_flag['matmul_peak_gflops']:.1f} GFLOP/s\n")
        print_steps(with_flag["training_steps"])
    if loops:
        print()
        print_loops(loops)

    out = REPO / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": info, "matmul_peak_gflops": peak,
                               "matmul_gflops_precision_highest": peak_highest, "training_steps": steps,
                               "cnn_steps_with_conv_flag": with_flag,
                               "training_loops": loops}, indent=2))
    print(f"\nwritten: {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
