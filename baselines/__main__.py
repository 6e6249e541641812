"""Command line: ``python -m baselines train ...`` and ``python -m baselines predict ...``.

Multi-GPU: ``torchrun --nproc_per_node N -m baselines train ...`` (DDP; rank 0 logs and saves).
"""

from __future__ import annotations

import argparse
import sys

from lssbench.domain import SPLITS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m baselines", description="lssbench reference baseline")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train the detector/grader and the segmenter")
    train.add_argument("--data", required=True, help="dataset folder (real or synthetic layout)")
    train.add_argument("--out", required=True, help="run folder (model.pt, history.json)")
    train.add_argument("--config", default="default", choices=("tiny", "cpu", "default"))
    train.add_argument("--epochs", type=int, help="override the config's epoch count")
    train.add_argument("--fold", type=int, choices=range(5), help="validate on CV fold K of train (default: val split)")
    train.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    train.add_argument("--compile", action="store_true", help="torch.compile the models")
    train.add_argument("--workers", type=int, help="DataLoader workers (override)")
    train.add_argument("--batch-size", type=int, help="detection batch size (override)")
    train.add_argument("--seed", type=int, help="random seed (override)")
    train.add_argument("--split-def", help="lssbench split definition, name or JSON path (default: lssbench-v1)")

    predict = commands.add_parser("predict", help="write a submission for one split")
    predict.add_argument("--data", required=True, help="dataset folder")
    predict.add_argument("--split", default="test", choices=SPLITS)
    predict.add_argument("--run", required=True, help="run folder of `train`")
    predict.add_argument("--out", required=True, help="submission folder (or .zip)")
    predict.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    predict.add_argument("--split-def", help="split definition (default: the one the run was trained with)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "train":
        from baselines.config import get_config
        from baselines.train import train

        config = get_config(args.config, epochs=args.epochs, num_workers=args.workers,
                            batch_size=args.batch_size, seed=args.seed)
        train(args.data, args.out, config, fold=args.fold, device=args.device, compile_model=args.compile,
              definition=args.split_def)
    else:
        from baselines.predict import predict

        predict(args.data, args.split, args.run, args.out, device=args.device, definition=args.split_def)
    return 0


if __name__ == "__main__":
    sys.exit(main())
