"""The scripts' fairseq-train and fairseq-generate runs, built from the recipe table and run here.

``scripts/{iwslt14,wmt17,common}/{train,evaluate}.sh`` name a recipe and hand every option to
``python -m fairseq_intradistill.recipes train|evaluate ...`` (:func:`add_parsers`,
:func:`run`).  This module does what those scripts did in bash: the recipe's folders and
defaults, the checks, the skip of a finished run (``train.done``), ``--force``, the GPU count
and batch plan, ``--fp16``/``--cpu``, the command itself (fairseq's options given by the user
last, so that they override the recipe's), the records beside the runs (``experiment.json``,
``train.done``) and, for the evaluation, sacreBLEU.  ``--dry-run`` prints the one fairseq-train
command a training would run, shell-quoted, and touches nothing (the data need not exist yet).
The pipelines of several runs (``scripts/iwslt14/{run_all,ablate,self_distill}.sh``,
:mod:`fairseq_intradistill.pipelines`) call :func:`train_iwslt14`, :func:`evaluate_iwslt14`,
:func:`train` and :func:`evaluate` directly.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, List, Optional, Sequence, TextIO

from fairseq_intradistill import recipes
from fairseq_intradistill.console import ScriptFormatter, log

METHODS = ("baseline", "intra")  # what the recipe scripts train (custom also self_distillation)
IWSLT_PRESETS = recipes.IWSLT_PRESETS  # --preset -> recipe, shared with the prepare step (data/prepare.py)
IWSLT_SUBSETS = ("test", "valid")  # what the IWSLT'14 evaluation decodes (references raw/<subset>.en)
EVAL_MAX_TOKENS = 4096  # the decoding batch: no recipe value, memory only


class RecipeError(Exception):
    """A problem the user can fix: reported as ``error: MESSAGE``, without a traceback."""


def user_dir() -> str:
    """The folder fairseq needs for --user-dir: this package."""
    return str(Path(__file__).resolve().parent)


def executable(name: str) -> str:
    """A console script of this environment (beside its python), by name when PATH finds that one."""
    beside = Path(sys.executable).parent / name
    on_path = shutil.which(name)
    if on_path and (not beside.is_file() or Path(on_path).resolve() == beside.resolve()):
        return name
    return str(beside) if beside.is_file() else name


# Counts the GPUs in a child process, so that torch stays out of this one (it only waits for
# fairseq).  A torch that finds no GPU because CUDA failed to initialise (it then warns, e.g. a
# driver or build mismatch) must stop the run rather than train on the CPU unnoticed; with GPUs
# found, such warnings (e.g. NVML missing in a container) are shown and training goes on.
# fairseq is not imported here: importing it takes seconds, and fairseq-train imports it anyway;
# a run that fails is asked afterwards whether fairseq was the cause (fairseq_import_error).
_DEVICE_PROBE = r"""
import json, sys, warnings
import torch
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    count = torch.cuda.device_count()
problems = [str(w.message) for w in caught if "cuda" in str(w.message).lower() or "nvml" in str(w.message).lower()]
if problems and count == 0:
    sys.exit("torch could not initialise CUDA: " + "; ".join(problems))
for problem in problems:
    print(f"warning: {problem}", file=sys.stderr)
fp16 = count > 0 and all(torch.cuda.get_device_capability(i)[0] >= 7 for i in range(count))
print(json.dumps({"gpus": count, "fp16": fp16}))
"""
CPU_ONLY = "--cpu"  # a fairseq option: with it among the user's options no GPU is used or counted


@dataclass(frozen=True)
class Devices:
    gpus: int  # usable CUDA devices; 0 on a CPU machine
    fp16: bool  # every one has tensor cores for fp16 (compute capability >= 7.0)
    cpu_chosen: bool = False  # --cpu among the user's options: none counted, none wanted


def cpu_only_torch() -> bool:
    """The installed torch is a CPU-only build (``2.13.0+cpu``): it can find no GPU.

    Read from the package's metadata, so that torch is not imported (seconds per run on a
    small machine).  CUDA builds carry no such label (``2.13.0``) or another (``+cu126``,
    ``+rocm6.2``) and are asked.
    """
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return False  # the probe's import then says what is wrong
    return version.partition("+")[2] == "cpu"


def find_devices(options: Sequence[str] = ()) -> Devices:
    """The GPUs torch finds; none, without asking torch, when ``options`` (fairseq's) hold --cpu
    or torch is a CPU-only build."""
    if CPU_ONLY in options:
        return Devices(0, False, cpu_chosen=True)
    if cpu_only_torch():
        return Devices(0, False)
    proc = subprocess.run([sys.executable, "-c", _DEVICE_PROBE], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RecipeError(
            "cannot count the GPUs with torch (the error above); fix the torch installation, "
            "or hide the GPUs with CUDA_VISIBLE_DEVICES= to train on the CPU"
        )
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    return Devices(int(found["gpus"]), bool(found["fp16"]))


def fairseq_import_error() -> Optional[str]:
    """Python's error when fairseq fails to import in this environment, else None.

    Asked after a fairseq command failed, so that a broken installation is named as such
    instead of leaving the user with a traceback that may look like a training error.
    """
    proc = subprocess.run([sys.executable, "-c", "import fairseq"], capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    return proc.stderr.strip() or f"import fairseq failed (exit status {proc.returncode})"


def _fairseq_broken(shown: bool, file: Optional[TextIO] = None) -> None:
    """Raise RecipeError when fairseq does not import; ``shown``: its traceback is already printed."""
    error = fairseq_import_error()
    if error is None:
        return
    if not shown:
        print(error, file=file or sys.stderr, flush=True)
    where = "above" if file is None else f"in {getattr(file, 'name', 'the console log')}"
    raise RecipeError(f"cannot import fairseq (the Python error {where}); check the environment (pip install -e .)")


def warn_if_cpu(devices: Devices, file: Optional[TextIO] = None) -> None:
    if devices.gpus == 0 and not devices.cpu_chosen:
        log("warning: no GPU found, training on the CPU (--cpu); this is only sensible for small models", file)


@dataclass
class Overrides:
    """The options that replace a recipe's settings (``None``: the recipe's)."""

    arch: Optional[str] = None
    max_update: Optional[int] = None
    max_tokens: Optional[int] = None
    num_passes: Optional[int] = None
    alpha_mode: Optional[str] = None

    def fairseq_flags(self) -> List[str]:
        """--arch, --max-update and --max-tokens as fairseq's own options (no recipe to replace)."""
        flags: List[str] = []
        for flag, value in (
            ("--arch", self.arch),
            ("--max-update", self.max_update),
            ("--max-tokens", self.max_tokens),
        ):
            if value is not None:
                flags += [flag, str(value)]
        return flags


