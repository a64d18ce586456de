#!/usr/bin/env bash
# Synthetic drone views of every locality in SHARED_DATA for the matcher's leave-one-place-out
# evaluation (docs/matcher.md): footprint objects where OSM footprints exist, random regions
# everywhere; headings over the full circle, pitch 0-45 deg; 256-px satellite tiles at 0.25 m
# (Catanduanes is 74 m wide: no 128 m tile fits) and 256-px views. Each place is held out
# whole (--whole-place: all samples in its test split).
# Usage: examples/build_matcher_eval_data.sh SHARED_DATA OUT   (about 5 min on 2 cores)
set -euo pipefail
data=${1:?SHARED_DATA folder}
out=${2:?output folder}
bin=${OCGNET_GEO:-.venv/bin/ocgnet-geo}
common=(--tile-size 256 --tile-gsd 0.25 --query-size 256 --pitch 0,45 --yaw 0,360 --whole-place --json)

synth() { # name drone satellite objects(-) max_objects seed [extra...]
  local name=$1 drone=$2 sat=$3 objects=$4 max=$5 seed=$6
  shift 6
  if [ -f "$out/$name/CVOGL_DroneAerial/CVOGL_DroneAerial_test.pth" ]; then
    echo "$name: exists"
    return
  fi
  local obj=()
  [ "$objects" != - ] && obj=(--objects "$data/$objects")
  echo "$name: $("$bin" synth --drone "$data/$drone" --satellite "$data/$sat" "${obj[@]}" \
    --out "$out/$name" --max-objects "$max" --seed "$seed" "${common[@]}" "$@")"
}

# locality/part-kind   drone raster                                  satellite raster                               objects                                         max seed
synth ggaba/buildings         ggaba_uganda_oam_z21_0.075m_epsg3857_jpeg.tif ggaba_uganda_oam_z19_0.30m_epsg3857.tif ggaba_uganda_osm_buildings_epsg4326.geojson      120 1
synth ggaba/regions           ggaba_uganda_oam_z21_0.075m_epsg3857_jpeg.tif ggaba_uganda_oam_z19_0.30m_epsg3857.tif -                                                 40 2 --regions-per-ha 12
synth banepa/town-buildings   banepa_nepal_oam_0.13m_epsg4326.tif          banepa_nepal_oam_0.13m_epsg4326.tif     banepa_nepal_osm_buildings_epsg4326.geojson      80 3
synth banepa/south-buildings  banepa_south_nepal_oam_z20_0.13m_epsg3857.tif banepa_south_nepal_oam_z20_0.13m_epsg3857.tif banepa_south_east_osm_buildings_epsg4326.geojson 40 4
synth banepa/east-buildings   banepa_east_nepal_oam_z20_0.13m_epsg3857.tif banepa_east_nepal_oam_z20_0.13m_epsg3857.tif banepa_south_east_osm_buildings_epsg4326.geojson 40 5
synth banepa/town-regions     banepa_nepal_oam_0.13m_epsg4326.tif          banepa_nepal_oam_0.13m_epsg4326.tif     -                                                 40 6 --regions-per-ha 2
synth zanzibar/a-buildings    zanzibar_a_tanzania_oam_z20_0.15m_epsg3857.tif zanzibar_a_tanzania_oam_z20_0.15m_epsg3857.tif zanzibar_osm_buildings_epsg4326.geojson 70 7
synth zanzibar/b-buildings    zanzibar_b_tanzania_oam_z20_0.15m_epsg3857.tif zanzibar_b_tanzania_oam_z20_0.15m_epsg3857.tif zanzibar_osm_buildings_epsg4326.geojson 50 8
synth zanzibar/a-regions      zanzibar_a_tanzania_oam_z20_0.15m_epsg3857.tif zanzibar_a_tanzania_oam_z20_0.15m_epsg3857.tif - 40 9 --regions-per-ha 3
synth catanduanes/a-buildings catanduanes_a_philippines_oam_z20_0.15m_epsg3857.tif catanduanes_a_philippines_oam_z20_0.15m_epsg3857.tif catanduanes_osm_buildings_epsg4326.geojson 70 10
synth catanduanes/b-buildings catanduanes_b_philippines_oam_z20_0.15m_epsg3857.tif catanduanes_b_philippines_oam_z20_0.15m_epsg3857.tif catanduanes_osm_buildings_epsg4326.geojson 70 11
synth catanduanes/a-regions   catanduanes_a_philippines_oam_z20_0.15m_epsg3857.tif catanduanes_a_philippines_oam_z20_0.15m_epsg3857.tif - 30 12 --regions-per-ha 30
synth zurich/regions          zurich_swissimage_0.5m_epsg2056.tif          zurich_swissimage_0.5m_epsg2056.tif     -                                                 80 13 --regions-per-ha 8 --region-size 10,35
synth zurich-lake/regions     zurich_lake_swissimage_0.5m_epsg2056.tif     zurich_lake_swissimage_0.5m_epsg2056.tif -                                                60 14 --regions-per-ha 8 --region-size 10,35
synth lasvegas/regions        lasvegas_spacenet2_0.3m_epsg4326_uint16.tif  lasvegas_spacenet2_0.3m_epsg4326_uint16.tif -                                              80 15 --regions-per-ha 30
# Colorado (57 x 35 m) is smaller than one 64 m tile: not used.
