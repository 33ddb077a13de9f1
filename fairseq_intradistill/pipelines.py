"""The IWSLT'14 pipelines: several trainings and evaluations in a row, over :mod:`launch`'s runs.

``scripts/iwslt14/{run_all,ablate,self_distill}.sh`` hand every option to
``python -m fairseq_intradistill.recipes run-all|ablate|self-distill ...`` (:func:`add_parsers`,
:func:`run`).  This module does what those scripts did in bash, with the runs of
:mod:`fairseq_intradistill.launch` called directly (:func:`~launch.train_iwslt14`,
:func:`~launch.evaluate_iwslt14`, :class:`~launch.TrainJob`, :func:`~launch.evaluate`) rather
than through train.sh and evaluate.sh:

- :func:`run_all`: prepare.sh (still a bash script, run as one), then every language and
  method trained and evaluated, then the results table;
- :func:`ablate`: the K and alpha-mode ablation on one pair, then its table;
- :func:`self_distill`: the case study's chain of models, each the teacher of the next, with
  BLEU and parameter sensitivity per generation, then the comparison table.

Every step skips finished work, so running a pipeline again resumes it.  ``--dry-run`` prints
the fairseq-train command of every training, one shell-quoted line each, and writes nothing:
it works before the data is prepared.  The GPUs are counted once per pipeline.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from fairseq_intradistill import launch, recipes
from fairseq_intradistill.console import ScriptFormatter, log
from fairseq_intradistill.data import corpora
from fairseq_intradistill.launch import RecipeError

# prepare.sh stays a bash script (it is being rewritten separately); run-all runs it from the
# checkout this package lives in, as run_all.sh ran it from its own folder.
PREPARE_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "iwslt14" / "prepare.sh"
ALPHA_MODES = ("fixed", "adaptive")  # the ablation's order: --alpha-modes' default
KD_DIVERGENCES = ("kl", "x")  # --kd-divergence of the self_distillation criterion
_TRAIN_OPTIONS_NOTE = "fairseq-train options go after --"


@dataclass
class TrainOptions:
    """The options after ``--``, for every training of a pipeline.

    ``overrides``: the recipe's replacements among them (--arch, --max-update, ...);
    ``fairseq``: the rest, given to fairseq-train last; ``given``: all of them as typed
    (recorded in train.done, as train.sh recorded its options).
    """

    overrides: launch.Overrides = field(default_factory=launch.Overrides)
    fairseq: List[str] = field(default_factory=list)
    given: List[str] = field(default_factory=list)


def _devices(options: TrainOptions) -> launch.Devices:
    """The GPUs, counted once for all the pipeline's runs (none with --cpu among the options)."""
    return launch.find_devices(options.fairseq)


def summarise(dirs: Sequence[Path], text: Path, json_path: Path) -> None:
    """python -m fairseq_intradistill.results DIRS --json JSON | tee TEXT, in this process."""
    # Imported here: the results need sacreBLEU, which a training or a dry run does not.
    from fairseq_intradistill.results.formatting import format_report
    from fairseq_intradistill.results.report import report, report_json

    try:
        result = report(list(dirs))
    except (ValueError, KeyError) as e:  # what python -m fairseq_intradistill.results reports
        raise RecipeError(str(e)) from e
    table = format_report(result) + "\n"
    print(table, end="", flush=True)
    text.write_text(table)
    json_path.write_text(json.dumps(report_json(result), indent=2) + "\n")


# ---------------------------------------------------------------------------------------------
# run_all.sh


