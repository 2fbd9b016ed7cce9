#!/usr/bin/env bash
# Render the labelling widget in a real browser and save docs/_static/labelling_widget.png.
#
# Starts Voila (a Jupyter server that runs a notebook and shows its outputs and live widgets)
# headless on localhost, opens examples/notebooks/teaching_digits.ipynb in headless Chromium
# (the Debian package `chromium`) through Playwright, waits until the manual-mode widget is
# drawn, and screenshots it. Needs: apt-get install -y chromium; pip install voila playwright.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8866}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
OUT="docs/_static/labelling_widget.png"
mkdir -p docs/_static

voila examples/notebooks/teaching_digits.ipynb --no-browser --port="$PORT" --Voila.ip=127.0.0.1 \
    --show_tracebacks=True > /tmp/voila.log 2>&1 &
VOILA_PID=$!
trap 'kill $VOILA_PID 2>/dev/null || true' EXIT

python - "$PORT" "$CHROMIUM" "$OUT" <<'PY'
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright

port, chromium, out = sys.argv[1], sys.argv[2], sys.argv[3]
url = f"http://127.0.0.1:{port}/"
for _ in range(120):  # wait for the server
    try:
        urllib.request.urlopen(url, timeout=2)
        break
    except OSError:
        time.sleep(1)
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(url, timeout=600_000)
    # the manual-mode widget: the outermost widget box holding a "skip" button
    page.wait_for_selector("button:has-text('skip')", timeout=600_000)
    page.wait_for_timeout(1500)  # let the images load
    widget = page.locator(".widget-vbox").filter(has=page.locator("button:has-text('skip')")).first
    widget.screenshot(path=out)
    print(f"saved {out}")
    browser.close()
PY
