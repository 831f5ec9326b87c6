"""The HTTP form of query descriptors (``registry.fingerprints.descriptors``): what
``registry fingerprint FILE`` writes, sent to the fingerprint check and lookup instead of
the file. The models document the format and bound its sizes before anything is
decoded; the format's own reader then checks the rest (base64, counts, bounds) and
keeps the decoded descriptor for the engine."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from registry.fingerprints import clip_query
from registry.fingerprints import descriptors as fmt
from registry.fingerprints.agreement import QUERY_GRAY_SIDE
from registry.fingerprints.image import (
    FINGERPRINT_VERSION,
    ORB_CODE_BYTES,
    ORB_QUERY_FEATURES,
    QUERY_RETRY_SIDES,
    QUERY_WORK_SIDE,
    SMALL_QUERY_RETRY_SIDES,
    SMALL_QUERY_SIDE,
)

PHash = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{16}$",
                             description="64-bit pHash as 16 hex digits (str(imagehash.phash))")]


def _base64(n_bytes_each: int, what: str, most: int = ORB_QUERY_FEATURES) -> Any:
    return Field(max_length=fmt.base64_length(most * n_bytes_each),
                 description=f"base64 of count x {n_bytes_each} bytes: {what}")


class OrbFeatures(BaseModel):
    """ORB keypoints of one variant of the picture, in the ``size`` frame."""

    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=0, le=ORB_QUERY_FEATURES, description="Keypoints")
    codes: str = _base64(ORB_CODE_BYTES, "256-bit rBRIEF codes")
    points: str = _base64(fmt.POINT_BYTES, "(x, y) as float32 little-endian, pixels")
    angles: str = _base64(1, "orientations in 1/256 turns")


class OrbVariants(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plain: OrbFeatures
    mirror: OrbFeatures = Field(description="Of the horizontally mirrored picture")


class OrbRetryView(BaseModel):
    """The same keypoints at another frame size, for the engine's second look."""

    model_config = ConfigDict(extra="forbid")
    size: list[int] = Field(min_length=2, max_length=2,
                            description="[width, height] of this frame")
    orb: OrbVariants


class InsetFeatures(BaseModel):
    """A picture-in-picture inset cut out of the picture: its pHashes and its keypoints,
    described at the registered pictures' scale but placed in the first frame."""

    model_config = ConfigDict(extra="forbid")
    phash: PHash = Field(description="Of the cut-out, uniform borders trimmed")
    mirror: PHash = Field(description="Of the trimmed cut-out, horizontally mirrored")
    size: list[int] = Field(min_length=2, max_length=2,
                            description="[width, height]: the first frame's")
    orb: OrbVariants