@dataclass
class TrainJob:
    """One fairseq-train run: the method's flags, a recipe's (if any), then the user's options."""

    data: Path
    method: str
    save_dir: Path
    recipe: Optional[str] = None
    overrides: Overrides = field(default_factory=Overrides)
    extra: List[str] = field(default_factory=list)  # fairseq-train options, last so that they win
    log_file: Optional[Path] = None

    @property
    def log_path(self) -> Path:
        return self.log_file or self.save_dir / "train.log"

    def command(self, devices: Devices) -> List[str]:
        """The fairseq-train command; raises ValueError (naming the flag) for a bad setting."""
        o = self.overrides
        alpha_mode = o.alpha_mode or "adaptive"
        extra = list(self.extra)
        if self.recipe is None:
            flags = recipes.method_flags(self.method, num_passes=o.num_passes, alpha_mode=alpha_mode)
            extra = o.fairseq_flags() + extra
        else:
            flags = recipes.train_flags(
                self.recipe, self.method, devices.gpus, o.arch, o.max_update, o.max_tokens, o.num_passes, alpha_mode
            )
        if devices.gpus == 0:
            device = ["--cpu"]
        else:
            device = ["--fp16"] if devices.fp16 else []
        return [
            executable("fairseq-train"),
            str(self.data),
            "--user-dir",
            user_dir(),
            *flags,
            "--save-dir",
            str(self.save_dir),
            "--log-format",
            "json",
            "--log-file",
            str(self.log_path),
            "--no-progress-bar",
            *device,
            *extra,
        ]

    def validate(self) -> None:
        """Check the method and recipe options before anything slow (the GPU count) runs."""
        try:
            self.command(Devices(gpus=0, fp16=False))
        except ValueError as e:
            raise RecipeError(str(e)) from e


def print_command(command: Sequence[str]) -> None:
    """The command as one line a shell runs unchanged."""
    print(shlex.join(command), flush=True)


def train(
    job: TrainJob, dry_run: bool = False, devices: Optional[Devices] = None, console: Optional[TextIO] = None
) -> int:
    """Runs fairseq-train on binarised data (scripts/common/train.sh); its exit status.

    ``devices``: the GPUs already found (a pipeline of several runs counts them once);
    without it they are counted here.  ``console``: a file that gets fairseq's output and these
    messages instead of the terminal (self_distill.sh keeps each model's in console.log).
    """
    job.validate()
    if not dry_run and not any(Path(job.data).glob("dict.*.txt")):
        raise RecipeError(
            f"--data {job.data} holds no fairseq dictionary (dict.*.txt): binarise it with fairseq-preprocess first"
        )
    if devices is None:
        devices = find_devices(job.extra)
    warn_if_cpu(devices, console)
    command = job.command(devices)
    if dry_run:
        print_command(command)
        return 0
    job.save_dir.mkdir(parents=True, exist_ok=True)
    log(f"training {job.method} model in {job.save_dir} (log: {job.log_path})", console)
    output = {"stdout": console, "stderr": subprocess.STDOUT} if console else {}
    status = subprocess.run(command, **output).returncode
    if status != 0:
        _fairseq_broken(shown=True, file=console)
    return status


@dataclass
class RecipeRun:
    """A training of a recipe script: its data folder, its runs folder, its records."""

    job: TrainJob
    pair: str  # de-en, en-de: names the run in messages and in experiment.json
    default_save_dir: Path
    prepare: str  # the command that prepares the data, for the message when it is missing
    corpus: Optional[str] = None  # the corpus prepare.sh recorded (IWSLT'14), for experiment.json
    force: bool = False
    arguments: List[str] = field(default_factory=list)  # what the user gave, for train.done


