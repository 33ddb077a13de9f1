"""One update of IntraDistillationTrainer on a toy classifier, for test_hf_authors (run by torchrun or alone).

The toy model adds a fixed offset per copy to its logits instead of dropout, so the K passes
differ by the same amounts in every process layout and the divergence is deterministic: one
process with 8 examples and two processes with 4 different examples each must then give the
same loss and the same weights after one SGD step.
"""

import argparse
import json
import os
import sys

from fairseq_intradistill.hf._torchaudio import hide_broken_torchaudio

hide_broken_torchaudio()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from datasets import Dataset  # noqa: E402
from torch import nn  # noqa: E402
from transformers import TrainingArguments, default_data_collator  # noqa: E402

from fairseq_intradistill.hf import IntraDistillationArguments, IntraDistillationTrainer  # noqa: E402

K = 3
OFFSETS = torch.tensor([[0.0, 0.0, 0.0], [0.7, -0.4, 0.2], [-0.3, 0.5, -0.6]])


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(4, 3)

    def forward(self, features, labels=None):
        logits = self.linear(features)
        if self.training:  # the batch is repeated K times (copy-major): copy k gets OFFSETS[k]
            logits = logits + OFFSETS.repeat_interleave(logits.size(0) // K, dim=0)
        loss = None if labels is None else F.cross_entropy(logits, labels)
        return {"loss": loss, "logits": logits}


def one_update(reduction: str, output_dir: str, world: int) -> dict:
    """One SGD step with ``divergence_reduction=reduction``: the logged loss and divergence, the weights."""
    g = torch.Generator().manual_seed(1)
    data = Dataset.from_dict(
        {"features": torch.randn(8, 4, generator=g).tolist(), "labels": torch.randint(3, (8,), generator=g).tolist()}
    )
    model = Toy()
    trainer = IntraDistillationTrainer(
        model=model,
        args=TrainingArguments(
            output_dir=output_dir,
            per_device_train_batch_size=8 // world,
            max_steps=1,
            logging_steps=1,
            max_grad_norm=0.0,
            report_to=[],
            use_cpu=True,
            save_strategy="no",
            seed=1,
            disable_tqdm=True,
        ),
        train_dataset=data,
        data_collator=default_data_collator,
        optimizers=(torch.optim.SGD(model.parameters(), lr=1.0), None),
        intra_distillation=IntraDistillationArguments(num_passes=K, alpha=2.0, divergence_reduction=reduction),
    )
    trainer.train()
    (logged,) = [e for e in trainer.state.log_history if "loss" in e]
    return {
        "loss": logged["loss"],
        "divergence": logged["intra_distillation_loss"],
        "weights": {name: value.tolist() for name, value in trainer.model.state_dict().items()},
        "processes": trainer.args.world_size,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    # Several reductions in one launch: a Python process with Transformers and a torchrun each cost seconds.
    parser.add_argument("--reductions", required=True, nargs="+", choices=["mean", "sum"])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    results = {r: one_update(r, os.path.dirname(args.out), world) for r in args.reductions}
    if int(os.environ.get("RANK", "0")) == 0:  # torchrun's; the one process alone has none
        with open(args.out, "w") as f:
            json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1:])
