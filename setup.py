from pathlib import Path

from setuptools import find_packages, setup

version = next(
    line.split('"')[1]
    for line in (Path(__file__).parent / "fairseq_intradistill" / "__init__.py").read_text().splitlines()
    if line.startswith("__version__")
)

setup(
    name="fairseq-intradistill",
    version=version,
    description="Intra-distillation (Xu, Koehn & Murray, EMNLP 2022) as a fairseq plugin",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    packages=find_packages(include=["fairseq_intradistill", "fairseq_intradistill.*"]),
    python_requires=">=3.9",
    install_requires=[
        # torch is not pinned: users bring the build that matches their CUDA.
        "torch>=2.0",
        # Official fairseq 0.12.2 cannot import on Python >= 3.11; ve-fairseq has
        # cp311/cp312 wheels for Linux x86_64, fairseq-fixed is the sdist elsewhere.
        've-fairseq==0.12.3; python_version >= "3.11" and python_version < "3.13" '
        'and sys_platform == "linux" and platform_machine == "x86_64"',
        'fairseq-fixed==0.12.3.1; python_version >= "3.11" and (python_version >= "3.13" '
        'or sys_platform != "linux" or platform_machine != "x86_64")',
        'fairseq==0.12.2; python_version < "3.11"',
        "sacrebleu>=2.0",
        "sentencepiece>=0.1.99",
        "sacremoses>=0.0.53",
        # progress bars of the data preparation and the analysis (fairseq requires it too)
        "tqdm>=4.61",
        "numpy",
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-xdist>=3.5", "filelock>=3.12", "ruff>=0.17,<0.18"],
        "analysis": ["matplotlib>=3.5"],
        # Transformers integration (fairseq_intradistill.hf); metrics use scipy/scikit-learn,
        # seqeval for NER: nothing that downloads code at run time.
        "hf": [
            # IntraDistillationMixin mirrors how Trainer scales the task loss (loss_is_scaled_for_ga,
            # model_accepts_loss_kwargs, the processes' factor): pinned to the releases it was tested
            # with; tests/test_hf_trainer.py::test_trainer_internals_the_mixin_mirrors fails when
            # those internals change, so widen the range only with that test passing.
            "transformers>=5.24,<5.26",
            "datasets>=3.0",
            "accelerate>=1.1",
            "seqeval>=1.2",
            "scipy>=1.9",
            "scikit-learn>=1.1",
        ],
    },
    entry_points={},
)
