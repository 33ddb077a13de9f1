"""The quickstart pipeline: baseline vs intra-distillation on a small offline corpus.

``scripts/quickstart/run.sh`` hands every option to ``python -m fairseq_intradistill.recipes
quickstart ...`` (:func:`add_parser`, :func:`run`).  The steps, each skipped when it is
finished, so that a second run resumes:

1. the synthetic corpus (:mod:`fairseq_intradistill.data.toy_corpus`), its settings recorded
   in OUT/corpus.txt so that a corpus made with other settings is never reused silently;
2. a joint SentencePiece model and the encoded splits (:mod:`fairseq_intradistill.data.spm`);
3. ``fairseq-preprocess`` with a joined dictionary;
4. for every seed and method, ``--jobs`` at a time with one CPU thread each: fairseq-train with
   the ``quickstart`` recipe (:func:`launch.train`), then fairseq-generate and sacreBLEU on the
   validation and test sets with checkpoint_best.pt (:func:`launch.evaluate`);
5. the table of :mod:`fairseq_intradistill.results` over the seed folders.

Every run keeps the recipe's resources: one thread, whatever finishes beside it, so that a
rerun prints the same digits and the table's training times compare the methods fairly.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from fairseq_intradistill import launch, pipelines, recipes
from fairseq_intradistill.console import ScriptFormatter, log
from fairseq_intradistill.launch import RecipeError

RECIPE = "quickstart"
METHODS = ("baseline", "intra")
CORPUS_SEED = 1  # the corpus is the same for every training seed
SPLITS = ("train", "valid", "test")
EVAL_SUBSETS = ("valid", "test")


def default_jobs() -> int:
    """Two trainings at once on two or more cores (the two methods of a seed side by side), else one."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


@dataclass
class Settings:
    """What a quickstart run trains and decodes; the defaults are ``make quickstart``'s."""

    out: Path = Path("work/quickstart")
    seeds: List[int] = field(default_factory=lambda: [1])
    jobs: int = field(default_factory=default_jobs)
    valid_bleu: bool = False
    train_size: int = 500
    rare_words: int = 1500
    eval_size: int = 300
    max_update: Optional[int] = None  # None: the recipe's
    patience: Optional[int] = None  # None: the recipe's; -1 trains every update
    max_len_b: Optional[int] = None  # None: fairseq-generate's
    force: bool = False

    @property
    def corpus(self) -> str:
        """The corpus settings as OUT/corpus.txt records them."""
        return (
            f"train={self.train_size} rare-words={self.rare_words} valid={self.eval_size} "
            f"test={self.eval_size} seed={CORPUS_SEED}"
        )

    def train_job(self, seed: int, method: str) -> launch.TrainJob:
        extra = ["--seed", str(seed)]
        if self.patience is not None:
            extra += ["--patience", str(self.patience)]
        if self.valid_bleu:
            bleu_args = '{"beam": 1}' if self.max_len_b is None else f'{{"beam": 1, "max_len_b": {self.max_len_b}}}'
            extra += ["--eval-bleu", "--eval-bleu-args", bleu_args, "--eval-bleu-remove-bpe", "sentencepiece"]
        overrides = launch.Overrides(max_update=self.max_update)
        return launch.TrainJob(self.out / "bin", method, run_folder(self.out, seed, method), RECIPE, overrides, extra)

    def eval_job(self, seed: int, method: str, subset: str) -> launch.EvalJob:
        recipe = recipes.RECIPES[RECIPE]
        folder = run_folder(self.out, seed, method)
        extra = [] if self.max_len_b is None else ["--max-len-b", str(self.max_len_b)]
        reference = self.out / "raw" / f"{subset}.tgt"
        return launch.EvalJob(
            self.out / "bin",
            folder / "checkpoint_best.pt",
            reference,
            folder,
            str(recipe.beam),
            str(recipe.lenpen),
            subset,
            extra=extra,
        )


