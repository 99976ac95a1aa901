"""`make bench`: rnnlab's costs measured side by side in one run, written to metrics/bench.json.

Ratios, not absolute times, are what hold across machines (and across a shared machine's load,
quoted with every section). Sections (run all, or `--only loop,cells`):

  loop         the rnnlab Lightning module (RNNModule + pl.Trainer, as nn.loop.train builds it)
               against a plain PyTorch loop: same net, data, batch order, steps; examples/s and
               the ratio; whether both end on the same weights. Also 1 vs 2 torch threads.
  cells        the from-scratch `simple` cell against nn.RNN (rnnlab's `rnn`) on the same
               weights, forward and forward+backward, at a few (batch, length, hidden) sizes;
               on CUDA as well (cuDNN) when there is one.
  onehot       peak memory of one training step, one-hot against embedding, vocabulary
               1k / 10k / 50k (one fresh process each): one-hot's extra memory is the batch's
               [B, T, |V|] tensor, built per batch; the encoded data stays indices.
  orchestration  in a copy of the repository with every task on its tiny params: no-op
               `dvc repro`, an empty Prefect flow (import + temporary server start), the no-op
               flow, and a forced one-task flow against `dvc repro -f` of the same task.
  serving      p50/p99 latency per task at 1 and 8 concurrent clients against
               `mlflow models serve` on 127.0.0.1 (the orchestration copy's champions);
               bounded: a fixed number of requests and a time limit per server.
  scaling      `dvc repro` of one task (review, one epoch) at 1x, 2x and 4x its built-in data.

Usage: python benchmarks/bench.py [--only SECTIONS] [--out metrics/bench.json] [--device cpu]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import importlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("loop", "cells", "onehot", "orchestration", "serving", "scaling")
STAGES = ("prepare", "validate", "vocab", "encode", "train", "evaluate")


def load() -> float:
    return round(os.getloadavg()[0], 2)


def say(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------- loop: Lightning vs plain


def _loop_setup(seed: int = 0, n: int = 1024, T: int = 40, vocab: int = 2000):
    import torch

    from rnnlab.nn.loop import loader
    from rnnlab.tasks.review.model import ManyToOne, ReviewObjective

    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(5, T + 1, (n,), generator=gen)
    ids = torch.randint(1, vocab, (n, T), generator=gen)
    ids[torch.arange(T)[None, :] >= lengths[:, None]] = 0
    labels = torch.randint(0, 4, (n,), generator=gen)
    encoded = {"ids": ids, "lengths": lengths, "labels": labels}
    torch.manual_seed(seed)
    net = ManyToOne(vocab, 4, embedding_dim=32, cell="gru", hidden_size=64)
    batches = loader(encoded, 32, shuffle=True, seed=seed, bucket=True)
    return net, ReviewObjective(4), batches


def _lightning(net, objective, batches, epochs: int) -> float:
    import pytorch_lightning as pl

    from rnnlab.nn.loop import RNNModule

    module = RNNModule(net, objective, lr=3e-3)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, deterministic=True,
                         logger=False, enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False, limit_val_batches=0, log_every_n_steps=50)
    start = time.perf_counter()
    trainer.fit(module, batches)
    return time.perf_counter() - start


def _plain(net, objective, batches, epochs: int) -> float:
    import torch

    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    objective.train()
    losses = []
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in batches:
            loss = objective.loss(net, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())  # Lightning's module records every step's loss too
    return time.perf_counter() - start


def bench_loop(repeats: int = 3, epochs: int = 5) -> dict[str, Any]:
    import torch

    # several epochs (about 2 s each way): one epoch of this set lasts 0.4 s, so fit's one-off
    # set-up would weigh as much as the per-step cost that the ratio is about
    torch.set_num_threads(1)
    times: dict[str, list[float]] = {"lightning": [], "plain": []}
    weights = {}
    examples = 0
    for run in (_lightning, _plain):  # warm-up: the first fit in a process imports lazily
        run(*_loop_setup(), 1)
    for r in range(repeats):  # interleaved, so both see the same load
        for kind in ("lightning", "plain") if r % 2 == 0 else ("plain", "lightning"):
            net, objective, batches = _loop_setup()
            examples = epochs * len(batches.batch_sampler.lengths)
            run = _lightning if kind == "lightning" else _plain
            times[kind].append(run(net, objective, batches, epochs))
            weights[kind] = [p.detach().clone() for p in net.parameters()]
    diff = max(float((a - b).abs().max()) for a, b in zip(weights["lightning"], weights["plain"],
                                                          strict=True))
    out = {k: round(examples / statistics.median(v), 1) for k, v in times.items()}
    # the thread default: the plain loop at 1 and 2 threads, and whether the weights repeat
    threads: dict[str, Any] = {}
    ends = {}
    for n in (1, 2, 1):
        torch.set_num_threads(n)
        net, objective, batches = _loop_setup()
        seconds = _plain(net, objective, batches, 1)
        threads.setdefault(f"threads_{n}_examples_per_s", []).append(
            round(len(batches.batch_sampler.lengths) / seconds, 1))
        ends.setdefault(n, []).append([p.detach().clone() for p in net.parameters()])
    torch.set_num_threads(1)
    same_1 = all(torch.equal(a, b) for a, b in zip(*ends[1], strict=True))
    diff_12 = max(float((a - b).abs().max()) for a, b in zip(ends[1][0], ends[2][0], strict=True))
    return {"examples": examples, "lightning_examples_per_s": out["lightning"],
            "plain_examples_per_s": out["plain"],
            "plain_over_lightning": round(out["plain"] / out["lightning"], 3),
            "max_weight_difference": diff, "threads": {
                **{k: max(v) for k, v in threads.items()},
                "two_over_one": round(max(threads["threads_2_examples_per_s"])
                                      / max(threads["threads_1_examples_per_s"]), 3),
                "one_thread_weights_repeat": same_1,
                "max_weight_difference_1_vs_2_threads": diff_12}, "load": load()}


# ---------------------------------------------------------------- cells: simple vs nn.RNN


def _timeit(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_cells(device: str, sizes=((32, 50, 64), (64, 100, 128), (128, 50, 256)),
                repeats: int = 5) -> dict[str, Any]:
    import torch

    from rnnlab.nn.cells import SimpleRNN, TorchRecurrent

    torch.set_num_threads(1)
    devices = ["cpu"] + (["cuda"] if device != "cpu" and torch.cuda.is_available() else [])
    rows = []
    for dev in devices:
        sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
        for B, T, H in sizes:
            torch.manual_seed(0)
            simple = SimpleRNN(H, H).to(dev)
            fused = TorchRecurrent("rnn", H, H).to(dev)
            with torch.no_grad():  # the same weights: W_ih = W_ax, W_hh = W_aa, b_ih = b_a
                cell, rnn = simple.cells[0], fused.rnn
                rnn.weight_ih_l0.copy_(cell.W_ax)
                rnn.weight_hh_l0.copy_(cell.W_aa)
                rnn.bias_ih_l0.copy_(cell.b_a)
                rnn.bias_hh_l0.zero_()
            x = torch.randn(B, T, H, device=dev)
            lengths = torch.full((B,), T)
            with torch.no_grad():
                same = float((simple(x, lengths)[0] - fused(x, lengths)[0]).abs().max())
            row: dict[str, Any] = {"device": dev, "batch": B, "length": T, "hidden": H,
                                   "max_output_difference": same}
            for name, layer in (("simple", simple), ("nn_rnn", fused)):
                def fwd(layer=layer, x=x, lengths=lengths, sync=sync):
                    with torch.no_grad():
                        layer(x, lengths)
                    sync()

                def fwd_bwd(layer=layer, x=x, lengths=lengths, sync=sync):
                    out, _ = layer(x, lengths)
                    out.sum().backward()
                    sync()

                row[f"{name}_forward_ms"] = round(1000 * _timeit(fwd, repeats), 2)
                row[f"{name}_forward_backward_ms"] = round(1000 * _timeit(fwd_bwd, repeats), 2)
            row["forward_ratio"] = round(row["simple_forward_ms"] / row["nn_rnn_forward_ms"], 2)
            row["forward_backward_ratio"] = round(row["simple_forward_backward_ms"]
                                                  / row["nn_rnn_forward_backward_ms"], 2)
            if dev == "cuda":
                row["cudnn"] = bool(torch.backends.cudnn.is_available()
                                    and torch.backends.cudnn.enabled)
            rows.append(row)
    return {"sizes": rows, "load": load()}


# ---------------------------------------------------------------- one-hot memory

ONEHOT_CHILD = r"""
import json, resource, sys, torch
from rnnlab.tasks.review.model import ManyToOne
enc, V, dev = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch.set_num_threads(1); torch.manual_seed(0)
B, T, N = 32, 40, 2000
ids = torch.randint(1, V, (N, T)); lengths = torch.full((N,), T); labels = torch.randint(0, 4, (N,))
net = ManyToOne(V, 4, encoding=enc, embedding_dim=64, cell="gru", hidden_size=64).to(dev)
opt = torch.optim.Adam(net.parameters())
def step(i):
    b = slice(i * B, (i + 1) * B)
    loss = torch.nn.functional.cross_entropy(net(ids[b].to(dev), lengths[b]), labels[b].to(dev))
    opt.zero_grad(); loss.backward(); opt.step()
