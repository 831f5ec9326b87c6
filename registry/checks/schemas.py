from datetime import datetime
from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from registry.checks.descriptors import PHash, QueryDescriptor, frame_count
from registry.fingerprints import descriptors as fmt


class Verdict(str, Enum):
    copy = "copy"
    similar = "similar"
    clear = "clear"


class Channel(str, Enum):
    """Which evidence found a match."""

    global_hash = "global_hash"  # the whole picture's pHash (plain, border-trimmed or mirrored)
    local_features = "local_features"  # ORB keypoints verified geometrically (RANSAC)
    # a crop window of the registered frame: a clip frame's hashed windows, or (images) the
    # query found as a window of the registered picture's thumbnail (fingerprints/windows.py)
    crop_window = "crop_window"


class Transform(BaseModel):
    """Where the submitted picture sits in the registered one: the similarity taking the
    query's frame onto the work's (for a mirrored match, the mirrored query's)."""

    scale: float = Field(description="The query's long side in units of the work's: 1 for the "
                                     "same framing, 0.5 for a crop keeping half of each side, "
                                     "2 for the work shown at half size")
    rotation_deg: float = Field(description="Rotation taking the query onto the work, degrees "
                                            "clockwise as displayed")
    tx: float = Field(description="Where the query's top-left corner lies in the work, as a "
                                  "fraction of the work's width")
    ty: float = Field(description="The same, as a fraction of the work's height")


class Span(BaseModel):
    """Part of the submitted clip that copies part of a registered work."""

    query_start_s: float
    query_end_s: float
    reference_start_s: float
    reference_end_s: float
    offset_s: float = Field(description="reference time = speed x query time + offset")
    speed: float = Field(description="Playback-speed ratio of the copy (reference / query)")
    agreement: float = Field(description="Share of the span's frames that agree")
    matched_frames: int
    mirrored: bool


class MatchEvidence(BaseModel):
    """What found a match and how it sits on the query; shared by checks, lookups and the
    copyright-evidence report."""

    channel: Channel | None = Field(default=None, description=(
        "What found the match: global_hash when the whole picture's pHash alone reaches the "
        "verdict, local_features when it takes ORB keypoints, crop_window when a clip frame "
        "matched through one of its crop windows or the query was found as a window of the "
        "registered picture (a crop too degraded for keypoints; null in checks stored before "
        "channels were recorded)"))
    coverage: float | None = Field(default=None, description=(
        "Share of the frame the match covers: for local_features the share of the query frame "
        "inside the convex hull of the geometric inliers (a lower bound of what the work "
        "covers), for a crop_window the window's share of the registered frame, 1 for a "
        "global_hash"))
    mirrored: bool | None = Field(default=None, description=(
        "Found through the mirrored query (a flipped copy); for clips, the strongest span's"))
    inlier_cells: int | None = Field(default=None, description=(
        "8x8-pixel cells of the registered image covered by the ORB inliers (the local "
        "evidence the score counts beyond chance); null when no geometry was verified"))
    transform: Transform | None = Field(default=None, description=(
        "For local_features the fitted similarity; for a crop_window the window "
        "(a clip frame's: the copy's framing is within about 5% of it; a picture's: the "
        "best window found, rotation 0)"))
    picture_agreement: float | None = Field(default=None, description=(
        "For local_features: correlation in [-1, 1] of the registered picture, placed by the "
        "fitted similarity, with the query where it lands (band-passed grey levels); copies "
        "agree near 1, chance fits below 0.45. For an image's crop_window the same "
        "correlation at the window found (unrelated pictures reached 0.78 at most there on "
        "the calibration data, copies 0.8 and more: it is the best of many windows). Null "
        "when not measured (fits of fewer than 6 inlier cells, fingerprints stored before "
        "version 2, clips)"))


