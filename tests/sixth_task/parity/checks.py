"""What the bit strings must satisfy."""

from __future__ import annotations


def checks(cfg, frames):
    import great_expectations.expectations as gxe
    import pandas as pd

    from rnnlab.validation import Check

    rows = pd.concat([f.assign(split=s) for s, f in frames.items()], ignore_index=True)
    rows["n_bits"] = rows["bits"].str.len()
    return [Check("strings", rows, [
        gxe.ExpectColumnValuesToMatchRegex(column="bits", regex=r"^[01]+$"),
        gxe.ExpectColumnValuesToBeBetween(column="n_bits", min_value=1,
                                          max_value=cfg.validation.max_bits),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
    ], ["split", "id"], "bits")]