def train_recipe(run: RecipeRun, dry_run: bool = False, devices: Optional[Devices] = None) -> int:
    """scripts/{iwslt14,wmt17}/train.sh: skip a finished run, --force, records, then :func:`train`."""
    job = run.job
    job.validate()
    done = job.save_dir / "train.done"
    if dry_run:
        # What a real run would do beside the command, on stderr so that stdout is the command.
        if not (job.data / "done").is_file():
            log(f"note: no prepared data in {job.data} yet (run {run.prepare} before training)")
        if run.force:
            log(f"note: --force: a real run deletes {job.save_dir} first")
        elif done.is_file():
            log(f"note: {done} exists: a real run skips this one (use --force to retrain)")
        elif (job.save_dir / "checkpoint_last.pt").is_file():
            log(f"note: a real run resumes from {job.save_dir / 'checkpoint_last.pt'}")
        return train(job, dry_run=True, devices=devices)
    if not (job.data / "done").is_file():
        raise RecipeError(f"no prepared data in {job.data}: run {run.prepare} first")
    if done.is_file() and not run.force:
        log(f"{done} exists: {run.pair} {job.method} is trained, skipping (use --force to retrain)")
        return 0
    if run.force and job.save_dir.exists():
        shutil.rmtree(job.save_dir)
    job.save_dir.mkdir(parents=True, exist_ok=True)
    if job.save_dir == run.default_save_dir:
        # Tells python -m fairseq_intradistill.results which paper numbers this experiment
        # compares with (a preset without a benchmark: none, so its table shows n/a), and on
        # which corpus: one that is not the paper's data is never set beside them.
        recipe = str(job.recipe)  # a recipe script always names one
        record = {"benchmark": recipes.RECIPES[recipe].benchmark or recipe, "pair": run.pair}
        if run.corpus:  # none for data prepared before prepare.sh recorded it
            record["corpus"] = run.corpus
        (run.default_save_dir.parent / "experiment.json").write_text(json.dumps(record) + "\n")
    if (job.save_dir / "checkpoint_last.pt").is_file():
        log(f"resuming from {job.save_dir / 'checkpoint_last.pt'}")
    status = train(job, devices=devices)
    if status != 0:
        return status
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    done.write_text(f"{stamp} {job.method} --recipe {job.recipe} {shlex.join(run.arguments)}\n")
    log(f"{run.pair} {job.method}: done, checkpoints in {job.save_dir}")
    return 0


def _iwslt_recipe(preset: str) -> str:
    if preset not in IWSLT_PRESETS:
        raise RecipeError(f"--preset must be {' or '.join(IWSLT_PRESETS)} (got '{preset}')")
    return IWSLT_PRESETS[preset]


def train_iwslt14(
    lang: str,
    method: str,
    out: Path,
    preset: str = "paper",
    save_dir: Optional[Path] = None,
    overrides: Optional[Overrides] = None,
    extra: Sequence[str] = (),
    force: bool = False,
    dry_run: bool = False,
    arguments: Sequence[str] = (),
    devices: Optional[Devices] = None,
) -> int:
    """scripts/iwslt14/train.sh: one <lang>->en model of ``method`` with the recipe of ``preset``.

    Trains on OUT/data/<lang>-en/bin into ``save_dir`` (default OUT/runs/<lang>-en/<method>)
    with :func:`train_recipe`; ``arguments`` are the train.sh options this run stands for
    (recorded in train.done), ``devices`` as for :func:`train`.
    """
    if method not in METHODS:
        raise RecipeError(f"--method must be {' or '.join(METHODS)} (got '{method}')")
    recipe = _iwslt_recipe(preset)
    pair = f"{lang}-en"
    default_save_dir = out / "runs" / pair / method
    data = out / "data" / pair / "bin"
    job = TrainJob(data, method, save_dir or default_save_dir, recipe, overrides or Overrides(), list(extra))
    corpus = None
    if not dry_run:
        from fairseq_intradistill.data import iwslt14

        try:
            corpus = iwslt14.pair_corpus(out / "orig", lang)
        except ValueError as e:
            raise RecipeError(str(e)) from e
    prepare = f"scripts/iwslt14/prepare.sh --langs {lang} --out {out}"
    run = RecipeRun(job, pair, default_save_dir, prepare, corpus, force, list(arguments))
    return train_recipe(run, dry_run, devices)


@dataclass
class EvalJob:
    """One fairseq-generate run on a subset, then sacreBLEU against the raw references."""

    data: Path
    checkpoint: Path
    reference: Path
    out: Path
    beam: str
    lenpen: str
    subset: str = "test"
    max_tokens: int = EVAL_MAX_TOKENS
    lowercase: bool = False
    extra: List[str] = field(default_factory=list)  # fairseq-generate options, last so that they win

    def command(self, devices: Devices) -> List[str]:
        # --required-batch-size-multiple 1: with fairseq's default of 8, this fairseq drops the
        # longest sentences of the last batch from the output (seen with ve-fairseq 0.12.3).
        return [
            executable("fairseq-generate"),
            str(self.data),
            "--user-dir",
            user_dir(),
            "--path",
            str(self.checkpoint),
            "--gen-subset",
            self.subset,
            "--beam",
            self.beam,
            "--lenpen",
            self.lenpen,
            "--max-tokens",
            str(self.max_tokens),
            "--remove-bpe",
            "sentencepiece",
            "--required-batch-size-multiple",
            "1",
            *(["--cpu"] if devices.gpus == 0 else []),
            *self.extra,
        ]