class Match(MatchEvidence):
    """A registered work the submitted media copies. Matches are listed strongest first: by
    score, then (equal scores) by the raw evidence -- for images and frames pHash bits
    closer than chance (20 - distance, at least 0), then inlier_cells, then an image's
    crop-window correlation; for clips the agreeing frames' similarity."""

    asset_id: str
    source_id: str
    source_name: str
    holder_ids: list[str]
    licence_id: str
    licence: str = Field(description="SPDX id or LicenseRef of the licence that applies")
    via: str = Field(description="image (image descriptors), frame (a frame of a registered "
                                 "clip), clip (aligned clip spans)")
    distance: int | None = Field(default=None, description="Best pHash Hamming distance")
    reference_time_s: float | None = Field(default=None, description="Matched frame time")
    score: float = Field(description="Calibrated similarity in [0, 1]")
    verdict: Verdict
    spans: list[Span] = Field(default_factory=list)


def found_by(match: Any) -> str:
    """One line on what found a match and where it sits, for people (the CLI, the PDF):
    ``match`` has Match's channel, coverage, mirrored, inlier_cells, transform and
    picture_agreement."""
    if match.channel is None:
        return "channel not recorded"
    share = f"{match.coverage:.0%}" if match.coverage is not None else "?"
    parts = [{Channel.global_hash: "global hash of the whole frame",
              Channel.local_features: f"local features spanning {share} of the query",
              Channel.crop_window: f"crop window of {share} of the registered frame",
              }[match.channel]]
    if match.inlier_cells is not None:
        parts.append(f"{match.inlier_cells} inlier cells")
    if match.picture_agreement is not None:
        parts.append(f"aligned pictures agree at {match.picture_agreement:.2f}")
    if match.transform is not None:
        t = match.transform
        parts.append(f"scale {t.scale:.2f}, rotation {t.rotation_deg:.1f}°, "
                     f"offset ({t.tx:.2f}, {t.ty:.2f})")
    if match.mirrored:
        parts.append("mirrored")
    return ", ".join(parts)


class CheckItem(BaseModel):
    name: str
    sha256: str | None = Field(default=None, description="Digest of the submitted file")
    media_type: str | None = None
    verdict: Verdict
    matches: list[Match]


class CheckRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    requested_by: str
    verdict: Verdict
    items: list[CheckItem]
    created_at: datetime


MAX_DESCRIPTORS = 50


class FingerprintQuery(BaseModel):
    """What a client computed locally instead of uploading: either ``phashes``, hashes from
    ``imagehash.phash`` (with ``timestamps``, one clip's frames), or ``descriptors`` written
    by ``registry fingerprint FILE``, which give the same verdicts and matches as uploading
    the files."""

    model_config = ConfigDict(extra="forbid")
    phashes: Annotated[list[PHash], Field(min_length=1, max_length=fmt.MAX_FRAMES)] | None = None
    timestamps: list[float] | None = Field(
        default=None, description="Frame times in seconds: the hashes are then one clip's frames")
    descriptors: Annotated[list[QueryDescriptor], Field(
        min_length=1, max_length=MAX_DESCRIPTORS)] | None = Field(default=None, description=(
            f"Query descriptors, one per image or clip (at most {fmt.MAX_FRAMES} clip frames "
            "in all)"))

    @model_validator(mode="after")
    def _consistent(self) -> "FingerprintQuery":
        if (self.phashes is None) == (self.descriptors is None):
            raise ValueError("send either phashes or descriptors")
        if self.descriptors is not None:
            if self.timestamps is not None:
                raise ValueError("timestamps go with phashes; clip descriptors carry their own")
            if sum(frame_count(d) for d in self.descriptors) > fmt.MAX_FRAMES:
                raise ValueError(f"at most {fmt.MAX_FRAMES} clip frames in all")
        elif self.timestamps is not None:
            if len(self.timestamps) != len(self.phashes):
                raise ValueError("timestamps and phashes must have the same length")
            if any(not 0 <= t < 4_000_000 for t in self.timestamps):
                raise ValueError("timestamps must be seconds in [0, 4e6)")
        return self
