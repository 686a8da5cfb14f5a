"""Benchmark the tutorials' training steps on this machine (`make bench`).

Prints a table and writes it as JSON to build/bench.json. Not a test: it
measures, it never fails on a slow machine.

Measured, each with the data already on the device (the framework, not the
input pipeline): compile time, steady-state ms/step and examples/s of every
tutorial's training step at that tutorial's batch size; the NNX CNN in three
forms over the identical computation (plain `nnx.jit` on the objects, the
split/merge fast path the tutorial teaches, and a purely functional
`jax.jit` step), with ratios to the functional one; the machine's float32
matmul peak and each CNN step's GFLOP/s as a fraction of it; the input
pipelines' batches/s. The models repeat the tutorials' definitions, since each
notebook stands alone.

On a CPU it measures the CNN steps a second time, in a child process started
with CPU_CONV_FLAG added to XLA_FLAGS (XLA reads them once, at start-up): with
jaxlib 0.10 to 0.12, XLA's CPU backend hands each convolution to YNNPACK, which
is slower than XLA's own convolutions for these small images; the flag turns
that offload off (docs/performance.md has the figures).

Usage: python scripts/bench.py [--quick] [--batches 256,2048]  (--help for all options)
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
from flax import linen, nnx
from flax.training import train_state

REPO = Path(__file__).resolve().parent.parent
CPU_CONV_FLAG = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"


def batch_sizes(text: str) -> list[int]:
    try:
        return [int(size) for size in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("comma-separated batch sizes, e.g. 256,2048") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the tutorials' training steps and input pipelines; "
                                                 "prints a table and writes build/bench.json.")
    parser.add_argument("--quick", action="store_true", help="fewer timed steps (what CI runs)")
    parser.add_argument("--batches", type=batch_sizes, default=[], metavar="SIZES",
                        help="also time the CNN steps at these batch sizes, e.g. 256,2048 "
                             "(what a larger batch buys, e.g. on a GPU)")
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


# --- the tutorials' models --------------------------------------------------

class SimpleNN(nnx.Module):  # tutorial 01
    def __init__(self, *, rngs: nnx.Rngs):
        self.layer1, self.layer2 = nnx.Linear(64, 100, rngs=rngs), nnx.Linear(100, 100, rngs=rngs)
        self.layer3 = nnx.Linear(100, 10, rngs=rngs)

    def __call__(self, x):
        return self.layer3(nnx.selu(self.layer2(nnx.selu(self.layer1(x)))))


class NnxCNN(nnx.Module):  # tutorial 03
    def __init__(self, *, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 32, kernel_size=(3, 3), rngs=rngs)
        self.batch_norm1 = nnx.BatchNorm(32, rngs=rngs)
        self.dropout1 = nnx.Dropout(rate=0.025, rngs=rngs)
        self.conv2 = nnx.Conv(32, 64, kernel_size=(3, 3), rngs=rngs)
        self.batch_norm2 = nnx.BatchNorm(64, rngs=rngs)
        self.avg_pool = partial(nnx.avg_pool, window_shape=(2, 2), strides=(2, 2))
        self.linear1 = nnx.Linear(3136, 256, rngs=rngs)
        self.dropout2 = nnx.Dropout(rate=0.025, rngs=rngs)
        self.linear2 = nnx.Linear(256, 10, rngs=rngs)

    def __call__(self, x):
        x = self.avg_pool(nnx.relu(self.dropout1(self.batch_norm1(self.conv1(x)))))
        x = self.avg_pool(nnx.relu(self.batch_norm2(self.conv2(x))))
        x = nnx.relu(self.dropout2(self.linear1(x.reshape(x.shape[0], -1))))
        return self.linear2(x)


class LinenCNN(linen.Module):  # tutorial 04
    @linen.compact
    def __call__(self, x):
        x = linen.avg_pool(linen.relu(linen.Conv(32, (3, 3))(x)), (2, 2), strides=(2, 2))
        x = linen.avg_pool(linen.relu(linen.Conv(64, (3, 3))(x)), (2, 2), strides=(2, 2))
        x = linen.relu(linen.Dense(256)(x.reshape(x.shape[0], -1)))
        return linen.Dense(10)(x)


def cross_entropy(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


# --- benchmarks ---------------------------------------------------------------

def bench_digits_mlp() -> dict[str, Any]:
    batch = 1347  # full batch
    x, y = jnp.ones((batch, 64)), jnp.zeros((batch,), jnp.int32)
    model = SimpleNN(rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.sgd(0.1, momentum=0.9), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer):
        grads = nnx.grad(lambda m: cross_entropy(m(x), y))(model)
        optimizer.update(model, grads)

    def run(objects):
        step(*objects)
        return objects

    return {"tutorial": "01 digits MLP (nnx.jit)", "batch": batch,
            **timed_steps(run, (model, optimizer), lambda o: nnx.state(o[0]))}


def bench_pure_jax_mlp() -> dict[str, Any]:
    batch, sizes = 128, [784, 512, 512, 10]
    keys = jax.random.split(jax.random.key(0), len(sizes) - 1)
    params = [(1e-2 * jax.random.normal(k, (n, m)), jnp.zeros(n)) for k, m, n in zip(keys, sizes[:-1], sizes[1:])]
    x, y = jnp.ones((batch, 784)), jax.nn.one_hot(jnp.zeros(batch, jnp.int32), 10)

    def predict(params, image):
        for w, b in params[:-1]:
            image = jax.nn.relu(w @ image + b)
        logits = params[-1][0] @ image + params[-1][1]
        return logits - jax.scipy.special.logsumexp(logits)

    def loss(params):
        return -jnp.mean(jnp.sum(jax.vmap(predict, in_axes=(None, 0))(params, x) * y, axis=1))

    @jax.jit
    def update(params):
        return jax.tree.map(lambda p, g: p - 0.5 * g, params, jax.grad(loss)(params))

    return {"tutorial": "02 pure-JAX MLP (jax.jit)", "batch": batch,
            **timed_steps(update, params, lambda p: p)}


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
    params = cnn.init(jax.random.key(0), jnp.ones((1, 28, 28, 1)))["params"]
    state = train_state.TrainState.create(apply_fn=cnn.apply, params=params, tx=optax.sgd(0.1, momentum=0.9))
    x, y = jnp.ones((batch, 28, 28, 1)), jnp.zeros((batch,), jnp.int32)

    @jax.jit
    def step(state):
        grads = jax.grad(lambda p: cross_entropy(state.apply_fn({"params": p}, x), y))(state.params)
        return state.apply_gradients(grads=grads)

    return {"tutorial": "04 Linen CNN (jax.jit)", "batch": batch, **timed_steps(step, state, lambda s: s)}


def bench_cnns(batch: int = 32) -> list[dict[str, Any]]:
    """The CNN tutorials' steps (NNX in its three forms, then Linen) at one batch size."""
    return [*bench_nnx_cnn_forms(batch), bench_linen_cnn(batch)]