def evaluate(
    job: EvalJob,
    force: bool = False,
    devices: Optional[Devices] = None,
    quiet: bool = False,
    console: Optional[TextIO] = None,
) -> int:
    """scripts/common/evaluate.sh: decode, put the hypotheses in order, score; its exit status.

    ``devices``: the GPUs already found, as for :func:`train`.  ``quiet``: the score is not
    printed on stdout (it is in the result file; self_distill.sh prints its own table).
    ``console``: a file that gets these messages and the score instead of the terminal (the
    quickstart keeps each run's in console.log; fairseq-generate's output has its own files).
    """
    if not job.data.is_dir():
        raise RecipeError(f"--data {job.data} does not exist")
    if not job.checkpoint.is_file():
        raise RecipeError(f"--checkpoint {job.checkpoint} does not exist")
    if not job.reference.is_file() or job.reference.stat().st_size == 0:
        raise RecipeError(f"--reference {job.reference} is missing or empty")
    result = job.out / f"bleu-{job.subset}.json"
    if result.is_file() and not force:
        log(f"{result} exists, skipping (use --force to redo)", console)
        if not quiet:
            print(result.read_text(), end="", flush=True, file=console)
        return 0
    if devices is None:
        devices = find_devices(job.extra)
    job.out.mkdir(parents=True, exist_ok=True)
    options = f", {' '.join(job.extra)}" if job.extra else ""
    log(f"decoding {job.subset} with {job.checkpoint} (beam {job.beam}, lenpen {job.lenpen}{options})", console)
    output = job.out / f"generate-{job.subset}.txt"
    partial = output.with_name(output.name + ".tmp")
    generate_log = job.out / f"generate-{job.subset}.log"
    with open(partial, "w") as stdout, open(generate_log, "w") as stderr:
        status = subprocess.run(job.command(devices), stdout=stdout, stderr=stderr).returncode
    if status != 0:
        _fairseq_broken(shown=False, file=console)
        raise RecipeError(f"fairseq-generate failed, see {generate_log}")
    partial.replace(output)
    scoring = [sys.executable, "-m", "fairseq_intradistill.evaluation", "--generate-output", str(output)]
    scoring += ["--reference", str(job.reference), "--hypotheses", str(job.out / f"hyp-{job.subset}.txt")]
    scoring += ["--out", str(result)] + (["--lowercase"] if job.lowercase else [])
    stdout = subprocess.DEVNULL if quiet else console
    return subprocess.run(scoring, stdout=stdout, stderr=console).returncode


def _evaluate_prepared(data: Path, prepare: str, job: EvalJob, force: bool, devices: Optional[Devices] = None) -> int:
    """:func:`evaluate` on a recipe's prepared pair folder ``data`` (``prepare`` makes it)."""
    if not (data / "bin" / "done").is_file():
        raise RecipeError(f"no prepared data in {data / 'bin'}: run {prepare} first")
    return evaluate(job, force, devices)


def evaluate_iwslt14(
    lang: str,
    checkpoint: Path,
    out: Path,
    preset: str = "paper",
    subset: str = "test",
    eval_dir: Optional[Path] = None,
    beam: Optional[str] = None,
    lenpen: Optional[str] = None,
    max_tokens: int = EVAL_MAX_TOKENS,
    extra: Sequence[str] = (),
    force: bool = False,
    devices: Optional[Devices] = None,
) -> int:
    """scripts/iwslt14/evaluate.sh: ``subset`` of OUT/data/<lang>-en decoded with ``checkpoint``.

    The preset's decoding unless ``beam``/``lenpen``; the results go into ``eval_dir``
    (default: the checkpoint's folder).  ``devices`` as for :func:`train`.
    """
    if not checkpoint.is_file():
        raise RecipeError(f"--checkpoint {checkpoint} does not exist")
    if subset not in IWSLT_SUBSETS:
        raise RecipeError(f"--subset must be {' or '.join(IWSLT_SUBSETS)} (got '{subset}')")
    recipe = recipes.RECIPES[_iwslt_recipe(preset)]
    data = out / "data" / f"{lang}-en"
    job = EvalJob(
        data / "bin",
        checkpoint,
        data / "raw" / f"{subset}.en",
        eval_dir or checkpoint.parent,
        beam or str(recipe.beam),  # the recipe's decoding unless given
        lenpen or str(recipe.lenpen),
        subset,
        max_tokens,
        extra=list(extra),
    )
    return _evaluate_prepared(data, f"scripts/iwslt14/prepare.sh --langs {lang} --out {out}", job, force, devices)


# ---------------------------------------------------------------------------------------------
# The command line: python -m fairseq_intradistill.recipes [--prog NAME] train|evaluate ...


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (got {text!r})")
    return value