def run_all(
    langs: Sequence[str],
    out: Path,
    methods: Sequence[str] = launch.METHODS,
    preset: str = "paper",
    archive: Optional[str] = None,
    prepare_options: Sequence[str] = (),
    force: bool = False,
    options: Optional[TrainOptions] = None,
    dry_run: bool = False,
) -> int:
    """scripts/iwslt14/run_all.sh: prepare, train and evaluate every language and method, tabulate.

    ``prepare_options`` (--train-pairs, --subset-seed, --vocab-size with their values) go to
    prepare.sh, ``options`` to every training.  Returns the first failing step's status.
    """
    options = options or TrainOptions()
    devices = _devices(options)
    if not dry_run:
        if not PREPARE_SCRIPT.is_file():
            raise RecipeError(f"{PREPARE_SCRIPT} not found: run-all needs a checkout of the repository")
        prepare = ["--langs", " ".join(langs), "--out", str(out), "--preset", preset, *prepare_options]
        prepare += (["--archive", archive] if archive else []) + (["--force"] if force else [])
        status = subprocess.run(["bash", str(PREPARE_SCRIPT), *prepare]).returncode
        if status != 0:
            return status
    for lang in langs:
        for method in methods:
            log(f"== {lang}-en {method}: training")
            # The options train.sh would have had, for its record in train.done.
            arguments = ["--lang", lang, "--method", method, "--preset", preset, "--out", str(out)]
            arguments += (["--force"] if force else []) + ["--", *options.given]
            status = _train_and_evaluate(
                lang, method, out, preset, None, options.overrides, options.fairseq, force, dry_run, arguments, devices
            )
            if status != 0:
                return status
    if not dry_run:
        summarise([out / "runs" / f"{lang}-en" for lang in langs], out / "results.txt", out / "results.json")
    return 0


def _train_and_evaluate(
    lang: str,
    method: str,
    out: Path,
    preset: str,
    save_dir: Optional[Path],
    overrides: launch.Overrides,
    extra: Sequence[str],
    force: bool,
    dry_run: bool,
    arguments: Sequence[str],
    devices: launch.Devices,
) -> int:
    """One run of run-all or ablate: train.sh's training, then (not in a dry run) evaluate.sh's test BLEU."""
    status = launch.train_iwslt14(
        lang, method, out, preset, save_dir, overrides, extra, force, dry_run, arguments, devices
    )
    if status != 0 or dry_run:
        return status
    log(f"== {lang}-en {method}: evaluating")
    folder = save_dir or out / "runs" / f"{lang}-en" / method
    return launch.evaluate_iwslt14(lang, folder / "checkpoint_best.pt", out, preset, force=force, devices=devices)


# ---------------------------------------------------------------------------------------------
# ablate.sh


def ablation_runs(passes: Sequence[int], alpha_modes: Sequence[str]) -> List[Tuple[str, int, str]]:
    """(name, K, alpha mode) of each run: K<k>-<mode>, and K1 once (one pass has no divergence,
    so alpha does not matter; it takes the first mode)."""
    runs: Dict[str, Tuple[str, int, str]] = {}
    for k in passes:
        for mode in alpha_modes:
            name = "K1" if k == 1 else f"K{k}-{mode}"
            runs.setdefault(name, (name, k, mode))
    return list(runs.values())


def ablate(
    lang: str,
    out: Path,
    passes: Sequence[int] = (1, 2, 3, 4, 5),
    alpha_modes: Sequence[str] = ALPHA_MODES,
    preset: str = "paper",
    force: bool = False,
    options: Optional[TrainOptions] = None,
    dry_run: bool = False,
) -> int:
    """scripts/iwslt14/ablate.sh: one intra model per K and alpha mode, each evaluated, and the table.

    Writes OUT/ablation/<lang>-en/<run>/ and OUT/ablation/<lang>-en/table.{txt,json}.
    """
    options = options or TrainOptions()
    if not dry_run and not (out / "data" / f"{lang}-en" / "bin" / "done").is_file():
        raise RecipeError(
            f"no prepared data in {out / 'data' / f'{lang}-en' / 'bin'}: "
            f"run scripts/iwslt14/prepare.sh --langs {lang} --out {out} first"
        )
    devices = _devices(options)
    folder = out / "ablation" / f"{lang}-en"
    for name, k, mode in ablation_runs(passes, alpha_modes):
        log(f"== ablation {lang}-en {name}")
        # --num-passes and --alpha-mode after -- still win, as they did over ablate.sh's own.
        given = options.overrides
        overrides = replace(
            given,
            num_passes=k if given.num_passes is None else given.num_passes,
            alpha_mode=mode if given.alpha_mode is None else given.alpha_mode,
        )
        arguments = ["--lang", lang, "--method", "intra", "--preset", preset, "--out", str(out)]
        arguments += ["--save-dir", str(folder / name), "--num-passes", str(k), "--alpha-mode", mode]
        arguments += (["--force"] if force else []) + ["--", *options.given]
        status = _train_and_evaluate(
            lang, "intra", out, preset, folder / name, overrides, options.fairseq, force, dry_run, arguments, devices
        )
        if status != 0:
            return status
    if not dry_run:
        summarise([folder], folder / "table.txt", folder / "table.json")
    return 0