if dev == "cuda":  # the base: data, net and optimiser built, no step taken yet
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
else:
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
for i in range(4):
    step(i)
peak = (torch.cuda.max_memory_allocated() if dev == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
print(json.dumps({"step_peak_over_base_mb": round((peak - base) / 2**20, 1),
                  "process_peak_mb": round(peak / 2**20, 1),
                  "encoded_data_mb": round(ids.element_size() * ids.nelement() / 2**20, 2),
                  "parameters_mb": round(sum(p.numel() for p in net.parameters()) * 4 / 2**20, 1),
                  "batch_onehot_mb": round(B * T * V * 4 / 2**20, 1)}))
"""


def bench_onehot(device: str) -> dict[str, Any]:
    import torch

    dev = "cuda" if device != "cpu" and torch.cuda.is_available() else "cpu"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    rows = []
    for V in (1000, 10000, 50000):
        for enc in ("embedding", "onehot"):
            out = subprocess.run([sys.executable, "-c", ONEHOT_CHILD, enc, str(V), dev],
                                 capture_output=True, text=True, env=env, timeout=300)
            if out.returncode:
                rows.append({"vocab": V, "encoding": enc, "error": out.stderr[-500:]})
                continue
            rows.append({"vocab": V, "encoding": enc, **json.loads(out.stdout)})
    return {"device": dev, "batch": 32, "length": 40, "note": (
        "step_peak_over_base: peak memory of 4 training steps (Adam's state included) over "
        "the process once data, net and optimiser exist; "
        "batch_onehot: B*T*|V|*4 bytes, the one-hot tensor of one batch. The encoded data "
        "(indices) does not grow with |V|."), "rows": rows, "load": load()}


# ---------------------------------------------------------------- pipeline copies


def merge(base: dict, extra: dict) -> dict:
    for k, v in extra.items():
        base[k] = merge(dict(base.get(k) or {}), v) if isinstance(v, dict) and v else v
    return base


def pipeline_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_",
                                                                     "PREFECT_API"))}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(root / "src")
    env["PREFECT_HOME"] = str(root / ".prefect")
    return env


def make_copy(root: Path, tasks: list[str], tiny: bool, extra: dict | None = None) -> dict:
    """A copy of the repository (no outputs, dvc.lock or mlruns/), only `tasks`, on their
    TINY params when `tiny`, `extra` merged in; dvc.yaml regenerated; a fresh git repo."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (REPO / f).is_file() and not f.startswith(("metrics/", "dvc.lock")):
            (root / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, root / f)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["tasks"] = list(tasks)
    sys.path.insert(0, str(REPO / "src"))
    for task in tasks:
        if tiny:
            params[task] = merge(dict(params.get(task) or {}),
                                 importlib.import_module(f"rnnlab.tasks.{task}.params").TINY)
    merge(params, extra or {})
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = pipeline_env(root)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for cmd in (["rnnlab", "dag"], ["git", "init", "-q"], [*git, "add", "-A"],
                [*git, "commit", "-qm", "bench"]):
        subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)
    return env