class PHashVariants(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mirror: PHash = Field(description="Of the horizontally mirrored picture")
    trim: PHash = Field(description="After trimming uniform borders (letterbox, canvas)")
    trim_mirror: PHash = Field(description="Trimmed, then mirrored")


class _Descriptor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["registry.query-descriptor"]
    version: int = Field(description=f"Format version; this registry reads "
                                     f"{', '.join(map(str, fmt.SUPPORTED_VERSIONS))}")
    fingerprint_version: int = Field(description=(
        f"Version of the fingerprint algorithms that computed it; must be the registry's "
        f"({FINGERPRINT_VERSION})"))
    name: str | None = Field(default=None, max_length=255,
                             description="The file's name, used as the check item's name")
    _decoded: fmt.Descriptor = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _header(cls, data: Any) -> Any:
        fmt.check_header(data)
        return data

    @model_validator(mode="after")
    def _decode(self) -> "_Descriptor":
        self._decoded = fmt.from_json(self.model_dump(mode="json", exclude_none=True))
        return self

    def decoded(self) -> fmt.Descriptor:
        """The engine's form: ``QueryDescriptors`` of an image, the query-side
        ``VideoFingerprint`` of a clip."""
        return self._decoded


class _ImageViews(BaseModel):
    """The four pHash variants of a picture and its ORB keypoints, plain and mirrored, at
    the first frame size and at each retry size, and those of a picture-in-picture inset
    when the picture has one."""

    model_config = ConfigDict(extra="forbid")
    phash: PHash = Field(description="imagehash.phash of the picture (what hash-only clients send)")
    variants: PHashVariants
    size: list[int] = Field(min_length=2, max_length=2, description=(
        f"[width, height] of the frame ORB ran on: the picture resized to a long side of "
        f"{QUERY_WORK_SIDE}"))
    orb: OrbVariants
    retries: list[OrbRetryView] = Field(
        min_length=min(len(QUERY_RETRY_SIDES), len(SMALL_QUERY_RETRY_SIDES)),
        max_length=max(len(QUERY_RETRY_SIDES), len(SMALL_QUERY_RETRY_SIDES)), description=(
            f"The keypoints again with the picture resized to long sides "
            f"{' and '.join(map(str, QUERY_RETRY_SIDES))}, in that order (format version 5: "
            f"{', '.join(map(str, SMALL_QUERY_RETRY_SIDES))} for a picture whose long side is "
            f"at most {SMALL_QUERY_SIDE} pixels): the engine looks at these when the first "
            f"frame finds no copy (reframed crops, picture-in-picture)"))
    inset: InsetFeatures | None = Field(default=None, description=(
        "Format version 2: the picture-in-picture inset found in the picture, if any; the "
        "engine looks at it first when the first frame finds no copy"))


class GrayPicture(BaseModel):
    """The picture's grey levels, for the aligned-picture check of a fit."""

    model_config = ConfigDict(extra="forbid")
    size: list[int] = Field(min_length=2, max_length=2, description=(
        f"[width, height]: the picture resized to a long side of {QUERY_GRAY_SIDE}"))
    pixels: str = Field(max_length=fmt.base64_length(QUERY_GRAY_SIDE ** 2),
                        description="base64 of height x width bytes: grey levels, row by row")


class ImageDescriptor(_Descriptor, _ImageViews):
    """What a check computes from an uploaded image."""

    kind: Literal["image"]
    gray: GrayPicture | None = Field(default=None, description=(
        "Format version 3, required from it on: the registered picture placed by a fit of "
        "its keypoints is compared with this (picture_agreement in the matches)"))


class ClipFrames(BaseModel):
    """The sampled frames (up to 30 a second), as parallel arrays."""

    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=1, le=fmt.MAX_FRAMES, description="Sampled frames")
    timestamps: str = _base64(8, "float64 little-endian seconds from the stream start, "
                                 "strictly increasing", fmt.MAX_FRAMES)
    phashes: str = _base64(8, "each frame's pHash, big-endian (its 16 hex digits)", fmt.MAX_FRAMES)
    mirror_phashes: str = _base64(8, "the same of each horizontally mirrored frame",
                                  fmt.MAX_FRAMES)
    informative: str = _base64(1, "1, or 0 for a flat frame (black, a fade): not matched",
                               fmt.MAX_FRAMES)


class ClipLook(_ImageViews):
    """One look of the reframe search: a frame described as an uploaded image would be."""


class ClipLooks(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=0, le=clip_query.MAX_LOOKS, description="Looks")
    timestamps: str = _base64(8, "float64 little-endian seconds of each look's frame",
                              clip_query.MAX_LOOKS)
    in_between: str | None = Field(default=None, max_length=fmt.base64_length(clip_query.MAX_LOOKS),
                                   description=(
        "Format version 4: base64 of one byte per look, 1 for an in-between look (a short "
        "clip's looks between the regular ones, looked up only when those hit a registered "
        "clip but find no copy) or 0; "
        "without it every look is a regular one"))
    frames: list[ClipLook] = Field(max_length=clip_query.MAX_LOOKS)


class ClipGrays(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=0, le=clip_query.MAX_GRAYS, description="Grey frames")
    size: list[int] = Field(min_length=2, max_length=2, description=(
        f"[width, height] of every grey frame: long side {clip_query.GRAY_SIDE}"))
    timestamps: str = _base64(8, "float64 little-endian seconds of each grey frame",
                              clip_query.MAX_GRAYS)
    pixels: str = Field(
        max_length=fmt.base64_length(clip_query.MAX_GRAYS * clip_query.GRAY_SIDE ** 2),
        description="base64 of count x height x width bytes: grey levels, row by row")


class ClipReframe(BaseModel):
    """What the reframe search reads of the clip (9:16 reframes, pan-and-scan,
    picture-in-picture): a look every half second (and, in clips under half a minute, up
    to three in-between looks per half second) and a small grey frame per sampled frame (both
    sparser for long clips). Without it a clip descriptor gets the frame hashes' verdict
    only."""

    model_config = ConfigDict(extra="forbid")
    looks: ClipLooks
    grays: ClipGrays


class ClipDescriptor(_Descriptor):
    """What a check computes from an uploaded clip: per sampled frame its time, pHash,
    mirrored pHash and whether it has visible detail; from version 2, the reframe
    search's looks and grey frames."""

    kind: Literal["clip"]
    frames: ClipFrames
    reframe: ClipReframe | None = Field(default=None, description="Version 2 and later")


QueryDescriptor = Annotated[ImageDescriptor | ClipDescriptor, Field(discriminator="kind")]


def frame_count(descriptor: ImageDescriptor | ClipDescriptor) -> int:
    return descriptor.frames.count if isinstance(descriptor, ClipDescriptor) else 1