def _add_recipe_run_options(parser: argparse.ArgumentParser, out: str, pair: str) -> None:
    """The options of a recipe's training script (iwslt14, wmt17): folders, --force, --dry-run, overrides."""
    parser.add_argument("--out", metavar="DIR", default=out, help="recipe folder (default: %(default)s)")
    parser.add_argument(
        "--save-dir", metavar="DIR", help=f"checkpoints and train.log (default: OUT/runs/{pair}/<method>)"
    )
    parser.add_argument("--force", action="store_true", help="delete SAVE_DIR and train from scratch")
    parser.add_argument("--dry-run", action="store_true", help="print the fairseq-train command and stop")
    _add_overrides(parser)


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    """The options that replace a recipe's settings; recognised after ``--`` too."""
    group = parser.add_argument_group("replacing the recipe's settings (also after --, as --dry-run)")
    group.add_argument("--arch", metavar="ARCH", help="the model architecture instead of the recipe's")
    group.add_argument(
        "--max-update", metavar="N", type=positive_int, help="N instead of the recipe's (the schedule follows)"
    )
    group.add_argument(
        "--max-tokens",
        metavar="N",
        type=positive_int,
        help="the per-GPU micro-batch; --update-freq follows, the batch stays the same",
    )
    group.add_argument(
        "--num-passes", metavar="K", type=int, help="intra only: K instead of the recipe's (the K ablation)"
    )
    group.add_argument(
        "--alpha-mode",
        choices=recipes.ALPHA_MODES,
        help="intra only: fixed = a constant alpha from the first update (drops --adaptive-alpha)",
    )


def overrides_of(args: argparse.Namespace) -> Overrides:
    return Overrides(args.arch, args.max_update, args.max_tokens, args.num_passes, args.alpha_mode)


def _intra_lines(names: Sequence[str]) -> str:
    return "\n".join(f"    {name}: {recipes.describe_intra(recipes.RECIPES[name].intra)}" for name in names)


def _batch_line(name: str) -> str:
    r = recipes.RECIPES[name]
    return f"{r.effective_tokens:,} target tokens per update ({r.max_tokens} x update-freq {r.update_freq} on one GPU)"


_TRAIN_COMMON = """\
fairseq-train gets, in this order: the method's task and criterion, the recipe's flags
(fairseq_intradistill/recipes/__init__.py), its batch plan for the GPUs found (the effective batch is the
recipe's whatever the number of GPUs: the per-GPU --max-tokens and --update-freq follow), the
save folder and JSON log (SAVE_DIR/train.log), --fp16 on GPUs that support it or --cpu (with a
warning) without one, then every option not listed here, so that those override the recipe's.
A broken fairseq or torch stops the run with its error.  --dry-run prints that command as one
line and runs nothing: it works before the data is prepared.
  baseline  label_smoothed_cross_entropy (the plugin is loaded all the same)
  intra     intra_distillation with the recipe's settings:
{intra}"""

_TRAIN_DONE = """\
A finished run (SAVE_DIR/train.done) is skipped; an interrupted one resumes from
SAVE_DIR/checkpoint_last.pt.  Validation loss picks SAVE_DIR/checkpoint_best.pt."""


