"""The registration stage's answer in the plugin, from hand-made worker results (no worker
needed for the answer): the photo footprint layer, the weak candidates' style, the message
bar by status, the Processing FOOTPRINT output, and answers of older engines."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest
from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsExpressionContextUtils,
    QgsFeature,
    QgsGeometry,
    QgsProject,
    QgsRenderContext,
    QgsRuleBasedRenderer,
    QgsSingleSymbolRenderer,
    QgsVectorLayer,
)

UTM = "EPSG:32632"
# inside ortho_utm.tif of the scene fixture: x 500000-500160, y 5199880-5200000
QUAD = [(500050, 5199950), (500070, 5199960), (500060, 5199980), (500040, 5199970)]
BOX = [(500100, 5199900), (500120, 5199900), (500120, 5199920), (500100, 5199920)]
FOOTPRINT = [(500020, 5199930), (500090, 5199940), (500080, 5199995), (500010, 5199985)]


def polygon(points: list[tuple[float, float]]) -> dict:
    return {"type": "Polygon", "coordinates": [[*map(list, points), list(points[0])]]}


def candidate(rank: int, score: float, points, registered: bool = False, **extra) -> dict:
    properties = {
        "rank": rank,
        "score": score,
        "view": "drone",
        "model": "matcher",
        "query": "photo.jpg",
        "click_x": 120.0,
        "click_y": 80.0,
        "raster": "ortho_utm.tif",
        "gsd_m": 0.5,
        "tile": "r0c0",
        "px_xmin": 10.0,
        "px_ymin": 20.0,
        "px_xmax": 50.0,
        "px_ymax": 60.0,
        "refined": registered,
        "inliers": 143 if registered else 0,
        "registered": registered,
        "method": "sift" if registered else "template",
        "reprojection_px": 1.25 if registered else None,
        **extra,
    }
    return {"type": "Feature", "geometry": polygon(points), "properties": properties}


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


#: a registered answer: an oriented quadrilateral at rank 1, a weak box at rank 2, the
#: photo's footprint (the EPSG:4326 members are not read by the plugin and left out here)
REGISTERED = {
    "crs": "",
    "crs_authid": UTM,
    "status": "registered",
    "confident": True,
    "tiles_searched": 4,
    "seconds": 1.5,
    "candidates_raster_crs": collection(
        candidate(1, 0.9, QUAD, registered=True), candidate(2, 0.3, BOX)
    ),
    "photo_footprint_raster_crs": collection(
        {
            "type": "Feature",
            "geometry": polygon(FOOTPRINT),
            "properties": {
                "query": "photo.jpg",
                "method": "sift",
                "inliers": 143,
                "reprojection_px": 1.25,
            },
        }
    ),
    "photo_footprint_epsg4326": None,
}

#: nothing registered, weak evidence
NO_MATCH = {
    **REGISTERED,
    "status": "no_confident_match",
    "confident": False,
    "candidates_raster_crs": collection(candidate(1, 0.3, QUAD), candidate(2, 0.1, BOX)),
    "photo_footprint_raster_crs": None,
    "photo_footprint_epsg4326": None,
}

#: confident score, no registration: an empty footprint collection
UNVERIFIED = {
    **NO_MATCH,
    "status": "unverified",
    "confident": True,
    "candidates_raster_crs": collection(candidate(1, 0.7, QUAD), candidate(2, 0.1, BOX)),
    "photo_footprint_raster_crs": collection(),
}


def older_engine(result: dict) -> dict:
    """``result`` as an engine without the registration stage answers it."""
    old = copy.deepcopy(result)
    for key in ("status", "confident", "photo_footprint_raster_crs", "photo_footprint_epsg4326"):
        old.pop(key, None)
    for feature in old["candidates_raster_crs"]["features"]:
        for key in ("registered", "method", "reprojection_px"):
            feature["properties"].pop(key)
    return old


def matching_rules(layer: QgsVectorLayer, feature: QgsFeature) -> list[str]:
    """Labels of the rules of ``layer``'s rule-based renderer that draw ``feature``."""
    renderer = layer.renderer()
    assert isinstance(renderer, QgsRuleBasedRenderer)
    context = QgsRenderContext()
    context.expressionContext().appendScopes(
        QgsExpressionContextUtils.globalProjectLayerScopes(layer)
    )
    renderer.startRender(context, layer.fields())
    try:
        return [rule.label() for rule in renderer.rootRule().rulesForFeature(feature, context)]
    finally:
        renderer.stopRender(context)