def run_folder(out: Path, seed: int, method: str) -> Path:
    return out / f"seed-{seed}" / method


def prepare(settings: Settings) -> None:
    """Steps 1-3: the corpus, SentencePiece, fairseq-preprocess (each skipped when done)."""
    out = settings.out
    record = out / "corpus.txt"
    if record.is_file() and record.read_text().strip() != settings.corpus:
        raise RecipeError(
            f"{out} holds a corpus made with '{record.read_text().strip()}', not '{settings.corpus}': "
            "use --force or another --out"
        )
    raw, pieces = out / "raw", out / "spm"
    if not _nonempty(raw / "test.tgt"):
        log(f"step 1/5: generating the toy corpus ({settings.corpus})")
        # Imported here: a dry run needs none of the data modules.
        from fairseq_intradistill.data import toy_corpus

        sizes = {"train": settings.train_size, "valid": settings.eval_size, "test": settings.eval_size}
        toy_corpus.generate(raw, sizes, seed=CORPUS_SEED, rare_words=settings.rare_words)
        record.write_text(settings.corpus + "\n")
    if not _nonempty(pieces / "test.tgt"):
        spm_log = out / "spm.log"
        log(f"step 2/5: joint SentencePiece model and encoding (log: {spm_log})")
        from fairseq_intradistill.data import spm

        training = [sys.executable, "-m", "fairseq_intradistill.data.spm", "train", "--model-prefix"]
        training += [str(pieces / "spm"), "--vocab-size", str(recipes.RECIPES[RECIPE].vocab_size), "--inputs"]
        training += [str(raw / "train.src"), str(raw / "train.tgt")]
        _run_logged(training, spm_log, "SentencePiece training")
        for split in SPLITS:
            for side in ("src", "tgt"):
                partial = pieces / f"{split}.{side}.tmp"
                spm.encode_file(pieces / "spm.model", raw / f"{split}.{side}", partial)
                partial.replace(pieces / f"{split}.{side}")
    if not (out / "bin" / "done").is_file():
        log("step 3/5: binarising with fairseq-preprocess")
        # The recipes' step (OUT/spm -> OUT/bin, OUT/preprocess.log, bin/done last).
        from fairseq_intradistill.data.prepare import StepError, binarise

        try:
            binarise(out, "src", "tgt", workers=2, what="")
        except StepError as e:
            raise RecipeError(str(e)) from e


def _nonempty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _run_logged(command: Sequence[str], log_file: Path, what: str) -> None:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a") as output:
        status = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT).returncode
    if status != 0:
        raise RecipeError(f"{what} failed, see {log_file}")


def train_and_evaluate(settings: Settings, seed: int, method: str, devices: launch.Devices) -> None:
    """Step 4 for one run: train (skipped once train.done exists; fairseq resumes an interrupted
    run from checkpoint_last.pt), then decode and score valid and test; output in console.log."""
    folder = run_folder(settings.out, seed, method)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "console.log", "a") as console:
        if not (folder / "train.done").is_file():
            if launch.train(settings.train_job(seed, method), devices=devices, console=console) != 0:
                raise RecipeError("fairseq-train failed")
            (folder / "train.done").touch()
        for subset in EVAL_SUBSETS:
            if launch.evaluate(settings.eval_job(seed, method, subset), devices=devices, console=console) != 0:
                raise RecipeError(f"scoring {subset} failed")


