#!/usr/bin/env bash
# Screenshot of desktop QGIS (under Xvfb) with the OCGNet Locate panel, the photo with its
# click and a real result layer over the raster. Needs: apt-get install xvfb xauth imagemagick.
# Usage: docs/screenshots/qgis_screenshot.sh [OUT.png]
# By default it locates the bundled demo (ocgnet_geo/assets/demo: query.jpg, the click in
# demo.json, the Zürich SWISSIMAGE crop) with the bundled matcher. Other inputs by
# environment: SHOT_RASTER, SHOT_PHOTO, SHOT_CLICK=x,y, SHOT_WEIGHTS (a file; empty: the
# bundled matcher), SHOT_HEADING (e.g. 20±30), SHOT_TABLE=1 (open the attribute table). OCGNET_PYTHON: the worker's interpreter
# (default: the repository's .venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; repo="$(cd "$here/../.." && pwd)"
out="$(realpath -m "${1:-$here/qgis_plugin_locate.png}")"
work="$(mktemp -d)"; display=":${SHOT_DISPLAY:-99}"
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >"$work/xvfb.log" 2>&1 & xvfb=$!
trap 'kill $qgis $xvfb 2>/dev/null || true' EXIT
sleep 2
# GDAL_PAM_ENABLED=NO: no .aux.xml statistics written beside the (bundled) raster
DISPLAY="$display" QGIS_PLUGINPATH="$repo/qgis_plugin" GDAL_PAM_ENABLED=NO \
  OCGNET_PYTHON="${OCGNET_PYTHON:-$repo/.venv/bin/python}" OCGNET_WEIGHTS="${SHOT_WEIGHTS:-}" \
  SHOT_DEMO="$repo/ocgnet_geo/assets/demo" SHOT_DONE="$work/done" \
  qgis.bin --profiles-path "$work/profiles" --nologo --noversioncheck \
  --code "$here/qgis_screenshot_startup.py" >"$work/qgis.log" 2>&1 & qgis=$!
for _ in $(seq 1 90); do [ -s "$work/done" ] && break; sleep 2; done
cat "$work/done" 2>/dev/null || { echo "QGIS did not finish; log: $work/qgis.log" >&2; exit 1; }
sleep 4
DISPLAY="$display" import -window root "$out"
echo "wrote $out"