def bench_input_pipelines() -> list[dict[str, Any]]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow starts: no C++ info/warning lines
    import tensorflow as tf
    import tensorflow_datasets as tfds

    tf.config.set_visible_devices([], "GPU")
    if not tfds.builder("mnist").is_prepared():
        print("input pipelines: skipped, MNIST is not prepared in the TFDS data dir (set TFDS_DATA_DIR; see README)")
        return []
    batches = 200 if QUICK else 1000

    def normalise(batch):
        return {"image": tf.cast(batch["image"], tf.float32) / 255, "label": batch["label"]}

    pipelines = {
        "02 MLP: as_supervised, shuffle, batch 128, prefetch":
            tfds.load("mnist", split="train", as_supervised=True).shuffle(10_000, seed=0).batch(128).prefetch(1),
        "03 NNX: cache, repeat, shuffle, batch 32, map, prefetch":
            tfds.load("mnist", split="train").cache().repeat().shuffle(1024, seed=0)
            .batch(32, drop_remainder=True).map(normalise).prefetch(1),
    }
    rows = []
    for name, dataset in pipelines.items():
        iterator = iter(tfds.as_numpy(dataset.repeat().take(batches)))
        next(iterator)
        start = time.perf_counter()
        count = sum(1 for _ in iterator)
        rows.append({"pipeline": name, "batches_per_s": count / (time.perf_counter() - start)})
    return rows


def describe_machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
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
    steps = [bench_digits_mlp(), bench_pure_jax_mlp(), *bench_cnns()]
    for batch in ARGS.batches:
        steps += bench_cnns(batch)
    add_rates(steps, peak)
    on_cpu = jax.default_backend() == "cpu"
    peak_highest = None if on_cpu else matmul_peak_gflops("highest")
    pipelines = bench_input_pipelines()
    with_flag = cnn_steps_with_conv_flag() if on_cpu else None

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
    for row in pipelines:
        print(f"input pipeline {row['pipeline']:58s} {row['batches_per_s']:8.0f} batches/s")
    if with_flag:
        print(f"\nCNN steps again with XLA_FLAGS={CPU_CONV_FLAG}")
        print(f"float32 matmul peak in that process: {with_flag['matmul_peak_gflops']:.1f} GFLOP/s\n")
        print_steps(with_flag["training_steps"])

    out = REPO / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": info, "matmul_peak_gflops": peak,
                               "matmul_gflops_precision_highest": peak_highest, "training_steps": steps,
                               "input_pipelines": pipelines, "cnn_steps_with_conv_flag": with_flag}, indent=2))
    print(f"\nwritten: {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