def quickstart(settings: Settings, dry_run: bool = False) -> int:
    """The whole quickstart (module docstring); with ``dry_run`` the fairseq-train commands only."""
    devices = launch.find_devices()
    runs = [(seed, method) for seed in settings.seeds for method in METHODS]
    if dry_run:
        launch.warn_if_cpu(devices)
        for seed, method in runs:
            job = settings.train_job(seed, method)
            job.validate()
            launch.print_command(job.command(devices))
        return 0
    if settings.force:
        shutil.rmtree(settings.out, ignore_errors=True)
    settings.out.mkdir(parents=True, exist_ok=True)
    prepare(settings)
    seeds = " ".join(map(str, settings.seeds))
    log(
        f"step 4/5 and 5/5: training and decoding, seeds {seeds}, {settings.jobs} at a time "
        f"(logs: {settings.out}/seed-*/*/console.log)"
    )
    # One thread per run (the runs inherit this process' environment), so that parallel runs
    # do not fight over the cores and every run gets the same resources, whatever runs beside it.
    os.environ["OMP_NUM_THREADS"] = "1"
    failed = []

    def one(seed: int, method: str) -> None:
        name = f"seed-{seed}/{method}"
        log(f"  started {name}")
        try:
            train_and_evaluate(settings, seed, method, devices)
        except RecipeError as e:
            failed.append(f"{name} ({e})")
            return
        log(f"  finished {name}")

    with ThreadPoolExecutor(max_workers=settings.jobs) as pool:
        for future in [pool.submit(one, seed, method) for seed, method in runs]:
            future.result()  # anything but a RecipeError stops here with its traceback
    if failed:
        raise RecipeError(f"failed: {', '.join(failed)}; see {settings.out}/<run>/console.log")
    folders = [settings.out / f"seed-{seed}" for seed in settings.seeds]
    pipelines.summarise(folders, settings.out / "results.txt", settings.out / "results.json")
    return 0


# ---------------------------------------------------------------------------------------------
# The command line: python -m fairseq_intradistill.recipes [--prog NAME] quickstart ...

DESCRIPTION = """\
Baseline vs intra-distillation in the paper's regime, in miniature and offline: a synthetic
parallel corpus (fairseq_intradistill.data.toy_corpus) with a long tail of rare words and
few training pairs, so that the baseline overfits; the `quickstart` recipe of
fairseq_intradistill/recipes/__init__.py (a 3+3-layer, 128-dimensional Transformer, dropout 0.3,
at most 1,000 updates, stopped 10 validations after the best validation loss);
checkpoint_best by validation loss; beam 5.  Steps: corpus, joint SentencePiece,
fairseq-preprocess, fairseq-train for each method and seed (as scripts/common/train.sh
trains), fairseq-generate on the validation and test sets (as scripts/common/evaluate.sh),
then the table of python -m fairseq_intradistill.results (also in OUT/results.txt and
OUT/results.json): test BLEU and length ratio, sacreBLEU's paired bootstrap (p-value, 95%
confidence intervals), training cost, the best validation loss within the baseline's time,
and mean +- std over seeds.  One seed took 12 min 43 s to 14 min 48 s on 2 CPU cores (docs/fidelity.md).
Finished steps are skipped on a second run (the corpus is checked against its settings).
--dry-run prints the fairseq-train command of every run, one line each, and runs nothing."""