# ---------------------------------------------------------------------------------------------
# self_distill.sh


def self_distill_jobs(
    data: Path,
    out: Path,
    generations: int = 3,
    kd_alpha: str = "1",
    kd_divergence: str = "kl",
    options: Optional[TrainOptions] = None,
) -> List[launch.TrainJob]:
    """The chain's trainings: model 1 with label-smoothed cross-entropy, model g+1 with model g
    (OUT/model<g>/checkpoint_best.pt) as its frozen teacher; all with the IWSLT'14 recipe, as
    scripts/iwslt14/train.sh trains, and ``options`` last."""
    options = options or TrainOptions()
    jobs = []
    for g in range(1, generations + 1):
        method, teacher = "baseline", []
        if g > 1:
            method = "self_distillation"
            teacher = ["--teacher-path", str(out / f"model{g - 1}" / "checkpoint_best.pt")]
            teacher += ["--kd-alpha", kd_alpha, "--kd-divergence", kd_divergence]
        save_dir = out / f"model{g}"
        jobs.append(launch.TrainJob(data, method, save_dir, "iwslt14", options.overrides, teacher + options.fairseq))
    return jobs


def self_distill(
    data: Path,
    reference: Path,
    out: Path,
    generations: int = 3,
    kd_alpha: str = "1",
    kd_divergence: str = "kl",
    subset: str = "test",
    sensitivity_subset: str = "valid",
    max_batches: Optional[int] = None,
    beam: int = 5,
    lowercase: bool = False,
    options: Optional[TrainOptions] = None,
    dry_run: bool = False,
) -> int:
    """scripts/iwslt14/self_distill.sh: the chain of :func:`self_distill_jobs`, each model decoded
    and its parameter sensitivity measured, then the case-study table (OUT/case_study/)."""
    if kd_divergence not in KD_DIVERGENCES:
        raise RecipeError(f"--kd-divergence must be {' or '.join(KD_DIVERGENCES)} (got '{kd_divergence}')")
    problems = []
    if not data.is_dir():
        problems.append(f"--data {data} does not exist")
    elif not any(data.glob("dict.*.txt")):
        problems.append(f"--data {data} holds no fairseq dictionary (dict.*.txt)")
    if not reference.is_file() or reference.stat().st_size == 0:
        problems.append(f"--reference {reference} is missing or empty")
    if problems and not dry_run:
        raise RecipeError(problems[0])
    for problem in problems:  # a dry run works before the data exists, and says so
        log(f"note: a real run would stop here: {problem}")
    jobs = self_distill_jobs(data, out, generations, kd_alpha, kd_divergence, options)
    for job in jobs:  # a bad recipe option stops the chain before model 1 is trained
        job.validate()
    devices = _devices(options or TrainOptions())
    if dry_run:
        for g, job in enumerate(jobs, start=1):
            if (job.save_dir / "train.done").is_file():
                log(f"note: model {g} is trained: a real run skips it")
            launch.train(job, dry_run=True, devices=devices)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    paper = recipes.RECIPES["iwslt14"]
    labels = []
    for g, job in enumerate(jobs, start=1):
        folder = job.save_dir
        if g == 1:
            what = "model 1 (label-smoothed cross-entropy)"
        else:
            teacher = out / f"model{g - 1}" / "checkpoint_best.pt"
            if not teacher.is_file():
                raise RecipeError(f"the teacher {teacher} is missing")
            what = f"model {g} (self-distillation from model {g - 1}, kd-alpha {kd_alpha})"
        if (folder / "train.done").is_file():
            log(f"{what}: trained, skipping")
        else:
            log(f"training {what}")
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / "console.log", "w") as console:
                status = launch.train(job, devices=devices, console=console)
            if status != 0:
                raise RecipeError(f"training model {g} failed, see {folder / 'console.log'}")
            (folder / "train.done").touch()
        evaluation = launch.EvalJob(
            data,
            folder / "checkpoint_best.pt",
            reference,
            folder,
            str(beam),
            str(paper.lenpen),  # the recipe's (scripts/common/evaluate.sh's default)
            subset,
            lowercase=lowercase,
        )
        status = launch.evaluate(evaluation, devices=devices, quiet=True)  # the table shows the BLEU
        if status != 0:
            return status
        if (folder / "sensitivity.json").is_file():
            log(f"model {g}: sensitivity measured, skipping")
        else:
            log(f"model {g}: parameter sensitivity on {sensitivity_subset}")
            # A process of its own: it loads the model with torch, which this one never imports,
            # and its messages go to sensitivity.log.
            command = [sys.executable, "-m", "fairseq_intradistill.analysis", "sensitivity", str(data)]
            command += ["--path", str(folder / "checkpoint_best.pt"), "--subset", sensitivity_subset]
            command += ["--label", f"model {g}", "--out", str(folder), "--no-progress"]
            command += ["--max-batches", str(max_batches)] if max_batches is not None else []
            with open(folder / "sensitivity.log", "w") as errors:
                if subprocess.run(command, stderr=errors).returncode != 0:
                    raise RecipeError(f"sensitivity of model {g} failed, see {folder / 'sensitivity.log'}")
        labels.append(f"model {g}")
    log(f"case-study table (BLEU on {subset}, sensitivity on {sensitivity_subset})")
    command = [sys.executable, "-m", "fairseq_intradistill.analysis", "compare", *(str(j.save_dir) for j in jobs)]
    command += [
        "--labels",
        ",".join(labels),
        "--out",
        str(out / "case_study"),
        "--title",
        "iterative self-distillation",
    ]
    return subprocess.run(command).returncode


