"""Train the ORB visual-word vocabulary shipped in registry/fingerprints/data/.

    .venv/bin/python scripts/train_vocabulary.py [--images 3000] [--workers 2]

Two-level binary k-means (a vocabulary tree of depth 2, as in Nistér & Stewénius,
"Scalable recognition with a vocabulary tree", and DBoW2 for ORB): COARSE centroids
over a sample of ORB codes, then LEAVES centroids inside each coarse cell. k-means runs
in faiss on the codes' bits as floats, and centroids are binarised by majority, which
is how faiss trains its own binary IVF quantizers.

The training pictures are synthetic (scripts/synthetic_images.py, seeds from
TRAINING_SEED), so the vocabulary has never seen an evaluation work. Features are taken
as both sides of the matcher take them: reference (ORB_REFERENCE_FEATURES at
WORK_SIDE) and query (ORB_QUERY_FEATURES at QUERY_WORK_SIDE).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from registry.fingerprints import image as fpimage  # noqa: E402
from registry.fingerprints.words import VOCABULARY_PATH  # noqa: E402
from scripts.synthetic_images import synthetic_image  # noqa: E402

TRAINING_SEED = 10_000_000  # the benchmark's registry uses seeds below this
COARSE = 512
LEAVES = 512
COARSE_SAMPLE = 600_000


def _features(seed: int) -> np.ndarray:
    import cv2

    cv2.setNumThreads(1)
    picture = synthetic_image(seed, size=(640 + seed % 5 * 96, 480 + seed % 3 * 80))
    ref, _, _ = fpimage.orb_features(fpimage._work_gray(picture, fpimage.WORK_SIDE),
                                      fpimage.ORB_REFERENCE_FEATURES)
    query, _, _ = fpimage.orb_features(fpimage._work_gray(picture, fpimage.QUERY_WORK_SIDE),
                                        fpimage.ORB_QUERY_FEATURES)
    return np.concatenate([ref, query])


def _bits(codes: np.ndarray) -> np.ndarray:
    return np.unpackbits(codes, axis=1).astype(np.float32)


def _kmeans(codes: np.ndarray, k: int, seed: int) -> np.ndarray:
    km = faiss.Kmeans(256, k, niter=16, seed=seed, max_points_per_centroid=256, verbose=False)
    km.train(_bits(codes))
    return np.packbits(km.centroids > 0.5, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    t0 = time.perf_counter()
    seeds = range(TRAINING_SEED, TRAINING_SEED + args.images)
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        codes = np.concatenate(list(pool.imap(_features, seeds, chunksize=16)))
    print(f"{len(codes):,} ORB codes from {args.images} pictures in {time.perf_counter() - t0:.0f} s")
    rng = np.random.default_rng(0)
    sample = codes[rng.choice(len(codes), min(COARSE_SAMPLE, len(codes)), replace=False)]
    coarse = _kmeans(sample, COARSE, 1)
    flat = faiss.IndexBinaryFlat(256)
    flat.add(coarse)
    _, cell = flat.search(codes, 1)
    cell = cell.ravel()
    leaves, parents = [], []
    for c in range(COARSE):
        members = codes[cell == c]
        k = min(LEAVES, len(members) // 8)
        if k < 2:
            leaves.append(coarse[c:c + 1])
            parents.append(np.full(1, c, np.int32))
            continue
        leaves.append(_kmeans(members, k, 2 + c))
        parents.append(np.full(k, c, np.int32))
        if c % 64 == 63:
            print(f"  coarse cell {c + 1}/{COARSE}, {sum(map(len, leaves)):,} words, "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
    leaves_arr, parents_arr = np.concatenate(leaves), np.concatenate(parents)
    VOCABULARY_PATH.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(VOCABULARY_PATH, coarse=coarse, leaves=leaves_arr, parents=parents_arr,
                        meta=np.array([TRAINING_SEED, args.images, len(codes)], np.int64))
    print(f"{len(leaves_arr):,} words in {VOCABULARY_PATH} after {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
