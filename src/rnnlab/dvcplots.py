"""`rnnlab plots [show|diff] [dvc args]`: `dvc plots` whose page draws offline.

DVC's default HTML template loads vega, vega-lite and vega-embed from a CDN, so offline its
vega plots are blank (its images still show). This runs `dvc plots <show|diff>
--html-template T` with a template T that carries the three libraries inline, bundled by
vl-convert-python (BSD-3-Clause; a pinned PyPI package, so nothing is vendored in the repo and
nothing is fetched at run time). T is written once per vl-convert version under .dvc/tmp/
(bundling takes ~10 s); every other argument goes to DVC unchanged (-o, --open, targets).
"""

from __future__ import annotations

import html
import subprocess
import sys
from pathlib import Path

TEMPLATE_DIR = Path(".dvc/tmp")
VEGA_LITE = "5.21"  # DVC's templates are vega-lite v5 specs


def template(folder: str | Path = TEMPLATE_DIR) -> Path:
    """An HTML template for `dvc plots show --html-template` with vega, vega-lite and
    vega-embed inline; written once per vl-convert version (bundling takes ~10 s)."""
    import vl_convert as vlc

    from rnnlab.io import atomic_path

    versions = (f"vega {vlc.get_vega_version()}, vega-lite {VEGA_LITE}, "
                f"vega-embed {vlc.get_vega_embed_version()}")
    path = Path(folder) / f"rnnlab-plots-vlc-{vlc.__version__}-vl{VEGA_LITE}.html"
    if path.is_file():
        return path
    bundle = vlc.javascript_bundle(vl_version=VEGA_LITE)
    if "</script" in bundle.lower():  # would end the inline script early
        raise RuntimeError("the vl-convert bundle contains </script>; cannot inline it")
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>DVC plots</title>\n'
        f"<!-- {html.escape(versions)}, bundled by vl-convert-python {vlc.__version__} "
        "(BSD-3-Clause): no CDN -->\n"
        f"<script>{bundle}</script>\n"
        "<style>table { border-spacing: 15px; } body { font-family: sans-serif; }</style>\n"
        "</head><body>\n{plot_divs}\n</body></html>\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(page)
    return path


def main(argv: list[str]) -> int:
    """`rnnlab plots [show|diff] [args]`: `dvc plots <show|diff> --html-template <offline>`."""
    command = argv[0] if argv[:1] and argv[0] in ("show", "diff") else "show"
    rest = argv[1:] if argv[:1] == [command] else argv
    template_path = template()
    cmd = [sys.executable, "-m", "dvc", "plots", command, "--html-template",
           str(template_path.resolve()), *rest]
    return subprocess.run(cmd).returncode