# ---------------------------------------------------------------------------------------------
# The command line: python -m fairseq_intradistill.recipes [--prog NAME] run-all|ablate|self-distill ...


def _words(parser: argparse.ArgumentParser, flag: str, value: str) -> List[str]:
    """A space-separated list option ("de nl"); empty is missing."""
    words = value.split()
    if not words:
        parser.error(f"{flag} is required (see --help)")
    return words


def _positive_flag(parser: argparse.ArgumentParser, flag: str, text: str) -> int:
    if not re.fullmatch(r"[1-9][0-9]*", text):
        parser.error(f"{flag} must be a positive integer (got '{text}')")
    return int(text)


def _run_all(parser: argparse.ArgumentParser, args: argparse.Namespace, options: TrainOptions, dry: bool) -> int:
    # Without --langs: the paper's source languages, from the one place that lists them.
    langs = _words(parser, "--langs", " ".join(corpora.PAPER_IWSLT14_LANGS) if args.langs is None else args.langs)
    for lang in langs:  # prepare.sh's rule, checked here too so that a dry run checks it
        if not re.fullmatch(r"[a-z][a-z]", lang):
            parser.error(f"--langs: '{lang}' is not a two-letter language code")
        if lang == "en":
            parser.error("--langs: en is the target side of every pair; give source languages")
    launch.require(parser, args, "out")
    methods = _words(parser, "--methods", args.methods)
    for method in methods:
        if method not in launch.METHODS:
            parser.error(f"--methods: '{method}' is not {' or '.join(launch.METHODS)}")
    launch.choose(parser, "--preset", args.preset, list(launch.IWSLT_PRESETS))
    prepare_options = []
    for flag in ("--train-pairs", "--subset-seed", "--vocab-size"):  # checked by prepare.sh
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            prepare_options += [flag, value]
    return run_all(langs, Path(args.out), methods, args.preset, args.archive, prepare_options, args.force, options, dry)