@pytest.fixture
def built(plugin_package, qgis_new_project, tmp_path: Path):
    """``build(result, raster_crs)`` → ``(layer, footprint)`` saved in a GeoPackage of
    ``tmp_path``; the layers are released afterwards."""
    from ocgnet_locate.result_layer import build_result_layers

    made: list = []

    def build(result: dict, raster_crs=None):
        gpkg = str(tmp_path / f"run{len(made)}.gpkg")
        layers = build_result_layers(result, raster_crs, str(tmp_path / "photo.jpg"), gpkg)
        made.append(layers)
        return layers

    yield build
    made.clear()
    QgsProject.instance().removeAllMapLayers()


def is_null(value) -> bool:
    """None, or QGIS's NULL variant."""
    return value is None or (hasattr(value, "isNull") and value.isNull())


def ring(geometry: QgsGeometry) -> list[tuple[float, float]]:
    return [(p.x(), p.y()) for p in geometry.asPolygon()[0][:-1]]


def test_registered_result_adds_the_footprint_table_beside_the_candidates(built) -> None:
    from ocgnet_locate.fields import FIELD_NAMES

    layer, footprint = built(REGISTERED, QgsCoordinateReferenceSystem(UTM))
    assert footprint is not None and footprint.isValid()
    assert footprint.crs().authid() == layer.crs().authid() == UTM
    assert footprint.name() == f"{layer.name()} footprint"
    path, table = layer.source().split("|layername=")
    assert footprint.source() == f"{path}|layername={table}_footprint"
    features = list(footprint.getFeatures())
    assert len(features) == 1 and features[0].geometry().type() == 2  # polygon
    assert ring(features[0].geometry()) == FOOTPRINT
    assert [features[0][n] for n in ("query", "method", "inliers", "reprojection_px")] == [
        "photo.jpg",
        "sift",
        143,
        1.25,
    ]
    # a blue outline and no fill, also as the table's default style in the GeoPackage
    reopened = QgsVectorLayer(footprint.source(), "again", "ogr")
    for each in (footprint, reopened):
        assert isinstance(each.renderer(), QgsSingleSymbolRenderer)
        props = each.renderer().symbol().symbolLayer(0).properties()
        assert props["style"] == "no" and props["outline_color"].startswith("30,90,230")
    del reopened

    # the candidates keep their oriented outline and the registration's fields
    assert [f.name() for f in layer.fields()] == ["fid", *FIELD_NAMES]
    best, second = sorted(layer.getFeatures(), key=lambda f: f["rank"])
    assert ring(best.geometry()) == QUAD
    assert [best[n] for n in ("registered", "method", "reprojection_px")] == [True, "sift", 1.25]
    assert not second["registered"] and second["method"] == "template"
    assert is_null(second["reprojection_px"])


def test_no_confident_match_and_older_engines_make_no_footprint(built) -> None:
    for result in (NO_MATCH, UNVERIFIED, older_engine(REGISTERED)):
        layer, footprint = built(result)  # no QGIS CRS: the worker's crs_authid
        assert footprint is None
        assert layer.crs().authid() == UTM and layer.featureCount() == 2
        path, table = layer.source().split("|layername=")
        missing = QgsVectorLayer(f"{path}|layername={table}_footprint", "none", "ogr")
        assert not missing.isValid()
        del missing
    best = next(f for f in layer.getFeatures() if f["rank"] == 1)
    assert all(is_null(best[n]) for n in ("registered", "method", "reprojection_px"))


def test_rules_draw_weak_candidates_dashed_and_a_confident_best_strong(built) -> None:
    from ocgnet_locate.result_layer import RULE_BEST, RULE_OTHER, RULE_WEAK

    layer, _ = built(REGISTERED, QgsCoordinateReferenceSystem(UTM))
    best, weak = sorted(layer.getFeatures(), key=lambda f: f["rank"])
    assert matching_rules(layer, best) == [RULE_BEST[0]]
    assert matching_rules(layer, weak) == [RULE_WEAK[0]]

    feature = QgsFeature(best)
    for rank, score, rule in ((1, 0.3, RULE_WEAK), (1, 0.9, RULE_BEST), (3, 0.6, RULE_OTHER)):
        feature["rank"], feature["score"] = rank, score
        assert matching_rules(layer, feature) == [rule[0]], (rank, score)

    rules = {r.label(): r.symbol() for r in layer.renderer().rootRule().children()}
    strong = rules[RULE_BEST[0]].symbolLayer(0).properties()
    dashed = rules[RULE_WEAK[0]].symbolLayer(0).properties()
    assert strong["style"] == "solid" and strong.get("outline_style", "solid") == "solid"
    assert dashed["style"] == "no" and dashed["outline_style"] == "dash"
    assert float(dashed["outline_width"]) < float(strong["outline_width"])

    layer, _ = built(NO_MATCH, QgsCoordinateReferenceSystem(UTM))
    assert {tuple(matching_rules(layer, f)) for f in layer.getFeatures()} == {(RULE_WEAK[0],)}