def timed(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}")
    return round(seconds, 2)


EMPTY_FLOW = "from prefect import flow\nflow(lambda: 1, name='empty')()\n"


def bench_orchestration(root: Path, tasks: list[str], one: str) -> dict[str, Any]:
    env = make_copy(root, tasks, tiny=True)
    out: dict[str, Any] = {"tasks": tasks, "stages": 6 * len(tasks)}
    out["first_dvc_repro_s"] = timed(["dvc", "repro"], root, env)
    say(f"  first dvc repro (tiny params, every task): {out['first_dvc_repro_s']} s")
    flow = [sys.executable, "flows/pipeline.py"]
    noop_repro, noop_flow, empty = [], [], []
    for _ in range(2):  # interleaved
        noop_repro.append(timed(["dvc", "repro"], root, env))
        empty.append(timed([sys.executable, "-c", EMPTY_FLOW], root, env))
        noop_flow.append(timed(flow, root, env))
    out["noop_dvc_repro_s"] = min(noop_repro)
    out["empty_flow_s"] = min(empty)  # import Prefect + start its temporary server
    out["noop_flow_s"] = min(noop_flow)
    out["noop_flow_target_s"] = round(2 * out["noop_dvc_repro_s"] + out["empty_flow_s"], 2)
    out["noop_flow_within_target"] = out["noop_flow_s"] <= out["noop_flow_target_s"]
    out["noop_flow_over_noop_repro"] = round(out["noop_flow_s"] / out["noop_dvc_repro_s"], 2)
    targets = [f"{one}-{s}" for s in STAGES]
    out["forced_task"] = one
    out["dvc_repro_force_task_s"] = timed(["dvc", "repro", "-f", "--single-item", *targets],
                                          root, env)
    out["flow_force_task_s"] = timed([*flow, "--force", "--task", one], root, env)
    out["forced_flow_over_repro"] = round(out["flow_force_task_s"]
                                          / out["dvc_repro_force_task_s"], 2)
    out["load"] = load()
    return out