def _ablate(parser: argparse.ArgumentParser, args: argparse.Namespace, options: TrainOptions, dry: bool) -> int:
    launch.require(parser, args, "lang")
    launch.check_lang(parser, args.lang)
    launch.require(parser, args, "out")
    passes = []
    for k in _words(parser, "--passes", args.passes):
        if not re.fullmatch(r"[1-9][0-9]*", k):
            parser.error(f"--passes: '{k}' is not a positive integer")
        passes.append(int(k))
    modes = _words(parser, "--alpha-modes", args.alpha_modes)
    for mode in modes:
        if mode not in ALPHA_MODES:
            parser.error(f"--alpha-modes: '{mode}' is not {' or '.join(ALPHA_MODES)}")
    launch.choose(parser, "--preset", args.preset, list(launch.IWSLT_PRESETS))
    return ablate(args.lang, Path(args.out), passes, modes, args.preset, args.force, options, dry)


def _self_distill(parser: argparse.ArgumentParser, args: argparse.Namespace, options: TrainOptions, dry: bool) -> int:
    launch.require(parser, args, "data", "reference", "out")
    generations = _positive_flag(parser, "--generations", args.generations)
    max_batches = None if args.max_batches is None else _positive_flag(parser, "--max-batches", args.max_batches)
    beam = _positive_flag(parser, "--beam", args.beam)
    try:
        kd_alpha = float(args.kd_alpha)
    except ValueError:
        kd_alpha = -1.0
    if not (math.isfinite(kd_alpha) and kd_alpha >= 0):  # the criterion's rule, checked before model 1
        parser.error(f"--kd-alpha must be a finite number >= 0 (got '{args.kd_alpha}')")
    launch.choose(parser, "--kd-divergence", args.kd_divergence, list(KD_DIVERGENCES))
    return self_distill(
        Path(args.data),
        Path(args.reference),
        Path(args.out),
        generations,
        args.kd_alpha,
        args.kd_divergence,
        args.subset,
        args.sensitivity_subset,
        max_batches,
        beam,
        args.lowercase,
        options,
        dry,
    )


COMMANDS: Dict[str, Callable[[argparse.ArgumentParser, argparse.Namespace, TrainOptions, bool], int]] = {
    "run-all": _run_all,
    "ablate": _ablate,
    "self-distill": _self_distill,
}


