"""Benchmark: listing is lazy, so memory stays flat however many pages there are.

Creates N sessions in an in-process emulator, then walks `JulesClient.list_sessions()`
and measures the peak memory the walk allocates (tracemalloc) and its time per item.
Prints figures and ratios between sizes; it asserts nothing (machines here are shared
and noisy, so no test depends on these numbers).

    python scripts/bench_paging.py [--sizes 500,2000,8000]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import httpx

from jules_cli.api.client import JulesClient
from jules_cli.emulator import Emulator, make_app


def build(count: int) -> JulesClient:
    emulator = Emulator(speed=1.0, rng_seed=7)
    for number in range(count):
        emulator.create_session({"prompt": f"task {number}"})
    transport = httpx.WSGITransport(app=make_app(emulator))
    return JulesClient("bench-key", "http://127.0.0.1/v1alpha", transport=transport)


def walk(client: JulesClient) -> tuple[int, float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    count = 0
    for _ in client.list_sessions():
        count += 1
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return count, elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,8000")
    sizes = [int(size) for size in parser.parse_args().sizes.split(",")]
    print(f"{'sessions':>9} {'pages':>6} {'peak KiB':>9} {'us/item':>8}")
    results = []
    for size in sizes:
        client = build(size)
        count, elapsed, peak = walk(client)
        assert count == size, (count, size)
        results.append((size, peak))
        pages = -(-size // 100)
        print(f"{size:>9} {pages:>6} {peak / 1024:>9.0f} {elapsed / size * 1e6:>8.1f}")
    smallest, largest = results[0], results[-1]
    print(
        f"items x{largest[0] / smallest[0]:.0f} -> peak memory x{largest[1] / smallest[1]:.2f} "
        "(flat means one page at a time)"
    )


if __name__ == "__main__":
    main()
