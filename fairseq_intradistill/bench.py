"""Benchmark: what intra-distillation costs per training step, and what the divergence costs.

    python -m fairseq_intradistill.bench [--arch transformer_iwslt_de_en] [--tokens 4096] \\
        [--passes 2 3 4] [--modes batched sequential] [--fp16 | --bf16] [--json OUT]

On a fixed synthetic batch (``--tokens`` target tokens in sentences of ``--length`` tokens,
vocabulary ``--vocab``), it times whole fairseq training steps (``Trainer.train_step``:
forward, backward, optimizer) for the stock ``label_smoothed_cross_entropy`` and for
``intra_distillation`` with each K and pass mode, then the divergence alone (forward and
backward on ``[K, tokens, vocab]`` log-probabilities) in its ``plain`` and ``lean`` forms.
Each configuration runs in a fresh process.  Reported: median step time, target tokens/s,
peak memory and, for training, the step-time ratio to the baseline beside the compute
bound K.  Peak memory is ``torch.cuda.max_memory_allocated`` on a GPU; on the CPU it is the
process's peak resident set (VmHWM, reset after set-up) above the resident set at set-up,
so it counts what the steps add.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from fairseq_intradistill.tables import Column, aligned

PEAK_NOTE = "GPU: max_memory_allocated; CPU: peak RSS above the RSS after set-up"


# ---------------------------------------------------------------------------
# memory accounting
# ---------------------------------------------------------------------------
def _status_mib(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"{key} not in /proc/self/status")


class PeakMemory:
    """Peak memory of what runs after ``start()``, in MiB."""

    def __init__(self, device: str):
        self.device = device

    def start(self) -> None:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = 0.0
        else:
            # Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.base = _status_mib("VmRSS")

    def peak(self) -> float:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() / 2**20
        return _status_mib("VmHWM") - self.base


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


# ---------------------------------------------------------------------------
# child processes: one configuration each
# ---------------------------------------------------------------------------
def _synthetic_batch(tokens: int, length: int, vocab: int, device: str):
    import torch

    g = torch.Generator().manual_seed(0)
    bsz = max(1, tokens // length)
    body = torch.randint(4, vocab, (bsz, length - 1), generator=g)
    eos = torch.full((bsz, 1), 2, dtype=torch.long)
    src = torch.cat([body, eos], dim=1)
    target = torch.cat([torch.roll(body, 1, dims=1), eos], dim=1)
    prev = torch.cat([eos, target[:, :-1]], dim=1)
    return {
        "id": torch.arange(bsz),
        "nsentences": bsz,
        "ntokens": bsz * length,
        "net_input": {"src_tokens": src, "src_lengths": torch.full((bsz,), length), "prev_output_tokens": prev},
        "target": target,
    }


def _training_child(cfg: dict) -> dict:

    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.trainer import Trainer

    import fairseq_intradistill.plugin  # noqa: F401  (registers the criterion)

    device = cfg["device"]
    with tempfile.TemporaryDirectory() as data:
        for side in ("src", "tgt"):
            Path(data, f"dict.{side}.txt").write_text("".join(f"w{i} 1\n" for i in range(cfg["vocab"] - 4)))
        argv = [
            data,
            "--task",
            "translation_intra_distillation",
            "--source-lang",
            "src",
            "--target-lang",
            "tgt",
            "--arch",
            cfg["arch"],
            "--optimizer",
            "adam",
            "--lr",
            "5e-4",
            "--max-update",
            "100000",
            "--label-smoothing",
            "0.1",
            "--seed",
            "1",
            "--max-tokens",
            str(cfg["tokens"]),
        ]
        argv += ["--cpu"] if device == "cpu" else []
        argv += [f"--{cfg['precision']}"] if cfg["precision"] != "fp32" else []
        if cfg["method"] == "baseline":
            argv += ["--criterion", "label_smoothed_cross_entropy"]
        else:
            argv += [
                "--criterion",
                "intra_distillation",
                "--num-passes",
                str(cfg["passes"]),
                "--alpha",
                "5",
                "--pass-mode",
                cfg["mode"],
            ]
        argv += cfg["model_args"]
        args = options.parse_args_and_arch(options.get_training_parser(), argv)
        fcfg = convert_namespace_to_omegaconf(args)
        task = tasks.setup_task(fcfg.task)
        model = task.build_model(fcfg.model)
        trainer = Trainer(fcfg, task, model, task.build_criterion(fcfg.criterion))
    sample = _synthetic_batch(cfg["tokens"], cfg["length"], cfg["vocab"], device)
    for _ in range(cfg["warmup"]):  # builds the optimizer state, warms the allocator
        trainer.train_step([sample])
    memory = PeakMemory(device)
    memory.start()
    times = []
    for _ in range(cfg["steps"]):
        _sync(device)
        start = time.perf_counter()
        trainer.train_step([sample])
        _sync(device)
        times.append(time.perf_counter() - start)
    return {
        "seconds": statistics.median(times),
        "tokens": sample["ntokens"],
        "peak_mib": memory.peak(),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def _divergence_child(cfg: dict) -> dict:
    import torch

    from fairseq_intradistill.divergence import intra_distillation_loss

    device = cfg["device"]
    k, n, v = cfg["passes"], cfg["tokens"], cfg["vocab"]
    lprobs = torch.empty(k, n, v, device=device).normal_()
    for chunk in lprobs.split(256, dim=1):  # normalise in place: no full-size temporary
        chunk.sub_(chunk.logsumexp(-1, keepdim=True))
    lprobs.requires_grad_()
    times = []
    memory = PeakMemory(device)
    for step in range(cfg["warmup"] + cfg["steps"]):
        lprobs.grad = None  # before start(): the gradient buffer counts in the peak
        if step == cfg["warmup"]:
            memory.start()
        _sync(device)
        start = time.perf_counter()
        intra_distillation_loss(lprobs, "x", implementation=cfg["mode"]).backward()
        _sync(device)
        if step >= cfg["warmup"]:
            times.append(time.perf_counter() - start)
    input_mib = lprobs.numel() * lprobs.element_size() / 2**20
    return {"seconds": statistics.median(times), "tokens": n, "peak_mib": memory.peak(), "input_mib": input_mib}


def _run_child(cfg: dict) -> dict:
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-m", "fairseq_intradistill.bench", "--child", json.dumps(cfg)],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark of {cfg} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# the parent: configurations, table, JSON
# ---------------------------------------------------------------------------
def run_benchmark(args: argparse.Namespace) -> List[Dict]:
    base = {
        "device": args.device,
        "tokens": args.tokens,
        "length": args.length,
        "vocab": args.vocab,
        "arch": args.arch,
        "model_args": args.model_args,
        "precision": args.precision,
        "steps": args.steps,
        "warmup": args.warmup,
    }
    plan = [dict(base, kind="train", method="baseline", passes=1, mode="-")]
    plan += [dict(base, kind="train", method="intra", passes=k, mode=m) for k in args.passes for m in args.modes]
    if not args.skip_divergence:
        plan += [
            dict(base, kind="divergence", method="divergence x", passes=k, mode=form)
            for k in args.passes
            for form in ("plain", "lean")
        ]
    rows = []
    for i, cfg in enumerate(plan, start=1):
        print(f"[{i}/{len(plan)}] {cfg['kind']} {cfg['method']} K={cfg['passes']} {cfg['mode']}", file=sys.stderr)
        result = _run_child(cfg)
        rows.append(dict(cfg, **result, tokens_per_second=result["tokens"] / result["seconds"]))
    baseline = rows[0]["seconds"]
    for row in rows:
        if row["kind"] == "train":
            row["ratio_to_baseline"] = row["seconds"] / baseline
    for row in rows:
        if row["kind"] == "divergence" and row["mode"] == "lean":
            plain = next(
                r for r in rows if r["kind"] == "divergence" and r["mode"] == "plain" and r["passes"] == row["passes"]
            )
            row["peak_vs_plain"] = row["peak_mib"] / plain["peak_mib"] if plain["peak_mib"] > 0 else None
    return rows


def format_table(rows: List[Dict]) -> str:
    columns = [
        Column("what", 22, "<"),
        Column("K", 2),
        Column("mode", 10, "<"),
        Column("step ms", 9),
        Column("tokens/s", 10),
        Column("peak MiB", 9),
        Column("x baseline", 10),
        Column("bound K", 7),
    ]
    lines = []
    for r in rows:
        cells = [
            r["method"],
            str(r["passes"]),
            r["mode"],
            f"{r['seconds'] * 1e3:.1f}",
            f"{r['tokens_per_second']:.0f}",
            f"{r['peak_mib']:.1f}",
        ]
        ratio = r.get("ratio_to_baseline")
        if r["kind"] == "divergence" and r.get("peak_vs_plain") is not None:
            # One note across the last two columns (a short row's last cell spans them).
            cells.append(f"mem {r['peak_vs_plain']:.0%} of plain")
        elif ratio is not None:
            cells += [f"{ratio:.2f}", str(r["passes"])]
        else:
            cells.append("")  # nothing to compare with: the last two columns stay empty
        lines.append(cells)
    return "\n".join(aligned(columns, lines))


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--arch", default="transformer_iwslt_de_en", help="fairseq architecture")
    parser.add_argument(
        "--model-args",
        nargs=argparse.REMAINDER,
        default=[],
        help="further fairseq model options, last on the command line",
    )
    parser.add_argument("--tokens", type=int, default=4096, help="target tokens per batch")
    parser.add_argument("--length", type=int, default=32, help="tokens per sentence (source and target)")
    parser.add_argument("--vocab", type=int, default=10000, help="vocabulary size")
    parser.add_argument("--passes", type=int, nargs="+", default=[2, 3, 4], help="values of K")
    parser.add_argument("--modes", nargs="+", default=["batched", "sequential"], choices=["batched", "sequential"])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument("--fp16", dest="precision", action="store_const", const="fp16")
    precision.add_argument("--bf16", dest="precision", action="store_const", const="bf16")
    parser.set_defaults(precision="fp32")
    parser.add_argument("--skip-divergence", action="store_true", help="only time training steps")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        cfg = json.loads(args.child)
        print(json.dumps((_training_child if cfg["kind"] == "train" else _divergence_child)(cfg)))
        return
    for flag in ("tokens", "length", "vocab", "steps"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be >= 1 (got {getattr(args, flag)})")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0 (got {args.warmup})")
    if any(k < 2 for k in args.passes):
        parser.error(f"--passes must all be >= 2 (got {args.passes})")
    if args.length > args.tokens:
        parser.error(f"--length ({args.length}) must not exceed --tokens ({args.tokens})")
    import torch

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no GPU is visible")
    if args.precision == "fp16" and args.device == "cpu":
        parser.error("--fp16 needs a GPU; use --bf16 on the CPU")

    rows = run_benchmark(args)
    machine = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {os.cpu_count()} cores"
    print(
        f"# {args.arch}, {args.tokens} tokens/batch, vocab {args.vocab}, {args.precision}, {machine}, "
        f"torch {torch.__version__}; peak memory: {PEAK_NOTE}"
    )
    print(format_table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine, "torch": torch.__version__, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
