"""Time each tutorial's training loop as its page writes it, against its bare training step.

Part of `make bench` (scripts/bench.py runs `python scripts/bench_loops.py NN` for each tutorial and
collects the JSON line it prints). In a fresh process, so that the page's own start-up settings
(simulated devices, say) apply, it executes the notebook's code cells (scripts/notebook_code.py)
up to the training loop, with a shorter run in the page's own proportions (the same evaluation
interval, for instance). Then it measures:

- loop: the page's training-loop cell, run once to compile and fill caches, then timed on three
  more runs (one with --quick), of which the median counts: input pipeline, metrics, periodic
  evaluation and host transfers included;
- bare step: the page's own training step, called again and again on one batch already on the
  device (the time the loop cannot go below), after each timed run of the loop, so that both
  see the same state of this noisy machine; the median counts;
- evaluation: one evaluation as the loop does it, timed alone.

efficiency = bare step / (loop time per step). The breakdown splits the loop's time into the
steps (bare step x steps), the evaluations (evaluation x how many the loop runs) and the rest:
input pipeline, Python, and waiting on host transfers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebook_code import NotebookCode

REPO = Path(__file__).resolve().parent.parent
Action = Callable[[], Any]  # runs once; returns arrays to wait for


@dataclass(frozen=True)
class LoopSpec:
    notebook: str
    loop_cell: str  # text that only the training loop's cell contains
    overrides: dict[str, Any]  # a shorter run in the page's proportions
    steps: Callable[[NotebookCode], int]  # training steps in one run of the loop cell
    batch: Callable[[NotebookCode], int]
    bare_step: Callable[[NotebookCode], Action]
    evaluation: Callable[[NotebookCode], Action] | None = None
    evaluations: Callable[[NotebookCode], int] = field(default=lambda nb: 0)


def stateful(step: Callable[[Any], Any], carry: Any) -> Action:
    """An Action that threads `carry` through `step` from call to call (for functional steps)."""
    box = [carry]

    def act():
        box[0] = step(box[0])
        return box[0]

    return act


# --- one spec per tutorial: what its loop is, and how to call its own step -----------------------

def digits_bare(nb: NotebookCode) -> Action:
    from flax import nnx

    def act():
        nb["train_step"](nb["model"], nb["optimizer"], nb["x_train"], nb["y_train"])
        return nnx.state(nb["model"])
    return act


def digits_eval(nb: NotebookCode) -> Action:
    return lambda: nb["loss_fn"](nb["model"], nb["x_test"], nb["y_test"])


def mlp_bare(nb: NotebookCode) -> Action:
    import jax.numpy as jnp

    images, labels, batch = nb["train_images"], nb["train_labels"], jnp.arange(nb["BATCH_SIZE"])
    return stateful(lambda params: nb["update"](params, images, labels, batch), nb["params"])


def mlp_eval(nb: NotebookCode) -> Action:
    return lambda: nb["accuracy"](nb["params"], *nb["train_sample"])


def nnx_cnn_bare(nb: NotebookCode) -> Action:
    import jax
    from flax import nnx

    batch = next(nb["training_batches"](jax.random.key(0)))
    model, optimizer, metrics = nb["model"], nb["optimizer"], nb["metrics"]
    model.train()  # the loop ends in evaluation mode; the step trains with Dropout and batch statistics

    def act():
        nb["train_step"](model, optimizer, metrics, batch)
        return nnx.state(model)
    return act


def nnx_cnn_eval(nb: NotebookCode) -> Action:
    from flax import nnx

    def act():
        model, metrics = nb["model"], nb["metrics"]
        model.eval()
        for test_batch in nb["test_batches"]():
            nb["eval_step"](model, metrics, test_batch)
        result = metrics.compute()
        metrics.reset()
        model.train()
        return result, nnx.state(model)
    return act


def linen_cnn_bare(nb: NotebookCode) -> Action:
    import jax.numpy as jnp

    indices = jnp.arange(nb["BATCH_SIZE"])
    images, labels = nb["train_images"], nb["train_labels"]
    key = nb["dropout_key"]
    return stateful(lambda state: nb["train_step"](state, images, labels, indices, key)[0], nb["state"])


def linen_cnn_eval(nb: NotebookCode) -> Action:
    return lambda: nb["eval_step"](nb["state"], nb["test_images"], nb["test_labels"])


def orbax_bare(nb: NotebookCode) -> Action:
    import jax

    model, optimizer = nb["new_training_state"]()
    model.train()
    batch = jax.device_put(nb["batch_at"](0))
    return lambda: nb["train_step"](model, optimizer, batch)


def orbax_eval(nb: NotebookCode) -> Action:
    return lambda: nb["test_accuracy"](nb["model"])


def sharding_bare(nb: NotebookCode) -> Action:
    import jax

    with jax.set_mesh(nb["mesh"]):
        model, optimizer = nb["create_sharded"](nb["adamw"])
    model.train()
    batch = jax.device_put(nb["batch_at"](0), nb["data_sharding"])

    def act():
        with jax.set_mesh(nb["mesh"]):
            return nb["train_step"](model, optimizer, batch)
    return act


def many_models_bare(nb: NotebookCode) -> Action:
    import jax

    batch = next(nb["training_batches"](jax.random.key(0)))
    models, optimizers = nb["models"], nb["optimizers"]
    return lambda: nb["train_step"](models, optimizers, batch)  # all members' losses


def vae_bare(nb: NotebookCode) -> Action:
    import jax

    images = next(nb["training_batches"](jax.random.key(0)))["image"]
    model, optimizer, rngs = nb["model"], nb["optimizer"], nb["rngs"]
    return lambda: nb["train_step"](model, optimizer, rngs, images, 1.0)  # the two terms


def vae_eval(nb: NotebookCode) -> Action:
    return lambda: nb["evaluate"](nb["model"], nb["rngs"])


LOOPS: dict[str, LoopSpec] = {
    "01": LoopSpec("01_jax_nn_basics_digits.ipynb", "for step in range(1, NUM_STEPS + 1)", {},
                   steps=lambda nb: nb["NUM_STEPS"], batch=lambda nb: len(nb["x_train"]),
                   bare_step=digits_bare, evaluation=digits_eval,
                   evaluations=lambda nb: 2 * (nb["NUM_STEPS"] // 50)),  # train and test loss
    "02": LoopSpec("02_pure_jax_mlp_mnist.ipynb", "for epoch in range(NUM_EPOCHS)", {"NUM_EPOCHS": 1},
                   steps=lambda nb: nb["NUM_EPOCHS"] * nb["STEPS_PER_EPOCH"], batch=lambda nb: nb["BATCH_SIZE"],
                   bare_step=mlp_bare, evaluation=mlp_eval,
                   evaluations=lambda nb: 2 * nb["NUM_EPOCHS"]),  # train sample and test set, alike
    "03": LoopSpec("03_flax_nnx_cnn_mnist.ipynb", "for step, batch in zip(", {"TRAIN_STEPS": 625},
                   steps=lambda nb: nb["TRAIN_STEPS"], batch=lambda nb: nb["BATCH_SIZE"],
                   bare_step=nnx_cnn_bare, evaluation=nnx_cnn_eval,
                   evaluations=lambda nb: nb["TRAIN_STEPS"] // nb["EVAL_EVERY"]),
    "04": LoopSpec("04_flax_linen_cnn_mnist.ipynb", "for epoch in range(1, NUM_EPOCHS + 1)", {"NUM_EPOCHS": 1},
                   steps=lambda nb: nb["NUM_EPOCHS"] * nb["STEPS_PER_EPOCH"], batch=lambda nb: nb["BATCH_SIZE"],
                   bare_step=linen_cnn_bare, evaluation=linen_cnn_eval, evaluations=lambda nb: nb["NUM_EPOCHS"]),
    "05": LoopSpec("05_nnx_checkpointing_orbax.ipynb", "train(model, optimizer, 0, TRAIN_STEPS)", {},
                   steps=lambda nb: nb["TRAIN_STEPS"], batch=lambda nb: nb["BATCH_SIZE"],
                   bare_step=orbax_bare, evaluation=orbax_eval, evaluations=lambda nb: 1),
    "06": LoopSpec("06_nnx_sharding_data_model_parallel.ipynb", "for step in range(TRAIN_STEPS)",
                   {"TRAIN_STEPS": 100},
                   steps=lambda nb: nb["TRAIN_STEPS"], batch=lambda nb: nb["BATCH_SIZE"],
                   bare_step=sharding_bare),
    "10": LoopSpec("10_many_models_nnx_vmap.ipynb", "train(models, optimizers, jax.random.key(SEED)",
                   {"TRAIN_STEPS": 234},  # the ensemble's loop: NUM_MODELS members, each on the same batch
                   steps=lambda nb: nb["TRAIN_STEPS"], batch=lambda nb: nb["BATCH_SIZE"],
                   bare_step=many_models_bare),
    "11": LoopSpec("11_vae_mnist_nnx.ipynb", "train(model, optimizer, rngs, beta=1.0", {"EPOCHS": 1},
                   steps=lambda nb: nb["EPOCHS"] * nb["STEPS_PER_EPOCH"], batch=lambda nb: nb["BATCH_SIZE"],
                   bare_step=vae_bare, evaluation=vae_eval,
                   evaluations=lambda nb: nb["EPOCHS"]),  # the test set's two terms after each epoch
}


# Tutorials whose training loop this benchmark does not time, and why.
NOT_TIMED = {
    "07_jax_distributed_multiprocess.ipynb": "its training loop runs in processes that the page starts itself; "
                                             "each run prints its own time",
    "08_export_and_serve.ipynb": "its training is tutorial 3's, shortened to a model worth exporting; the page "
                                 "times its server instead",
    "09_debugging_and_profiling.ipynb": "it times its own loops, each against a faster version of itself",
}


def mean_ms(action: Action, repeats: int) -> float:
    import jax

    jax.block_until_ready(action())  # compiled and warm
    start = time.perf_counter()
    for _ in range(repeats):
        result = action()
    jax.block_until_ready(result)
    return (time.perf_counter() - start) / repeats * 1e3


def measure(key: str, quick: bool) -> dict[str, Any]:
    spec = LOOPS[key]
    os.environ.setdefault("MPLBACKEND", "Agg")  # the pages' plots are not shown
    nb = NotebookCode(REPO / "notebooks" / spec.notebook, spec.overrides)
    nb.run_until(spec.loop_cell)
    loop_index = nb.executed
    # The first run compiles and fills caches. Then timed runs of the loop, each followed by a
    # stretch of bare steps, so that both see the same state of this noisy machine; medians count.
    runs, bare = [], []
    for run in range(2 if quick else 4):
        start = time.perf_counter()
        nb.run_cell(loop_index)
        runs.append(time.perf_counter() - start)
        if run:
            bare.append(mean_ms(spec.bare_step(nb), repeats=20 if quick else 50))
    nb.check_overrides()
    steps, batch = spec.steps(nb), spec.batch(nb)
    timed = statistics.median(runs[1:])
    loop_ms = timed / steps * 1e3
    bare_ms = statistics.median(bare)
    evaluations = spec.evaluations(nb)
    eval_ms = mean_ms(spec.evaluation(nb), repeats=2 if quick else 5) if spec.evaluation else 0.0
    total_ms = timed * 1e3
    parts = {"steps": steps * bare_ms, "evaluation": evaluations * eval_ms}
    parts["rest"] = total_ms - sum(parts.values())
    return {"tutorial": key, "notebook": spec.notebook, "batch": batch, "steps_timed": steps,
            "overrides": spec.overrides, "first_run_s": runs[0], "timed_runs_s": runs[1:],
            "loop_ms_per_step": loop_ms, "bare_step_ms_runs": bare,
            "bare_step_ms": bare_ms, "efficiency": bare_ms / loop_ms, "evaluations": evaluations,
            "evaluation_ms": eval_ms,
            "breakdown": {name: ms / total_ms for name, ms in parts.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tutorial", choices=sorted(LOOPS))
    parser.add_argument("--quick", action="store_true", help="one timed run of the loop, fewer bare steps")
    args = parser.parse_args()
    row = measure(args.tutorial, args.quick)
    sys.stdout.flush()
    print(json.dumps(row))


if __name__ == "__main__":
    main()
