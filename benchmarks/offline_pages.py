"""Do the project's HTML pages draw offline? Each page is opened in headless Chromium with every
network request sent to a dead proxy (so a CDN script or stylesheet fails as it would offline),
then measured: the screenshot's bytes and its share of non-white pixels, and the text of the
rendered DOM (tables, <img> and <svg>/<canvas> elements drawn).

    python benchmarks/offline_pages.py PAGE.html [PAGE.html ...]     # JSON lines, one a page

Needs Debian's `chromium` (apt-get install chromium). tests/test_pages.py uses these functions.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WINDOW = (1280, 2400)  # pixels: tall enough for a few tables and figures
# every http(s) request goes to a port nothing listens on: the page is as offline
OFFLINE = ["--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
BUDGET_MS = 15000  # virtual time for scripts to run (vega draws after load)


def _chromium(page: Path, *args: str, profile: Path) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        raise FileNotFoundError("no chromium on PATH (Debian: apt-get install -y chromium)")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", "--disable-background-networking",
           f"--user-data-dir={profile}", f"--virtual-time-budget={BUDGET_MS}", *OFFLINE,
           *args, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def non_white_share(png: Path, threshold: int = 245) -> float:
    """Share of pixels with any channel below `threshold` (0..255)."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB"))
    return float((pixels < threshold).any(axis=2).mean())


def measure(page: Path, window: tuple[int, int] = WINDOW) -> dict[str, Any]:
    """Screenshot and DOM of `page` rendered offline."""
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "shot.png"
        _chromium(page, f"--window-size={window[0]},{window[1]}", f"--screenshot={shot}",
                  profile=Path(tmp) / "profile-shot")
        if not shot.is_file():
            raise RuntimeError(f"chromium wrote no screenshot of {page}")
        dom = _chromium(page, "--dump-dom", profile=Path(tmp) / "profile-dom").stdout
        share, size = non_white_share(shot), shot.stat().st_size
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(
        r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I))))
    return {"page": str(page), "screenshot_bytes": size, "non_white_share": round(share, 4),
            "tables": len(re.findall(r"<table\b", dom, re.I)),
            "images": len(re.findall(r"<img\b", dom, re.I)),
            "drawn_vega": len(re.findall(r"<(?:canvas|svg)\b[^>]*class=\"marks\"", dom, re.I)),
            "network_refs": sorted(set(re.findall(
                r"<(?:script|link|img)\b[^>]*(?:src|href)=\"(https?://[^\"]+)\"", dom, re.I))),
            "text": text.strip(), "dom_bytes": len(dom)}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    for page in argv:
        result = measure(Path(page))
        result["text"] = result["text"][:200]
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
