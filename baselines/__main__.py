"""Command line: ``python -m baselines train ...`` and ``python -m baselines predict ...``.

Multi-GPU: ``torchrun --nproc_per_node N -m baselines train ...`` (DDP; rank 0 logs and saves).
"""

from __future__ import annotations

import argparse
import sys

from lssbench.domain import SPLITS
from lssbench.problems import LssbenchError, UsageError

from baselines.config import CONFIGS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m baselines", description="lssbench reference baseline")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train the detector/grader and the segmenter")
    train.add_argument("--data", required=True, help="dataset folder (real or synthetic layout)")
    train.add_argument("--out", required=True, help="run folder (model.pt, history.json)")
    train.add_argument("--config", default="default", choices=tuple(CONFIGS))
    train.add_argument("--epochs", type=int, help="override the config's epoch count")
    train.add_argument("--fold", type=int, choices=range(5), help="validate on CV fold K of train (default: val split)")
    train.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    train.add_argument("--compile", action="store_true", help="torch.compile the models")
    train.add_argument("--workers", type=int, help="DataLoader workers (override)")
    train.add_argument("--batch-size", type=int, help="detection batch size (override)")
    train.add_argument("--seed", type=int, help="random seed (override)")
    train.add_argument("--split-def", help="lssbench split definition, name or JSON path (default: lssbench-v1)")

    bench = commands.add_parser("bench", help="train, predict the test split, score it and write a run record")
    bench.add_argument("--data", required=True, help="dataset folder")
    bench.add_argument("--work", required=True, help="folder for run/, preds/, gt/ and results.json")
    bench.add_argument("--config", default="default", choices=tuple(CONFIGS))
    bench.add_argument("--epochs", type=int, help="override the config's epoch count")
    bench.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    bench.add_argument("--compile", action="store_true", help="torch.compile the models")
    bench.add_argument("--workers", type=int, help="DataLoader workers (override)")
    bench.add_argument("--record-dir", default=None, help="where the record goes (default: baselines/results)")

    records = commands.add_parser("records", help="rewrite the records table of baselines/RESULTS.md")
    records.add_argument("--check", action="store_true", help="only say whether RESULTS.md agrees (exit 1 if not)")

    predict = commands.add_parser("predict", help="write a submission for one split")
    predict.add_argument("--data", required=True, help="dataset folder")
    predict.add_argument("--split", default="test", choices=SPLITS)
    predict.add_argument("--run", required=True, help="run folder of `train`")
    predict.add_argument("--out", required=True, help="submission folder (or .zip)")
    predict.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    predict.add_argument("--split-def", help="split definition (default: the one the run was trained with)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a missing file or a lssbench error (bad dataset, unknown split
    definition) is one ``error:`` line and exit 2 or 1, not a traceback."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (UsageError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except LssbenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "train":
        from baselines.config import get_config
        from baselines.train import train

        config = get_config(args.config, epochs=args.epochs, num_workers=args.workers,
                            batch_size=args.batch_size, seed=args.seed)
        train(args.data, args.out, config, fold=args.fold, device=args.device, compile_model=args.compile,
              definition=args.split_def)
    elif args.command == "bench":
        from baselines.config import get_config
        from baselines.record import RESULTS_DIR, bench

        config = get_config(args.config, epochs=args.epochs, num_workers=args.workers)
        bench(args.data, args.work, config, device=args.device, compile_model=args.compile,
              record_dir=args.record_dir or RESULTS_DIR)
    elif args.command == "records":
        from baselines.record import RESULTS_MD, load_records, render_results_md, update_results_md

        if args.check:
            text = RESULTS_MD.read_text("utf-8")
            if render_results_md(text, load_records()) != text:
                print(f"{RESULTS_MD}: the records table disagrees with baselines/results/; "
                      "run python -m baselines records", file=sys.stderr)
                return 1
            print(f"{RESULTS_MD}: agrees with the records")
        else:
            print(f"rewrote the records table of {update_results_md()}")
    else:
        from baselines.predict import predict

        predict(args.data, args.split, args.run, args.out, device=args.device, definition=args.split_def)
    return 0


if __name__ == "__main__":
    sys.exit(main())
