#!/usr/bin/env bash
# Write the local monitoring report and take a screenshot of it in headless Chromium, to see
# what a browser shows (the report itself needs no browser).
#
#   scripts/screenshot-report.sh [screenshot.png]   (default: <local state>/report/monitoring.png)
#
# Needs the local twin (pip install -e ".[local,dev]"), a demo or job runs that filled the local
# tables, and chromium on PATH (Debian/Ubuntu: apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
  echo "error: no chromium on PATH (Debian/Ubuntu: apt-get install chromium)" >&2
  exit 2
fi
report="$(python -m {{ cookiecutter.package_name }}_local report | tee /dev/stderr | sed -n 's/^report: //p')"
out="${1:-${report%.html}.png}"
# --no-sandbox: Chromium refuses to run as root (containers) with its sandbox.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,4200 \
  --screenshot="$out" "file://$report" 2>/dev/null
echo "screenshot: $out"