def add_parser(sub: argparse._SubParsersAction, prog: Optional[str] = None) -> None:
    """``quickstart``; ``prog`` names the calling script."""
    p = sub.add_parser(
        "quickstart",
        help="scripts/quickstart/run.sh: baseline vs intra-distillation on a small offline corpus",
        prog=prog,
        usage="%(prog)s [--out DIR] [--seeds N [N ...]] [--jobs N] [--valid-bleu]\n"
        "    [--train-size N] [--rare-words N] [--eval-size N] [--max-update N]\n"
        "    [--patience N] [--max-len-b N] [--force] [--dry-run]",
        description=DESCRIPTION,
        allow_abbrev=False,
        formatter_class=ScriptFormatter if prog else argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(leaf=p)
    d = Settings()
    p.add_argument(
        "--out",
        metavar="DIR",
        default=str(d.out),
        help="working folder (default: %(default)s); runs go to DIR/seed-S/METHOD",
    )
    p.add_argument(
        "--seeds",
        metavar="N",
        nargs="+",
        default=["1"],
        help="training seeds, one comparison each (default: 1); the corpus is the same",
    )
    p.add_argument(
        "--jobs", metavar="N", help="trainings run at once, one CPU thread each (default: 2 on 2+ cores, else 1)"
    )
    p.add_argument(
        "--valid-bleu",
        action="store_true",
        help="also log validation BLEU (greedy) at every epoch, for the curves (costs time; "
        "does not change training or the chosen checkpoint)",
    )
    p.add_argument("--train-size", metavar="N", default=str(d.train_size), help="training pairs (default: %(default)s)")
    p.add_argument(
        "--rare-words",
        metavar="N",
        default=str(d.rare_words),
        help="invented rare words in the corpus' long tail (default: %(default)s)",
    )
    p.add_argument(
        "--eval-size",
        metavar="N",
        default=str(d.eval_size),
        help="validation and test pairs each (default: %(default)s)",
    )
    max_update = recipes.RECIPES[RECIPE].max_update
    p.add_argument(
        "--max-update",
        metavar="N",
        help=f"updates per model (default: the recipe's {max_update}; the schedule follows)",
    )
    p.add_argument(
        "--patience",
        metavar="N",
        help="stop after N validations without a better loss (default: the recipe's 10; "
        "-1 trains every update, as the runs of docs/fidelity.md before the patience)",
    )
    p.add_argument(
        "--max-len-b",
        metavar="N",
        help="hypotheses end after at most N tokens (fairseq-generate's --max-len-b; default: "
        "fairseq's 200), in the decoding and in --valid-bleu: for smoke runs, where a barely "
        "trained model writes every hypothesis to the limit",
    )
    p.add_argument("--force", action="store_true", help="start again from an empty working folder")
    p.add_argument("--dry-run", action="store_true", help="print the fairseq-train commands and stop")


POSITIVE = ("a positive integer", r"[1-9][0-9]*")
NATURAL = ("a non-negative integer", r"[0-9]+")


def _integer(parser: argparse.ArgumentParser, flag: str, text: str, rule: Tuple[str, str]) -> int:
    """``text`` as an integer of ``rule`` (what it is, its pattern), or a usage error naming ``flag``."""
    if not re.fullmatch(rule[1], text):
        parser.error(f"{flag} must be {rule[0]} (got '{text}')")
    return int(text)


def _optional(parser: argparse.ArgumentParser, flag: str, text: Optional[str], rule: Tuple[str, str]) -> Optional[int]:
    return None if text is None else _integer(parser, flag, text, rule)


def settings_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Settings:
    """The checked options; an error names the flag and what it takes."""
    jobs = _optional(parser, "--jobs", args.jobs, POSITIVE)
    return Settings(
        out=Path(args.out),
        seeds=[_integer(parser, "--seeds", seed, ("non-negative integers", NATURAL[1])) for seed in args.seeds],
        jobs=jobs if jobs is not None else default_jobs(),
        valid_bleu=args.valid_bleu,
        train_size=_integer(parser, "--train-size", args.train_size, POSITIVE),
        rare_words=_integer(parser, "--rare-words", args.rare_words, NATURAL),
        eval_size=_integer(parser, "--eval-size", args.eval_size, POSITIVE),
        max_update=_optional(parser, "--max-update", args.max_update, POSITIVE),
        patience=_optional(parser, "--patience", args.patience, (f"{POSITIVE[0]} or -1", r"-1|" + POSITIVE[1])),
        max_len_b=_optional(parser, "--max-len-b", args.max_len_b, POSITIVE),
        force=args.force,
    )


def run(args: argparse.Namespace, extra: List[str]) -> int:
    """Runs the quickstart from its command line; ``extra``: options it does not know (an error)."""
    parser = args.leaf  # its usage and name in the error messages
    if extra:
        parser.error(f"unknown option '{extra[0]}' (see --help)")
    settings = settings_of(parser, args)
    return launch.report_errors(lambda: quickstart(settings, args.dry_run))
