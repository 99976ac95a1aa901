"""forecast's TaskSpec: the stages and serving see the task only through SPEC."""

from __future__ import annotations

from rnnlab.tasks import STAGE_PARAMS, TaskSpec, deferred
from rnnlab.tasks.forecast.checks import checks
from rnnlab.tasks.forecast.data import prepare, raw_inputs

evaluate, fit, model, serve, windows = deferred("rnnlab.tasks.forecast", "evaluate", "fit",
                                                "model", "serve", "windows")

EVALUATION = "plots/forecast/evaluation"
COLUMNS = ["actual", "rnn", "seasonal_naive", "drift", "ets", "sarima"]

SPEC = TaskSpec(
    name="forecast",
    prepare=prepare,
    raw_inputs=raw_inputs,
    checks=checks,
    build_vocabs=windows.build_vocabs,
    load_vocab=windows.load_vocab,
    vocab_metrics=windows.vocab_metrics,
    encode=windows.encode,
    net_config=model.net_config,
    build_net=model.build_net,
    objective=model.objective,
    loaders=windows.loaders,
    evaluate=evaluate.evaluate,
    model_input=serve.model_input,
    predict=serve.predict,
    predict_params=serve.predict_params,
    input_example=serve.input_example,
    primary_mode="min",  # the champion is the lowest dev MASE
    plots=(  # its own training curves (with the dev MASE), so rnnlab.dag adds none
        {"forecast: training": {
            "template": "linear", "x": "epoch",
            "y": {"plots/forecast/training.csv": ["train/loss", "dev/loss", "dev/mase",
                                                  "backtest/mase"]},
            "title": "forecast: loss per epoch (train and dev), dev MASE or the backtest's "
                     "mean MASE (train.stop_on)"}},
        {f"{EVALUATION}/forecast.csv": {
            "template": "linear", "x": "date", "y": COLUMNS,
            "title": "forecast: test block, forecast vs actual (from the history before it)"}},
        {f"{EVALUATION}/dev_forecast.csv": {
            "template": "linear", "x": "date", "y": COLUMNS,
            "title": "forecast: dev block, forecast vs actual"}},
        {f"{EVALUATION}/backtest.csv": {
            "template": "linear", "x": "date", "y": COLUMNS,
            "title": "forecast: backtest blocks, each from the history before its origin"}},
        f"{EVALUATION}/forecast.png",
        f"{EVALUATION}/backtest.png",
    ),
    requirements=("statsmodels",),
    # train runs the backtest fits (fit.py) before or after the served model's: it reads the
    # prepared series and the backtest settings, and writes models/forecast-fit/fit.json
    fit=fit.fit,
    # the checks count the training windows, so validate reads the window settings too;
    # evaluate reads data (season_length for MASE and the baselines, source, horizon_test,
    # the backtest's origins and interval) and vocab (decode's cap on steps is 4 x H)
    # prepare derives the auto settings (data.settings) from data, vocab and validation
    reads={"prepare": ("seed", "data", "vocab", "validation"),
           "validate": ("data", "validation", "vocab"),
           # the backtest fits a scaler, windows and an RNN per origin
           "train": (*STAGE_PARAMS["train"], "data", "vocab"),
           "evaluate": (*STAGE_PARAMS["evaluate"], "data", "vocab")},
)
