"""A pinhole drone camera over flat ground: image ↔ ground homographies.

Ground coordinates are metres in a projected CRS (x east, y north, ground at z = 0). Image
coordinates are continuous pixels (x right, y down; pixel edges at integers, so pixel
``(i, j)`` covers ``[i, i+1) × [j, j+1)``). Only a drone (top-down or oblique) view can be
rendered this way: a street-level view would need facades an orthophoto does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DroneCamera:
    """A camera looking at ground point ``target`` (x, y metres).

    Attributes:
        target: ground point on the optical axis (image centre), metres.
        altitude_m: height above ground.
        pitch_deg: off-nadir angle of the optical axis (0 = straight down).
        yaw_deg: heading of the optical axis, clockwise from north (the image's "up" when
            looking straight down).
        hfov_deg: horizontal field of view.
        width, height: image size in pixels.
    """

    target: tuple[float, float]
    altitude_m: float
    pitch_deg: float
    yaw_deg: float
    hfov_deg: float
    width: int
    height: int

    def _axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Camera centre and the right, down, forward unit vectors (world frame)."""
        th, ps = math.radians(self.pitch_deg), math.radians(self.yaw_deg)
        f = np.array([math.sin(th) * math.sin(ps), math.sin(th) * math.cos(ps), -math.cos(th)])
        r = np.array([math.cos(ps), -math.sin(ps), 0.0])
        d = np.cross(f, r)
        dist = self.altitude_m / math.cos(th)
        c = np.array([self.target[0], self.target[1], 0.0]) - dist * f
        return c, r, d, f

    @property
    def focal_px(self) -> float:
        return (self.width / 2) / math.tan(math.radians(self.hfov_deg) / 2)

    def image_to_ground(self) -> np.ndarray:
        """3×3 homography mapping image (x, y, 1) to ground (X, Y, 1) (up to scale).

        Valid for pixels whose ray points downwards (always true while
        ``pitch + vertical fov / 2 < 90°``).
        """
        c, r, d, f = self._axes()
        fp = self.focal_px
        a = np.column_stack(
            [r / fp, d / fp, f - (self.width / 2) / fp * r - (self.height / 2) / fp * d]
        )
        m = np.array([[-c[2], 0.0, c[0]], [0.0, -c[2], c[1]], [0.0, 0.0, 1.0]])
        return m @ a

    def ground_to_image(self) -> np.ndarray:
        """Inverse homography: ground (X, Y, 1) → image (x, y, 1)."""
        return np.linalg.inv(self.image_to_ground())

    def project(self, xy: np.ndarray) -> np.ndarray:
        """Ground points ``(N, 2)`` → image points ``(N, 2)``."""
        return apply_homography(self.ground_to_image(), xy)

    def max_ray_angle_deg(self) -> float:
        """Off-nadir angle of the most oblique image corner ray."""
        c, _, _, _ = self._axes()
        h = self.image_to_ground()
        corners = np.array([[0, 0], [self.width, 0], [0, self.height], [self.width, self.height]])
        hom = np.column_stack([corners, np.ones(4)]) @ h.T
        if np.any(hom[:, 2] >= 0):  # w = ray z component: must point down
            return 90.0
        g = hom[:, :2] / hom[:, 2:]
        dist = np.linalg.norm(g - c[:2], axis=1)
        return float(np.degrees(np.arctan(dist.max() / c[2])))


def apply_homography(h: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply a 3×3 homography to points ``(N, 2)``."""
    pts = np.column_stack(
        [np.asarray(xy, float).reshape(-1, 2), np.ones(len(np.asarray(xy).reshape(-1, 2)))]
    )
    out = pts @ h.T
    return out[:, :2] / out[:, 2:]


def pillow_perspective(h_out_to_in: np.ndarray) -> tuple[float, ...]:
    """Pillow ``Image.PERSPECTIVE`` coefficients for an output→input pixel homography."""
    m = h_out_to_in / h_out_to_in[2, 2]
    return tuple(float(v) for v in m.ravel()[:8])
