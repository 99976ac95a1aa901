"""The served model under concurrent requests: `mlflow models serve` calls predict from several
threads, and torch's recurrent modules are not thread-safe (concurrent beam searches of the
translate model failed in make bench with "zip() argument 2 is longer than argument 1")."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from rnnlab.pyfunc_model import RnnlabModel


class _Spec:
    """A task spec whose predict records how many calls run at once."""

    name = "fake"

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.guard = threading.Lock()

    def model_input(self, model_input):
        return list(model_input)

    def predict(self, net, vocabs, inputs, settings):
        with self.guard:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.02)  # long enough for the other threads to arrive
        with self.guard:
            self.inside -= 1
        return [f"{text}:{settings['beam_size']}" for text in inputs]


def test_concurrent_requests_compute_one_at_a_time_and_all_get_their_answer(monkeypatch):
    spec = _Spec()
    monkeypatch.setattr("rnnlab.pyfunc_model.load_model_dir",
                        lambda path, calibration=None: (spec, object(), {}))
    model = RnnlabModel()
    model.load_context(SimpleNamespace(artifacts={"model_dir": "x"},
                                       model_config={"predict_params": {"beam_size": 5}}))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: model.predict(None, [f"s{i}"], {"beam_size": i + 1}),
                                range(16)))
    assert answers == [[f"s{i}:{i + 1}"] for i in range(16)]
    assert spec.most == 1