def add_parsers(sub: argparse._SubParsersAction, prog: Optional[str] = None) -> None:
    """``run-all``, ``ablate`` and ``self-distill``; ``prog`` names the calling script."""
    kw = dict(
        allow_abbrev=False,
        formatter_class=ScriptFormatter if prog else argparse.RawDescriptionHelpFormatter,
    )
    presets = ", ".join(f"{name}: recipe {recipe}" for name, recipe in launch.IWSLT_PRESETS.items())

    p = sub.add_parser(
        "run-all",
        help="scripts/iwslt14/run_all.sh: prepare, train, evaluate and tabulate IWSLT'14 pairs",
        prog=prog,
        usage='%(prog)s [--langs "SRC ..."] [--archive FILE] [--out DIR]\n'
        '    [--methods "baseline intra"] [--preset {paper,small}]\n'
        "    [--train-pairs N] [--subset-seed 1] [--vocab-size N] [--force] [--dry-run]\n"
        "    [-- TRAIN OPTIONS...]",
        description=(
            "For every source language: scripts/iwslt14/prepare.sh, then scripts/iwslt14/train.sh's\n"
            "training for each method, scripts/iwslt14/evaluate.sh's evaluation of each checkpoint_best.pt,\n"
            "then the table of python -m fairseq_intradistill.results over OUT/runs/<src>-en (also saved as\n"
            "OUT/results.txt and OUT/results.json).  Options after -- go to every training, as they would\n"
            "to train.sh (e.g. --max-update 1000, or fairseq-train options).  Every step skips what is\n"
            "finished, so running it again resumes an interrupted reproduction; --force redoes everything.\n"
            "--dry-run prints the fairseq-train command of every language and method, one line each, and\n"
            "runs nothing (no preparation, training or evaluation): it works before the data is prepared."
        ),
        **kw,
    )
    p.set_defaults(leaf=p)
    p.add_argument(
        "--langs",
        metavar='"..."',
        help="source languages (default: the paper's eight, as python -m fairseq_intradistill.data.iwslt14 "
        f"langs prints them: {' '.join(corpora.PAPER_IWSLT14_LANGS)}); any the archive holds",
    )
    p.add_argument(
        "--archive",
        metavar="FILE",
        help="the IWSLT 2014 release (downloaded without it), or another archive in its layout, e.g. "
        '../shared/data/l10n-fr-sv/2014-01.tgz with --langs "fr sv": real fr/sv->en software messages, '
        "not the paper's data (docs/reproduction.md); the table then names that corpus and shows no paper number",
    )
    p.add_argument("--out", metavar="DIR", default="work/iwslt14", help="recipe folder (default: %(default)s)")
    p.add_argument(
        "--methods", metavar='"..."', default="baseline intra", help='methods to train (default: "%(default)s")'
    )
    p.add_argument(
        "--preset",
        metavar="{paper,small}",
        default="paper",
        help=f"train.sh's recipe ({presets}); small is the CPU preset (SentencePiece 4k unless --vocab-size): "
        "use it with --train-pairs 8000 and its own --out",
    )
    for flag in ("--train-pairs", "--subset-seed", "--vocab-size"):
        p.add_argument(flag, metavar="N", help="goes to prepare.sh")
    p.add_argument("--force", action="store_true", help="redo every step")
    p.add_argument("--dry-run", action="store_true", help="print the fairseq-train commands and stop")

    p = sub.add_parser(
        "ablate",
        help="scripts/iwslt14/ablate.sh: the K and alpha-mode ablation on one IWSLT'14 pair",
        prog=prog,
        usage='%(prog)s --lang de [--passes "1 2 3 4 5"] [--alpha-modes "fixed adaptive"]\n'
        "    [--preset {paper,small}] [--out DIR] [--force] [--dry-run]\n"
        "    [-- TRAIN OPTIONS...]",
        description=(
            "Trains one intra-distillation model per K in --passes and alpha mode in --alpha-modes\n"
            "(adaptive: the recipe's schedule, alpha reached at N/p; fixed: the recipe's alpha from the\n"
            "first update; train.sh --help states them) with the recipe of scripts/iwslt14/train.sh,\n"
            "evaluates each, and writes\n"
            "  OUT/ablation/<lang>-en/<run>/            checkpoints, train.log (fairseq's JSON log, what the\n"
            "                                           analysis tools plot), bleu-test.json\n"
            "  OUT/ablation/<lang>-en/table.txt, .json  BLEU, training time and tokens/s per run\n"
            'Runs are named K<k>-<mode>; K=1 is a single run "K1" (one pass has no divergence, so alpha\n'
            "does not matter).  The pair must be prepared (scripts/iwslt14/prepare.sh).  Finished runs\n"
            "are skipped; --force redoes them.  Options after -- go to every training, as to train.sh.\n"
            "--dry-run prints each run's fairseq-train command (train.sh --dry-run), one line per run, and\n"
            "runs nothing: it works before the data is prepared."
        ),
        **kw,
    )
    p.set_defaults(leaf=p)
    p.add_argument("--lang", metavar="xx", help="two-letter source language (required)")
    p.add_argument("--passes", metavar='"K ..."', default="1 2 3 4 5", help='default: "%(default)s"')
    p.add_argument("--alpha-modes", metavar='"MODE ..."', default=" ".join(ALPHA_MODES), help='default: "%(default)s"')
    p.add_argument(
        "--preset",
        metavar="{paper,small}",
        default="paper",
        help=f"train.sh's recipe ({presets}; default: %(default)s); small is the CPU preset",
    )
    p.add_argument("--out", metavar="DIR", default="work/iwslt14", help="recipe folder (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="train and evaluate the runs again")
    p.add_argument("--dry-run", action="store_true", help="print the fairseq-train commands and stop")

    paper = recipes.RECIPES["iwslt14"]
    p = sub.add_parser(
        "self-distill",
        help="scripts/iwslt14/self_distill.sh: the case study, iterative self-distillation",
        prog=prog,
        usage="%(prog)s --data DIR --reference FILE --out DIR\n"
        "    [--generations 3] [--kd-alpha 1] [--kd-divergence kl]\n"
        "    [--subset test] [--sensitivity-subset valid] [--max-batches N]\n"
        "    [--beam 5] [--lowercase] [--dry-run] [-- FAIRSEQ-TRAIN OPTIONS...]",
        description=(
            "Trains model 1 with label-smoothed cross-entropy, then model g+1 with\n"
            "--criterion self_distillation and model g (its checkpoint_best.pt) as the frozen teacher,\n"
            "all with the same recipe; decodes SUBSET of every model and scores it against the raw\n"
            "REFERENCE (as scripts/common/evaluate.sh does), measures each model's parameter sensitivity on\n"
            "--sensitivity-subset (python -m fairseq_intradistill.analysis sensitivity), and writes the\n"
            "case-study table: BLEU and sensitivity std per generation.\n"
            "  OUT/model<g>/    each model, its console.log, BLEU and sensitivity\n"
            "  OUT/case_study/  the table (compare.md/.csv/.json) and overlaid histograms\n"
            "The recipe is the paper's IWSLT'14 one, the same as scripts/iwslt14/train.sh's\n"
            f"(fairseq_intradistill/recipes/__init__.py: {paper.arch}, {paper.effective_tokens} target tokens per\n"
            f"update whatever the number of GPUs, {paper.max_update:,} updates, ...); options after '--' go to\n"
            "fairseq-train after it, so they override it (e.g. a tiny model for a test); --arch, --max-update\n"
            "and --max-tokens there replace the recipe's.  Finished steps are skipped when the script runs again.\n"
            "--dry-run prints the fairseq-train command of every generation, one line each (model g+1's\n"
            "names OUT/model<g>/checkpoint_best.pt, which model g's training makes), and runs nothing:\n"
            "it works before the data exists."
        ),
        **kw,
    )
    p.set_defaults(leaf=p)
    p.add_argument(
        "--data",
        metavar="DIR",
        help="binarised data (fairseq-preprocess output, e.g. from scripts/iwslt14/prepare.sh; required)",
    )
    p.add_argument("--reference", metavar="FILE", help="raw references of SUBSET, one per line (required)")
    p.add_argument("--out", metavar="DIR", help="OUT/model<g>/ holds each model, OUT/case_study/ the table (required)")
    p.add_argument("--generations", metavar="N", default="3", help="models in the chain (default: %(default)s)")
    p.add_argument(
        "--kd-alpha", metavar="A", default="1", help="weight of the divergence to the teacher (default: %(default)s)"
    )
    p.add_argument(
        "--kd-divergence",
        metavar="KIND",
        default="kl",
        help="kl (KL(teacher || student), the default) or x (the paper's X-divergence)",
    )
    p.add_argument("--subset", metavar="NAME", default="test", help="decoded and scored (default: %(default)s)")
    p.add_argument(
        "--sensitivity-subset",
        metavar="NAME",
        default="valid",
        help="the sensitivity's subset (default: %(default)s)",
    )
    p.add_argument("--max-batches", metavar="N", help="batches for the sensitivity (default: the whole subset)")
    p.add_argument("--beam", metavar="N", default="5", help="decoding beam (default: %(default)s)")
    p.add_argument("--lowercase", action="store_true", help="case-insensitive BLEU (default: case-sensitive)")
    p.add_argument("--dry-run", action="store_true", help="print the fairseq-train commands and stop")


def run(args: argparse.Namespace, extra: List[str], tail: List[str]) -> int:
    """Runs pipeline ``args.command``; ``extra``: options it does not know (an error), ``tail``:
    the options after ``--``, for every training."""
    parser = args.leaf  # its usage and name in the error messages
    if extra:
        parser.error(f"unknown option '{extra[0]}' (see --help; {_TRAIN_OPTIONS_NOTE})")
    # The recipe's replacements and --dry-run are read after -- as train.sh reads them there.
    known, fairseq = launch.tail_parser("train").parse_known_args(tail)
    options = TrainOptions(launch.overrides_of(known), fairseq, list(tail))
    dry_run = args.dry_run or known.dry_run
    return launch.report_errors(lambda: COMMANDS[args.command](parser, args, options, dry_run))
