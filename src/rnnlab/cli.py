"""`rnnlab <stage> <task>` runs one pipeline stage; `rnnlab dag` writes dvc.yaml from the task
registry; `rnnlab predict <task> TEXT...` asks the registered champion. Parses arguments, calls
one function, nothing else."""

from __future__ import annotations

import argparse
import json
import sys

from rnnlab.stages import STAGES


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
    p = sub.add_parser("predict", help="predict with a registered model (default @champion)")
    p.add_argument("task")
    p.add_argument("inputs", nargs="+", help="inputs, or - to read one per line from stdin")
    p.add_argument("--alias", default="champion")
    p.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    from rnnlab.config import ConfigError
    from rnnlab.stages import StageError
    from rnnlab.validation import ValidationFailed

    try:
        if args.command == "predict":
            inputs = sys.stdin.read().splitlines() if args.inputs == ["-"] else args.inputs
            return _predict(args.task, inputs, args.alias, args.params)
        from rnnlab.stages import run

        run(args.command, args.task, args.params)
    except ValidationFailed as err:
        print(f"\n{err}\n\nNothing downstream runs and no model is registered.", file=sys.stderr)
        return 1
    except (ConfigError, StageError, FileNotFoundError, ValueError) as err:
        print(f"rnnlab {args.command} {args.task}: {err}", file=sys.stderr)
        return 2
    return 0


def _predict(task: str, inputs: list[str], alias: str, params: str) -> int:
    import mlflow

    from rnnlab import config, tasks, tracking

    tasks.get(task)  # an unknown task fails here, before any MLflow experiment is made
    tracking.setup(config.load(params).mlflow, task)
    uri = f"models:/{tracking.model_name(task)}@{alias}"
    try:
        model = mlflow.pyfunc.load_model(uri)
    except mlflow.exceptions.MlflowException as err:
        raise FileNotFoundError(f"no model at {uri} ({err.message}); run `dvc repro` first") \
            from None
    for result in model.predict(inputs):
        print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
