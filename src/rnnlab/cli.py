"""`rnnlab <stage> <task>` runs one pipeline stage; `rnnlab dag` writes dvc.yaml from the task
registry; `rnnlab predict <task> INPUT...` asks the registered champion; `rnnlab register
<task>` registers models/<task> from the DVC outputs (after `dvc pull`). Parses arguments,
calls one function, nothing else; heavy imports wait until a command needs them."""

from __future__ import annotations

import argparse
import sys

from rnnlab.stages import STAGES, StageError  # light: no torch, no MLflow

PREDICT_HELP = """inputs: texts (entity, review, translate), genre names (music) or date,value
rows of one history (forecast); `-` reads one per line from stdin; --file reads text lines,
JSON Lines (.jsonl/.json: strings, {genre, count, seed} or {date, value} objects) or a CSV
(.csv: forecast's date,value columns; music's genre[,count][,seed]). Writes JSON Lines: one
line per input (forecast: per period)."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["dag"]:
        from rnnlab import dag

        return dag.main(argv[1:])
    if argv[:1] in (["report"], ["plots"]):  # the run report; `dvc plots` drawn offline
        from rnnlab import dvcplots, report

        return report.main(argv[1:]) if argv[0] == "report" else dvcplots.main(argv[1:])
    parser = argparse.ArgumentParser(prog="rnnlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for stage in STAGES:
        p = sub.add_parser(stage, help=f"run the {stage} stage for one task")
        p.add_argument("task")
        p.add_argument("--params", default="params.yaml")
    sub.add_parser("dag", help="write dvc.yaml from the task registry (--check: compare)")
    sub.add_parser("report", help="write reports/index.html, the run report (offline HTML)")
    sub.add_parser("plots", help="dvc plots show|diff with vega inlined (draws offline)")
    p = sub.add_parser("predict", help="predict with a registered model (default @champion)",
                       description=PREDICT_HELP)
    p.add_argument("task")
    p.add_argument("inputs", nargs="*", help="inputs, or - to read one per line from stdin")
    p.add_argument("--file", help="read the inputs from a file (text, .jsonl, .csv)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a pyfunc param (e.g. count=3), typed by the model's declared default")
    p.add_argument("--alias", default="champion")
    p.add_argument("--params", default="params.yaml")
    p = sub.add_parser("register", help="register models/<task> from the DVC outputs (after "
                                        "`dvc pull`), without retraining")
    p.add_argument("task")
    p.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    from rnnlab import config, tasks

    try:
        if args.task not in tasks.available():  # before anything opens the store
            tasks.get(args.task)  # the registry's own message
        if args.command == "predict":
            from rnnlab import predict

            if not args.inputs and args.file is None:
                parser.error("predict: give inputs, - (stdin) or --file")
            cfg = config.load(args.params)
            predict.run(args.task, args.inputs, args.file, args.param, args.alias,
                        cfg.mlflow.tracking_uri)
            return 0
        if args.command == "register":
            from rnnlab import register

            register.run(args.task, config.load(args.params))
            return 0
        from rnnlab.stages import run

        run(args.command, args.task, args.params)
    except (config.ConfigError, StageError, FileNotFoundError, LookupError, ValueError) as err:
        # BadInput, NoModel, StageError, ... : one line, no traceback
        print(f"rnnlab {args.command} {args.task}: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        from rnnlab.validation import ValidationFailed

        if isinstance(err, ValidationFailed):
            print(f"\n{err}\n\nNothing downstream runs and no model is registered.",
                  file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
