"""The message-bar line after a Locate run: what the engine's answer means, and how sure.

The worker's ``locate`` answer carries ``status`` since the registration stage:
``registered`` (the best candidate's photo was registered to the raster: a confident
answer), ``unverified`` (a confident score but no registration) or ``no_confident_match``
(the best score is below 0.5). Answers of older engines carry no ``status``; they get the
summary they always had.
"""

from __future__ import annotations

from qgis.core import Qgis, QgsFeature

REGISTERED, UNVERIFIED, NO_CONFIDENT_MATCH = "registered", "unverified", "no_confident_match"


def percent(score) -> str:
    """A probability as a percentage: ``97%``; ``<1%`` below 0.5% and ``>99%`` above 99.5%
    (a calibrated score is never certain); ``?`` when unknown."""
    try:
        value = 100.0 * float(score)
    except (TypeError, ValueError):
        return "?"
    if value != value:  # NaN
        return "?"
    if 0 < value < 0.5:
        return "<1%"
    return ">99%" if 99.5 <= value < 100.0 else f"{value:.0f}%"


def _value(feature: QgsFeature, name: str):
    """A feature's attribute, None when the field is missing or null."""
    if feature.fields().indexOf(name) < 0:
        return None
    value = feature[name]
    return None if value is None or getattr(value, "isNull", lambda: False)() else value


def registration(result: dict, best: QgsFeature) -> tuple[str, int | None]:
    """``(method, inliers)`` of the registration: the footprint's properties, else the best
    candidate's fields."""
    features = (result.get("photo_footprint_raster_crs") or {}).get("features") or []
    properties = (features[0].get("properties") or {}) if features else {}
    method = properties.get("method") or _value(best, "method") or "local features"
    inliers = properties.get("inliers")
    if inliers is None:
        inliers = _value(best, "inliers")
    return str(method), (int(inliers) if inliers is not None else None)


def run_message(
    result: dict, best: QgsFeature, count: int, raster_name: str, layer_name: str
) -> tuple[str, Qgis.MessageLevel]:
    """The message-bar text and level of a finished run with ``count`` candidates (> 0);
    ``best`` is the rank-1 feature of the result layer."""
    status = result.get("status")
    score = percent(_value(best, "score"))
    details = (
        f"{count} candidates in {raster_name} ("
        f"{result.get('tiles_searched', '?')} tiles, {result.get('seconds', 0):.1f} s) "
        f"→ layer {layer_name!r}"
    )
    if status == REGISTERED:
        method, inliers = registration(result, best)
        with_inliers = f" with {inliers} inliers" if inliers is not None else ""
        text = f"found: registered by {method}{with_inliers}, score {score}; {details}"
        return text, Qgis.Success
    if status == NO_CONFIDENT_MATCH:
        return (
            "no confident match in this raster: the best candidates are weak "
            f"(score {score}); they are drawn dashed; {details}",
            Qgis.Warning,
        )
    if status == UNVERIFIED:
        return (
            f"unverified: the best candidate (score {score}) could not be registered to the "
            f"raster; check it by eye; {details}",
            Qgis.Warning,
        )
    # an engine without registration: the summary of before
    verified = (
        f", verified with {_value(best, 'inliers')} inliers" if _value(best, "refined") else ""
    )
    return (
        f"{count} candidates in {raster_name} (best score {score}{verified}, "
        f"{result.get('tiles_searched', '?')} tiles, {result.get('seconds', 0):.1f} s) "
        f"→ layer {layer_name!r}",
        Qgis.Success,
    )