# ---------------------------------------------------------------- serving

def serving_body(task: str, store: str) -> bytes:
    """The request the champion was logged with (MLflow's serving_input_example.json): the
    body its signature accepts, for every task, texts and tables alike."""
    import mlflow

    mlflow.set_tracking_uri(store)  # (else MLflow opens its default ./mlflow.db too)
    mlflow.set_registry_uri(store)
    path = mlflow.artifacts.download_artifacts(
        f"models:/rnnlab-{task}@champion/serving_input_example.json", tracking_uri=store)
    return Path(path).read_bytes()



def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: bytes) -> float:
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as resp:
        resp.read()
    return time.perf_counter() - start


def bench_serving(root: Path, tasks: list[str], requests: int = 40,
                  start_timeout: float = 120) -> dict[str, Any]:
    env = pipeline_env(root)
    env["MLFLOW_TRACKING_URI"] = store = f"sqlite:///{root / 'mlruns/mlflow.db'}"
    out: dict[str, Any] = {"requests_per_level": requests}
    for task in tasks:
        try:
            data = serving_body(task, store)
        except Exception as err:  # no champion: nothing to serve
            out[task] = {"error": f"no logged input example: {str(err)[:200]}"}
            continue
        port = _free_port()
        server = subprocess.Popen(
            ["mlflow", "models", "serve", "-m", f"models:/rnnlab-{task}@champion",
             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        try:
            start, ready = time.perf_counter(), False
            while time.perf_counter() - start < start_timeout and server.poll() is None:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2).read()
                    ready = True
                    break
                except OSError:
                    time.sleep(0.5)
            if not ready:
                out[task] = {"error": f"server not ready within {start_timeout} s"}
                continue
            row: dict[str, Any] = {"start_s": round(time.perf_counter() - start, 1)}
            url = f"http://127.0.0.1:{port}/invocations"
            _post(url, data)  # warm-up
            for clients in (1, 8):
                with cf.ThreadPoolExecutor(clients) as pool:
                    lat = sorted(pool.map(_post, [url] * requests, [data] * requests))
                row[f"clients_{clients}"] = {
                    "p50_ms": round(1000 * lat[len(lat) // 2], 1),
                    "p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1)}
            row["p50_8_over_1"] = round(row["clients_8"]["p50_ms"] / row["clients_1"]["p50_ms"], 2)
            out[task] = row
        except Exception as err:  # a serving error is a figure too, not the end of the run
            out[task] = {"error": str(err)[:300]}
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)
    out["load"] = load()
    return out


# ---------------------------------------------------------------- scaling


def bench_scaling(base: Path, task: str = "review") -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "src"))
    builtin = yaml.safe_load((REPO / "params.yaml").read_text())[task]["data"]["builtin"]
    rows = []
    for factor in (1, 2, 4):
        root = base / f"x{factor}"
        root.mkdir()
        sizes = {k: v * factor for k, v in builtin.items() if k.startswith("n_")}
        env = make_copy(root, [task], tiny=False, extra={
            task: {"data": {"builtin": sizes}, "train": {"max_epochs": 1}}})
        seconds = timed(["dvc", "repro"], root, env)
        rows.append({"factor": factor, **sizes, "dvc_repro_s": seconds, "load": load()})
        say(f"  {task} x{factor}: {seconds} s")
    for row in rows:
        row["over_1x"] = round(row["dvc_repro_s"] / rows[0]["dvc_repro_s"], 2)
    return {"task": task, "max_epochs": 1, "rows": rows}


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--out", default=str(REPO / "metrics" / "bench.json"))
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    sys.path.insert(0, str(REPO / "src"))
    import torch

    tasks = yaml.safe_load((REPO / "params.yaml").read_text())["tasks"]
    result: dict[str, Any] = {
        "cores": os.cpu_count(), "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_before": load()}
    say(f"cores {os.cpu_count()}, load {load()}, cuda: {result['cuda']}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as tmp:
        pipe = Path(tmp) / "pipeline"
        pipe.mkdir()
        for section in only:
            t0 = time.perf_counter()
            say(f"[{section}]")
            if section == "loop":
                r = bench_loop()
                say(f"  Lightning {r['lightning_examples_per_s']} ex/s, plain "
                    f"{r['plain_examples_per_s']} ex/s: plain/Lightning "
                    f"{r['plain_over_lightning']} (target <= 1.10); same weights within "
                    f"{r['max_weight_difference']:.2e}")
                t = r["threads"]
                say(f"  threads: 2 vs 1 = {t['two_over_one']}x; one thread repeats bit for bit: "
                    f"{t['one_thread_weights_repeat']}; 1 vs 2 threads differ by "
                    f"{t['max_weight_difference_1_vs_2_threads']:.2e}")
            elif section == "cells":
                r = bench_cells(args.device)
                for row in r["sizes"]:
                    say(f"  {row['device']} B={row['batch']} T={row['length']} H={row['hidden']}: "
                        f"simple/nn.RNN forward {row['forward_ratio']}x, forward+backward "
                        f"{row['forward_backward_ratio']}x (outputs within "
                        f"{row['max_output_difference']:.1e})")
            elif section == "onehot":
                r = bench_onehot(args.device)
                for row in r["rows"]:
                    say(f"  |V|={row['vocab']:>6} {row['encoding']:>9}: "
                        + (f"step +{row['step_peak_over_base_mb']} MB (one batch one-hot "
                           f"{row['batch_onehot_mb']} MB, encoded data {row['encoded_data_mb']} MB)"
                           if "error" not in row else row["error"][-200:]))
            elif section == "orchestration":
                r = bench_orchestration(pipe, tasks, "review" if "review" in tasks else tasks[0])
                verdict = "met" if r["noop_flow_within_target"] else "missed"
                say(f"  no-op dvc repro {r['noop_dvc_repro_s']} s, empty flow (server start) "
                    f"{r['empty_flow_s']} s, no-op flow {r['noop_flow_s']} s: "
                    f"{r['noop_flow_over_noop_repro']}x the no-op repro; target 2x repro + "
                    f"start = {r['noop_flow_target_s']} s: {verdict}")
                say(f"  forced {r['forced_task']}: flow {r['flow_force_task_s']} s vs dvc repro -f "
                    f"{r['dvc_repro_force_task_s']} s = {r['forced_flow_over_repro']}x")
            elif section == "serving":
                if not (pipe / "dvc.lock").exists():
                    r = {"skipped": "needs the orchestration section's pipeline copy"}
                else:
                    r = bench_serving(pipe, tasks)
                for task, row in r.items():
                    if isinstance(row, dict) and "clients_1" in row:
                        say(f"  {task}: 1 client p50 {row['clients_1']['p50_ms']} ms p99 "
                            f"{row['clients_1']['p99_ms']} ms; 8 clients p50 "
                            f"{row['clients_8']['p50_ms']} ms p99 {row['clients_8']['p99_ms']} ms")
                    elif isinstance(row, dict):
                        say(f"  {task}: {row}")
            elif section == "scaling":
                scale = Path(tmp) / "scaling"
                scale.mkdir()
                r = bench_scaling(scale)
                say("  " + ", ".join(f"x{row['factor']}: {row['over_1x']}x" for row in r["rows"]))
            r["seconds"] = round(time.perf_counter() - t0, 1)
            say(f"  ({r['seconds']} s, load {load()})")
            result[section] = r
    result["total_seconds"] = round(time.perf_counter() - start, 1)
    result["load_after"] = load()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp_out, out)
    say(f"total {result['total_seconds']} s; written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
