#!/usr/bin/env bash
# The analyst's path in desktop QGIS under Xvfb, from a fresh profile: Install from ZIP
# (dist/ocgnet_locate.zip), the message bar's "Install engine…", Install engine in Settings,
# Test, then the bundled demo (photo + raster taken from the new engine), click, Locate.
# Writes OUT-install.png (the settings dialog after the install) and OUT-locate.png (the
# result). Needs: apt-get install xvfb imagemagick; `make plugin` first. The engine is
# installed with this machine's pip configuration (a minute or two: the torch wheel).
# Usage: docs/screenshots/qgis_engine_screenshot.sh [OUT]   (default docs/screenshots/qgis_engine)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; repo="$(cd "$here/../.." && pwd)"
out="$(realpath -m "${1:-$here/qgis_engine}")"
zip="$(realpath "${SHOT_ZIP:-$repo/dist/ocgnet_locate.zip}")"
work="$(mktemp -d)"; display=":${SHOT_DISPLAY:-98}"
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >"$work/xvfb.log" 2>&1 & xvfb=$!
trap 'kill $qgis $xvfb 2>/dev/null || true' EXIT
sleep 2
# a fresh profile, no plugin path and no worker interpreter: only what the ZIP brings
env -u OCGNET_PYTHON -u OCGNET_WEIGHTS -u QGIS_PLUGINPATH -u PYTHONPATH \
  DISPLAY="$display" GDAL_PAM_ENABLED=NO SHOT_ZIP="$zip" SHOT_OUT="$out" SHOT_DONE="$work/done" \
  qgis.bin --profiles-path "$work/profiles" --nologo --noversioncheck \
  --code "$here/qgis_engine_startup.py" >"$work/qgis.log" 2>&1 & qgis=$!
for _ in $(seq 1 600); do [ -s "$work/done" ] && break; sleep 2; done
cat "$work/done.log" 2>/dev/null || true
cat "$work/done" 2>/dev/null || { echo "QGIS did not finish; log: $work/qgis.log" >&2; exit 1; }
echo "profile: $work/profiles"
