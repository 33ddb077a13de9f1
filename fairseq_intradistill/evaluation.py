"""Score ``fairseq-generate`` output with sacreBLEU, in sentence order, with no silent gaps.

    python -m fairseq_intradistill.evaluation --generate-output GEN.txt --reference REF.txt --out bleu.json

fairseq prints hypotheses in batch order and can drop inputs it cannot take (e.g. longer
than the model's maximum positions); a missing sentence is an error that names it.

The JSON holds BLEU with sacreBLEU's signature, the length ratio (hypothesis length /
reference length, in sacreBLEU's tokens), the brevity penalty and both lengths, and the
reference scored against (absolute path and sha256), so that later tools
(``fairseq_intradistill.results``) can check that two systems were scored against the
same reference before comparing them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List

import sacrebleu

from fairseq_intradistill.data.archives import file_hash
from fairseq_intradistill.textio import read_lines


class MissingHypothesesError(ValueError):
    pass


def read_hypotheses(generate_output: Path, num_sentences: int) -> List[str]:
    """The detokenised hypotheses (``D-`` lines, else ``H-``), ordered by sentence id."""
    detok: Dict[int, str] = {}
    hypo: Dict[int, str] = {}
    with open(generate_output, encoding="utf-8") as f:
        for line in f:
            tag, _, rest = line.rstrip("\n").partition("\t")
            if tag[:2] in ("D-", "H-") and tag[2:].isdigit():
                fields = rest.split("\t", 1)  # score, text
                text = fields[1] if len(fields) == 2 else ""
                (detok if tag[0] == "D" else hypo).setdefault(int(tag[2:]), text)
    found = detok or hypo
    missing = [i for i in range(num_sentences) if i not in found]
    if missing:
        shown = ", ".join(str(i + 1) for i in missing[:20]) + (" ..." if len(missing) > 20 else "")
        raise MissingHypothesesError(
            f"{generate_output}: {len(missing)} of {num_sentences} sentences have no hypothesis "
            f"(reference lines {shown}); fairseq skips inputs longer than the model's maximum positions"
        )
    extra = [i for i in found if i >= num_sentences]
    if extra:
        raise ValueError(f"{generate_output}: sentence id {extra[0]} is beyond the {num_sentences} references")
    return [found[i] for i in range(num_sentences)]


def score(hypotheses: List[str], references: List[str], lowercase: bool = False) -> dict:
    """sacreBLEU's corpus BLEU, its signature, the length ratio and brevity penalty."""
    bleu = sacrebleu.BLEU(lowercase=lowercase)
    result = bleu.corpus_score(hypotheses, [references])
    return {
        "bleu": round(result.score, 2),
        "signature": str(bleu.get_signature()),
        "score_string": str(result),
        "num_sentences": len(hypotheses),
        "length_ratio": round(result.ratio, 4),
        "brevity_penalty": round(result.bp, 4),
        "sys_len": int(result.sys_len),
        "ref_len": int(result.ref_len),
    }


def reference_record(path: Path) -> dict:
    """Which reference a score is against: its absolute path and the sha256 of its bytes."""
    return {"reference": str(Path(path).resolve()), "reference_sha256": file_hash(path)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.evaluation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--generate-output", type=Path, required=True, help="stdout of fairseq-generate")
    parser.add_argument("--reference", type=Path, required=True, help="raw references, one per line")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--hypotheses", type=Path, help="also write the ordered hypotheses here")
    parser.add_argument("--lowercase", action="store_true", help="case-insensitive BLEU")
    args = parser.parse_args(argv)
    for flag, path in (("--generate-output", args.generate_output), ("--reference", args.reference)):
        if not path.is_file():
            parser.error(f"{flag} {path} does not exist")
    references = read_lines(args.reference)
    if not references:
        parser.error(f"--reference {args.reference} is empty")
    try:
        hypotheses = read_hypotheses(args.generate_output, len(references))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from e
    result = {**score(hypotheses, references, args.lowercase), **reference_record(args.reference)}
    if args.hypotheses:
        args.hypotheses.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{result['score_string']}\n{result['signature']}")


if __name__ == "__main__":
    main()
