#!/usr/bin/env bash
# Screenshot of desktop QGIS (under Xvfb) with the OCGNet Locate panel, the photo with its
# click and the result layer over the raster. Needs: apt-get install xvfb xauth imagemagick.
# Usage: docs/screenshots/qgis_screenshot.sh RASTER PHOTO WEIGHTS [OUT.png]
# (the committed picture used the Zürich SWISSIMAGE crop, an oblique aerial photo and a
# random-weight light model: boxes are correctly georeferenced but meaningless).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; repo="$(cd "$here/../.." && pwd)"
raster="$(realpath "$1")"; photo="$(realpath "$2")"; weights="$(realpath "$3")"
out="${4:-$here/qgis_plugin_locate.png}"
work="$(mktemp -d)"; display=":${SHOT_DISPLAY:-99}"
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >"$work/xvfb.log" 2>&1 & xvfb=$!
trap 'kill $qgis $xvfb 2>/dev/null || true' EXIT
sleep 2
DISPLAY="$display" QGIS_PLUGINPATH="$repo/qgis_plugin" OCGNET_PYTHON="${OCGNET_PYTHON:-$repo/.venv/bin/python}" \
  OCGNET_WEIGHTS="$weights" SHOT_RASTER="$raster" SHOT_PHOTO="$photo" SHOT_DONE="$work/done" \
  qgis.bin --profiles-path "$work/profiles" --nologo --noversioncheck \
  --code "$here/qgis_screenshot_startup.py" >"$work/qgis.log" 2>&1 & qgis=$!
for _ in $(seq 1 90); do [ -s "$work/done" ] && break; sleep 2; done
cat "$work/done"; sleep 4
DISPLAY="$display" import -window root "$out"
echo "wrote $out"