def _train_parsers(train: argparse._SubParsersAction, prog: Optional[str]) -> None:
    kw = dict(allow_abbrev=False, formatter_class=ScriptFormatter if prog else argparse.RawDescriptionHelpFormatter)

    p = train.add_parser(
        "iwslt14",
        help="scripts/iwslt14/train.sh: one IWSLT'14 xx->en model",
        prog=prog,
        usage="%(prog)s --lang de --method {baseline,intra} [--preset {paper,small}] [--out DIR]\n"
        "    [--save-dir DIR] [--arch A] [--max-update N] [--max-tokens N] [--num-passes K]\n"
        "    [--alpha-mode {adaptive,fixed}] [--force] [--dry-run]\n"
        "    [FAIRSEQ-TRAIN OPTIONS...] [-- FAIRSEQ-TRAIN OPTIONS...]",
        description=(
            "Trains one IWSLT'14 xx->en model, baseline or intra-distillation, on OUT/data/<lang>-en/bin\n"
            "(made by scripts/iwslt14/prepare.sh) with the recipe of --preset:\n"
            f"  paper  recipe iwslt14: {recipes.RECIPES['iwslt14'].description}, {_batch_line('iwslt14')}\n"
            f"  small  recipe iwslt14-small: {recipes.RECIPES['iwslt14-small'].description}\n"
            + _TRAIN_COMMON.format(intra=_intra_lines(["iwslt14", "iwslt14-small"]))
            + "\n"
            + _TRAIN_DONE
        ),
        **kw,
    )
    p.set_defaults(leaf=p)
    p.add_argument("--lang", metavar="xx", help="two-letter source language (required)")
    p.add_argument("--method", metavar="{baseline,intra}", help="required")
    p.add_argument(
        "--preset",
        metavar="{paper,small}",
        default="paper",
        help="paper (recipe iwslt14, the default) or small (iwslt14-small)",
    )
    _add_recipe_run_options(p, out="work/iwslt14", pair="<lang>-en")

    p = train.add_parser(
        "wmt17",
        help="scripts/wmt17/train.sh: the WMT'17 en->de Transformer-big",
        prog=prog,
        usage="%(prog)s --method {baseline,intra} [--out DIR] [--save-dir DIR]\n"
        "    [--arch A] [--max-update N] [--max-tokens N] [--force] [--dry-run]\n"
        "    [FAIRSEQ-TRAIN OPTIONS...] [-- FAIRSEQ-TRAIN OPTIONS...]",
        description=(
            "Trains the WMT'17 en->de model, baseline or intra-distillation, on OUT/data/en-de/bin\n"
            f"(scripts/wmt17/prepare.sh) with recipe wmt17: {recipes.RECIPES['wmt17'].description},\n"
            f"{_batch_line('wmt17')}.\n" + _TRAIN_COMMON.format(intra=_intra_lines(["wmt17"])) + "\n" + _TRAIN_DONE
        ),
        **kw,
    )
    p.set_defaults(leaf=p)
    p.add_argument("--method", metavar="{baseline,intra}", help="required")
    _add_recipe_run_options(p, out="work/wmt17", pair="en-de")

    p = train.add_parser(
        "custom",
        help="scripts/common/train.sh: any binarised data, with or without a recipe",
        prog=prog,
        usage="%(prog)s --data DIR --method {baseline,intra,self_distillation} --save-dir DIR\n"
        "    [--recipe NAME [--arch A] [--max-update N] [--max-tokens N]]\n"
        "    [--num-passes K] [--alpha-mode {adaptive,fixed}] [--log FILE] [--dry-run]\n"
        "    [FAIRSEQ-TRAIN OPTIONS...]",
        description=(
            "Runs fairseq-train on binarised DATA with the plugin loaded (--user-dir), so that baseline and\n"
            "intra-distillation checkpoints go through the same code and load anywhere.  Without --recipe\n"
            "only the method's flags come first (intra: the paper's IWSLT'14 settings), and --arch,\n"
            "--max-update and --max-tokens are fairseq's own options; with --recipe NAME\n"
            f"({', '.join(recipes.RECIPES)}) also its training flags and batch plan.\n"
            "  self_distillation  --task translation --criterion self_distillation (add --teacher-path ...)\n"
            + _TRAIN_COMMON.format(intra=_intra_lines(recipes.RECIPES)).replace(" (SAVE_DIR/train.log)", "")
            + "\nTraining resumes from SAVE_DIR/checkpoint_last.pt when it exists.  The JSON log goes to\n"
            "--log (default SAVE_DIR/train.log) as well as to the terminal."
        ),
        **kw,
    )
    p.set_defaults(leaf=p)
    p.add_argument("--data", metavar="DIR", type=Path, help="binarised data (fairseq-preprocess output; required)")
    p.add_argument("--method", help=f"{', '.join(recipes.METHOD_FLAGS)} (required)")
    p.add_argument("--save-dir", metavar="DIR", type=Path, help="checkpoints (required)")
    p.add_argument("--recipe", choices=list(recipes.RECIPES), help="a recipe's training flags and batch plan")
    p.add_argument("--log", metavar="FILE", type=Path, help="fairseq's JSON log file (default: SAVE_DIR/train.log)")
    p.add_argument("--dry-run", action="store_true", help="print the fairseq-train command and stop")
    _add_overrides(p)


_EVAL_COMMON = """\
fairseq-generate decodes with the plugin loaded (--remove-bpe sentencepiece, --cpu without a GPU);
the hypotheses are put back in sentence order, a sentence without one is an error naming it
(fairseq skips inputs longer than the model's maximum positions), and sacreBLEU scores them.
Every option not listed here goes to fairseq-generate after these, so it overrides them
(e.g. --max-len-b 50, --batch-size 64).  A finished evaluation is not redone unless --force."""