def finish(dock, result: dict, tmp_path: Path) -> None:
    """Hand ``result`` to the panel as a finished task."""
    request = SimpleNamespace(
        raster_crs=QgsCoordinateReferenceSystem(UTM),
        photo=str(tmp_path / "photo.jpg"),
        raster_name="ortho",
    )
    task = SimpleNamespace(error=None, restart_message=None, result=result, request=request)
    dock._task_finished(task)


@pytest.mark.parametrize(
    ("result", "level", "text"),
    [
        (REGISTERED, Qgis.Success, "found: registered by sift with 143 inliers, score 90%"),
        (
            NO_MATCH,
            Qgis.Warning,
            "no confident match in this raster: the best candidates are weak (score 30%); "
            "they are drawn dashed",
        ),
        (UNVERIFIED, Qgis.Warning, "unverified: the best candidate (score 70%)"),
        (older_engine(REGISTERED), Qgis.Success, "2 candidates in ortho (best score 90%, "),
    ],
    ids=["registered", "no_confident_match", "unverified", "older_engine"],
)
def test_panel_message_and_layers_by_status(
    dock, qgis_iface, tmp_path: Path, result: dict, level, text: str
) -> None:
    finish(dock, result, tmp_path)
    bar = qgis_iface.messageBar()
    levels = (Qgis.Info, Qgis.Warning, Qgis.Critical, Qgis.Success)
    counts = {lvl: len(bar.get_messages(lvl)) for lvl in levels}
    assert counts == {lvl: int(lvl == level) for lvl in levels}
    message = bar.get_messages(level)[0].split(":", 1)[1]
    assert text in message
    layer = dock.last_layer
    assert layer is not None and QgsProject.instance().mapLayer(layer.id()) is layer
    assert "4 tiles, 1.5 s" in message and f"→ layer {layer.name()!r}" in message
    if result is REGISTERED:
        footprint = dock.last_footprint
        assert QgsProject.instance().mapLayer(footprint.id()) is footprint
        assert footprint.name() == f"{layer.name()} footprint" and footprint.featureCount() == 1
        assert footprint.crs().authid() == UTM
    else:
        assert dock.last_footprint is None
        names = [lay.name() for lay in QgsProject.instance().mapLayers().values()]
        assert names == [layer.name()]


@pytest.fixture
def processing_answers(qgis_processing, worker_env, monkeypatch):
    """The OCGNet provider, its worker calls answered with :data:`REGISTERED`."""
    from ocgnet_locate import algorithms
    from ocgnet_locate.processing_provider import OCGNetProvider
    from qgis.core import QgsApplication

    monkeypatch.setattr(
        algorithms._LocateBase, "_locate", staticmethod(lambda *args, **kwargs: REGISTERED)
    )
    registry = QgsApplication.processingRegistry()
    provider = OCGNetProvider()
    registry.addProvider(provider)
    yield
    registry.removeProvider(provider)


def test_processing_writes_the_footprint_when_asked(
    processing_answers, scene: Path, tmp_path: Path
) -> None:
    import processing

    params = {
        "QUERY": str(scene / "photo.jpg"),
        "CLICK_X": 120,
        "CLICK_Y": 80,
        "INPUT": str(scene / "ortho_utm.tif"),
        "OUTPUT": str(tmp_path / "candidates.gpkg"),
    }
    outputs = processing.run("ocgnet:locate", params)
    assert set(outputs) == {"OUTPUT"}  # FOOTPRINT is optional, off by default

    outputs = processing.run(
        "ocgnet:locate", {**params, "FOOTPRINT": str(tmp_path / "footprint.gpkg")}
    )
    candidates = QgsVectorLayer(outputs["OUTPUT"], "candidates", "ogr")
    footprint = QgsVectorLayer(outputs["FOOTPRINT"], "footprint", "ogr")
    try:
        assert candidates.featureCount() == 2 and footprint.featureCount() == 1
        assert footprint.crs().authid() == candidates.crs().authid() == UTM
        feature = next(footprint.getFeatures())
        assert ring(feature.geometry()) == FOOTPRINT and feature["method"] == "sift"
    finally:
        del candidates, footprint
