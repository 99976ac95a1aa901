"""Forecasting a real time series: the lecture lab's "RNN for forecasting", where order is the
point and the sequence is longitudinal data (many-to-one: a window of L past values -> the next
H values).

Data (series.py, data.py): the Mauna Loa CO2 series that ships inside statsmodels (weekly,
resampled to 526 monthly means, 1958-03 .. 2001-12, gaps interpolated), yearly sunspots
(statsmodels, 1700 .. 2008), or any CSV with a date and a value column (`data.freq` set or
inferred). The last `data.horizon_test` periods are the test block, never seen in training nor
in early stopping; the `data.horizon_dev` periods before them are dev; the rest is train.

Stages keep their names: `vocab` fits the scaling and differencing on the training part only
(a `Scaler`, saved as JSON) and `encode` cuts windows (windows.py; train: every window inside
train; dev: one forecast of the dev block from the training history; test: one forecast of the
test block from the history before it, which reads the end of dev).

Model (model.py): the chosen cell reads x<1..L> (first differences, scaled, by default) with the
month of year as an exogenous calendar input (one-hot or embedded, `encoding`), and its final
state gives all H future values at once (direct multi-output, `Forecaster`). Direct rather than
recursive: every step of the horizon gets its own output, so errors are not fed back and
compounded over 36 steps, and the loss (`train.loss: level`) is the error of the implied levels
over exactly the horizon the metric scores. When `vocab.horizon` is shorter than the block to
forecast, the direct block is iterated (recursive over blocks).

Scores (metrics.py, evaluate.py): MASE (MAE scaled by the in-sample MAE of the seasonal-naive
forecast, lag `data.season_length`, over the history the forecast is made from) and sMAPE on the
test block, next to seasonal naive, drift, ETS (additive trend and season) and, optionally,
SARIMA fitted on the same history (baselines.py).

Backtest and intervals (backtest.py, fit.py): K rolling origins before the test block
(`data.backtest`), each with a fresh scaler, RNN and baselines fitted on the history before it
(the RNNs by the train stage, which records their forecasts; evaluate scores the record);
mean and spread of every model's MASE and sMAPE (`backtest/mase` is the primary metric), and
split-conformal intervals from the RNN's backtest errors, scored on test next to ETS's.
`train.stop_on`: the served model early-stops on the dev block (`dev`), or trains on train +
dev for the epoch count at the minimum of the origins' mean MASE curve (`backtest`).

Settings study (dev and backtest only): `python -m rnnlab.tasks.forecast.study --seeds 1 2 3`.
"""