def _evaluate_parsers(evaluate: argparse._SubParsersAction, prog: Optional[str]) -> None:
    kw = dict(allow_abbrev=False, formatter_class=ScriptFormatter if prog else argparse.RawDescriptionHelpFormatter)

    def decoding(p: argparse.ArgumentParser, default: str) -> None:
        p.add_argument("--beam", metavar="N", help=f"beam size (default: {default})")
        p.add_argument("--lenpen", metavar="X", help=f"length penalty (default: {default})")
        p.add_argument(
            "--max-tokens", metavar="N", type=positive_int, default=EVAL_MAX_TOKENS, help="default: %(default)s"
        )
        p.add_argument("--force", action="store_true", help="decode again even if the results exist")

    paper, small = recipes.RECIPES["iwslt14"], recipes.RECIPES["iwslt14-small"]
    p = evaluate.add_parser(
        "iwslt14",
        help="scripts/iwslt14/evaluate.sh: the IWSLT'14 test (or validation) set of one pair",
        prog=prog,
        usage="%(prog)s --lang de --checkpoint CKPT [--out DIR] [--eval-dir DIR]\n"
        "    [--subset {test,valid}] [--preset {paper,small}] [--beam N] [--lenpen X] [--max-tokens N]\n"
        "    [--force] [FAIRSEQ-GENERATE OPTIONS...]",
        description=(
            "Translates OUT/data/<lang>-en/bin's test set (dev2010+dev2012+tst2010+tst2011+tst2012) and scores\n"
            "it with sacreBLEU (13a) against the raw lowercased references OUT/data/<lang>-en/raw/test.en.\n"
            "Writes into EVAL_DIR (default: the checkpoint's folder) generate-test.txt, hyp-test.txt and\n"
            "bleu-test.json (BLEU with its sacreBLEU signature).\n" + _EVAL_COMMON
        ),
        **kw,
    )
    p.set_defaults(leaf=p)
    p.add_argument("--lang", metavar="xx", help="two-letter source language (required)")
    p.add_argument("--checkpoint", metavar="CKPT", type=Path, help="the checkpoint to decode with (required)")
    p.add_argument("--out", metavar="DIR", default="work/iwslt14", help="recipe folder (default: %(default)s)")
    p.add_argument(
        "--eval-dir", metavar="DIR", type=Path, help="where the results go (default: the checkpoint's folder)"
    )
    p.add_argument(
        "--subset",
        metavar="{test,valid}",
        default="test",
        help="test, or valid: the validation set (every 23rd training line; references raw/valid.en), to "
        "choose decoding settings or checkpoints without looking at the test set",
    )
    p.add_argument(
        "--preset",
        metavar="{paper,small}",
        default="paper",
        help="whose decoding settings are the defaults: paper or small",
    )
    decoding(
        p,
        f"the preset's: paper beam {paper.beam}, lenpen {paper.lenpen}; small beam {small.beam}, lenpen {small.lenpen}",
    )

    wmt = recipes.RECIPES["wmt17"]
    p = evaluate.add_parser(
        "wmt17",
        help="scripts/wmt17/evaluate.sh: newstest2017 en->de, detokenised and compound-split BLEU",
        prog=prog,
        usage="%(prog)s --checkpoint CKPT [--out DIR] [--eval-dir DIR]\n"
        "    [--beam N] [--lenpen X] [--max-tokens N] [--force] [FAIRSEQ-GENERATE OPTIONS...]",
        description=(
            "Translates newstest2017 (OUT/data/en-de/bin, test) and writes into EVAL_DIR (default: the\n"
            "checkpoint's folder):\n"
            "  bleu-test.json            detokenised sacreBLEU (13a, case-sensitive) against the raw\n"
            "                            references, with its signature: the number to report\n"
            "  bleu-test-compound.json   tokenised compound-split BLEU (Moses tokens, a ##AT##-##AT## b),\n"
            "                            only for comparison with older papers\n" + _EVAL_COMMON
        ),
        **kw,
    )
    p.set_defaults(leaf=p)
    p.add_argument("--checkpoint", metavar="CKPT", type=Path, help="the checkpoint to decode with (required)")
    p.add_argument("--out", metavar="DIR", default="work/wmt17", help="recipe folder (default: %(default)s)")
    p.add_argument(
        "--eval-dir", metavar="DIR", type=Path, help="where the results go (default: the checkpoint's folder)"
    )
    decoding(p, f"the recipe's, beam {wmt.beam}, lenpen {wmt.lenpen} (the authors' inference settings)")

    p = evaluate.add_parser(
        "custom",
        help="scripts/common/evaluate.sh: a subset of any binarised data against raw references",
        prog=prog,
        usage="%(prog)s --data DIR --checkpoint CKPT --reference FILE --out DIR\n"
        "    [--subset test] [--beam N] [--lenpen X] [--max-tokens N] [--lowercase] [--force]\n"
        "    [FAIRSEQ-GENERATE OPTIONS...]",
        description=(
            "Decodes SUBSET of the binarised DATA and scores it against the raw REFERENCE.  Writes into OUT:\n"
            "  generate-SUBSET.txt  fairseq-generate's output (its log: generate-SUBSET.log)\n"
            "  hyp-SUBSET.txt       the hypotheses, one per reference line\n"
            '  bleu-SUBSET.json     {"bleu", "signature", "score_string", "num_sentences", ...}\n' + _EVAL_COMMON
        ),
        **kw,
    )
    p.set_defaults(leaf=p)
    p.add_argument("--data", metavar="DIR", type=Path, help="binarised data (required)")
    p.add_argument("--checkpoint", metavar="CKPT", type=Path, help="the checkpoint to decode with (required)")
    p.add_argument("--reference", metavar="FILE", type=Path, help="raw references of SUBSET, one per line (required)")
    p.add_argument("--out", metavar="DIR", type=Path, help="where the results go (required)")
    p.add_argument("--subset", metavar="NAME", default="test", help="default: %(default)s")
    p.add_argument("--lowercase", action="store_true", help="case-insensitive BLEU")
    decoding(p, f"the paper's, beam {paper.beam}, lenpen {paper.lenpen}")


def add_parsers(sub: argparse._SubParsersAction, prog: Optional[str] = None) -> None:
    """``train`` and ``evaluate`` with one subcommand per script; ``prog`` names the calling script."""
    p = sub.add_parser("train", help="train a model: iwslt14 | wmt17 | custom (the scripts' train.sh)")
    _train_parsers(p.add_subparsers(dest="target", required=True, metavar="{iwslt14,wmt17,custom}"), prog)
    p = sub.add_parser("evaluate", help="decode and score: iwslt14 | wmt17 | custom (the scripts' evaluate.sh)")
    _evaluate_parsers(p.add_subparsers(dest="target", required=True, metavar="{iwslt14,wmt17,custom}"), prog)


def tail_parser(command: str) -> argparse.ArgumentParser:
    """What is still recognised after ``--``: the recipe's replacements and --dry-run (fairseq has
    none), so that they can be appended to any command line; the rest goes to fairseq."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    if command == "train":
        _add_overrides(parser)
        parser.add_argument("--dry-run", action="store_true")
    return parser


def require(parser: argparse.ArgumentParser, args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) in (None, ""):
            parser.error(f"--{name.replace('_', '-')} is required (see --help)")


def choose(parser: argparse.ArgumentParser, flag: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        parser.error(f"{flag} must be {' or '.join(allowed)} (got '{value}')")
    return value


def check_lang(parser: argparse.ArgumentParser, lang: str) -> None:
    if not re.fullmatch(r"[a-z][a-z]", lang):
        parser.error(f"--lang must be a two-letter source language code (got '{lang}')")


def report_errors(call: Callable[[], int]) -> int:
    """``call()``'s exit status; a :class:`RecipeError` ends with ``error: MESSAGE`` and status 1,
    Ctrl-C with status 130, both without a traceback (any other exception keeps its own)."""
    try:
        return call()
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # fairseq got the Ctrl-C too, and stopped; no traceback from us
        print("interrupted", file=sys.stderr)
        return 130


def run(args: argparse.Namespace, extra: List[str], arguments: List[str]) -> int:
    """Runs ``train``/``evaluate`` ``args.target``; ``extra`` goes to fairseq, ``arguments`` are the user's options."""
    parser = args.leaf  # its usage and name in the error messages
    if args.command == "train":
        return report_errors(lambda: _run_train(parser, args, extra, arguments))
    return report_errors(lambda: _run_evaluate(parser, args, extra))


def _run_train(
    parser: argparse.ArgumentParser, args: argparse.Namespace, extra: List[str], arguments: List[str]
) -> int:
    overrides = overrides_of(args)
    if args.target == "custom":
        require(parser, args, "data", "method", "save_dir")
        choose(parser, "--method", args.method, list(recipes.METHOD_FLAGS))
        job = TrainJob(args.data, args.method, args.save_dir, args.recipe, overrides, extra, args.log)
        return train(job, args.dry_run)
    save_dir = Path(args.save_dir) if args.save_dir else None
    if args.target == "iwslt14":
        require(parser, args, "lang", "method", "out")
        choose(parser, "--method", args.method, METHODS)
        check_lang(parser, args.lang)
        choose(parser, "--preset", args.preset, list(IWSLT_PRESETS))
        return train_iwslt14(
            args.lang,
            args.method,
            Path(args.out),
            args.preset,
            save_dir,
            overrides,
            extra,
            args.force,
            args.dry_run,
            arguments,
        )
    require(parser, args, "method", "out")
    choose(parser, "--method", args.method, METHODS)
    out, pair = Path(args.out), "en-de"
    default_save_dir = out / "runs" / pair / args.method
    job = TrainJob(out / "data" / pair / "bin", args.method, save_dir or default_save_dir, "wmt17", overrides, extra)
    prepare = f"scripts/wmt17/prepare.sh --out {args.out}"
    run_ = RecipeRun(job, pair, default_save_dir, prepare, None, args.force, arguments)
    return train_recipe(run_, args.dry_run)


def _run_evaluate(parser: argparse.ArgumentParser, args: argparse.Namespace, extra: List[str]) -> int:
    if args.target == "custom":
        require(parser, args, "data", "checkpoint", "reference", "out")
        paper = recipes.RECIPES["iwslt14"]
        job = EvalJob(
            args.data,
            args.checkpoint,
            args.reference,
            args.out,
            args.beam or str(paper.beam),
            args.lenpen or str(paper.lenpen),
            args.subset,
            args.max_tokens,
            args.lowercase,
            extra,
        )
        return evaluate(job, args.force)
    if args.target == "iwslt14":
        require(parser, args, "lang", "checkpoint", "out")
        check_lang(parser, args.lang)
        if not args.checkpoint.is_file():
            raise RecipeError(f"--checkpoint {args.checkpoint} does not exist")
        choose(parser, "--subset", args.subset, list(IWSLT_SUBSETS))
        choose(parser, "--preset", args.preset, list(IWSLT_PRESETS))
        return evaluate_iwslt14(
            args.lang,
            args.checkpoint,
            Path(args.out),
            args.preset,
            args.subset,
            args.eval_dir,
            args.beam,
            args.lenpen,
            args.max_tokens,
            extra,
            args.force,
        )
    require(parser, args, "checkpoint", "out")
    if not args.checkpoint.is_file():
        raise RecipeError(f"--checkpoint {args.checkpoint} does not exist")
    data = Path(args.out) / "data" / "en-de"
    reference = data / "raw" / "test.de"
    eval_dir = args.eval_dir or args.checkpoint.parent
    status = _evaluate_prepared(
        data,
        f"scripts/wmt17/prepare.sh --out {args.out}",
        EvalJob(
            data / "bin",
            args.checkpoint,
            reference,
            eval_dir,
            args.beam or str(recipes.RECIPES["wmt17"].beam),  # the recipe's decoding unless given
            args.lenpen or str(recipes.RECIPES["wmt17"].lenpen),
            "test",
            args.max_tokens,
            extra=extra,
        ),
        args.force,
    )
    if status != 0:
        return status
    compound = eval_dir / "bleu-test-compound.json"
    if compound.is_file() and not args.force:
        log(f"{compound} exists, skipping (use --force to redo)")
        return 0
    command = [sys.executable, "-m", "fairseq_intradistill.data.wmt17", "compound-bleu"]
    command += ["--hypotheses", str(eval_dir / "hyp-test.txt"), "--reference", str(reference), "--out", str(compound)]
    return subprocess.run(command).returncode
