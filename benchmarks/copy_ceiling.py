"""Is torch's `y.copy_(x)` the bandwidth ceiling for a read-once/write-once kernel on this GPU?

    python benchmarks/copy_ceiling.py [--json out.json] [--ours-json norms-run.json] [--bulk]
    python benchmarks/copy_ceiling.py --bulk-selftest      # small checks of the bulk-copy kernel

For each (shape, dtype) case of benchmarks/norms.py this measures the effective bandwidth
(2·rows·hidden·itemsize bytes / median time) of:
  * torch `y.copy_(x)` (timed twice per case: first and last, to show the spread),
  * `cudaMemcpyAsync` device-to-device (through CuPy's runtime binding),
  * hand-written copy kernels (benchmarks/copy_ceiling_kernels.cu, compiled by CuPy/NVRTC):
    16/32/64/128 bytes per thread per iteration (1/2/4/8 uint4), five load/store cache-hint
    pairs, block sizes 256/512/1024, grid = k × SM count (grid-stride) for k in 1/2/4/8/16 and
    one block per chunk (no grid-stride loop); with --bulk also Hopper bulk copies
    (cp.async.bulk global→shared→global),
  * a read-only kernel (sum of X as int32 words) — the read-only ceiling, reported as bytes
    read / time,
  * torch `F.rms_norm` (bytes as in norms.py: X read + Y written + the weight read).

Method: the copy kernels are checked bitwise (output poisoned first, compared as integers) and
the sum against torch before any timing. Timing as in benchmarks/norms.py: warm-up, then
batches of back-to-back calls between CUDA events, median over batches of time/call, rotating
among enough input/output buffer pairs that the working set exceeds 4× L2. Every variant is
first screened with a short timing (5 batches of 10); the best few per case, the best single
variant over all cases (by geometric mean), torch copy, memcpy and torch rms_norm are then
timed with the full method (15 batches of 20) in a second pass, so the reported "best" is not
the maximum of the noisy screening numbers.

Finally: the upper bound on the median over the 15 cases of (torch rms_norm time / RMSNorm
time) for a hypothetical RMSNorm that moves its bytes at the best measured copy bandwidth of
each case (and, for comparison, at torch copy's).

Needs torch (CUDA) and cupy.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time

SHAPES = [(32768, 768), (16384, 4096), (8192, 8192), (65536, 1024), (262144, 128)]
DTYPES = ["float16", "bfloat16", "float32"]
HINTS = ["plain", "cs", "nc", "nc_stcs", "nc256"]
VECS = [1, 2, 4, 8]
BLOCKS = [256, 512, 1024]
GRID_K = [1, 2, 4, 8, 16]
SUM_HINTS = ["plain", "cs", "nc", "nc256"]
SUM_VECS = [2, 4, 8]
SUM_K = [2, 4, 8, 16]
BULK = [  # (stages, chunk bytes, blocks per SM), at most 200 KiB of shared memory per SM
    (s, c, k) for s in (4, 8) for c in (8192, 16384) for k in (1, 2, 4) if s * c * k <= 200 << 10
]
KERNELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "copy_ceiling_kernels.cu")


def build(cp, want_bulk):
    """Compile every kernel instantiation once; returns {name_expression: Function}."""
    names = []
    for v in VECS:
        for h in range(len(HINTS)):
            names += [f"copy_gs<{v},{h}>", f"copy_chunk<{v},{h}>"]
    for v in SUM_VECS:
        for h in SUM_HINTS:
            names.append(f"sum_gs<{v},{HINTS.index(h)}>")
    if want_bulk:
        names += sorted({f"copy_bulk<{s}>" for s, _, _ in BULK})
    with open(KERNELS) as f:
        src = f.read()
    t0 = time.perf_counter()
    mod = cp.RawModule(code=src, options=("-std=c++17",), name_expressions=names)
    fns = {n: mod.get_function(n) for n in names}
    print(f"# compiled {len(names)} kernels in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return fns


def copy_variants(sms, want_bulk):
    """(label, kernel name, grid function of n16, block, shared bytes, extra arg) per variant."""
    out = []
    for v in VECS:
        for h, hint in enumerate(HINTS):
            for b in BLOCKS:
                ks = sorted({k for k in GRID_K} | {2048 // b})
                for k in ks:
                    out.append(
                        (
                            f"gs v{v * 16}B {hint} b{b} g{k}xSM",
                            f"copy_gs<{v},{h}>",
                            (lambda n16, k=k: k * sms),
                            b,
                            0,
                            None,
                        )
                    )
                out.append(
                    (
                        f"chunk v{v * 16}B {hint} b{b}",
                        f"copy_chunk<{v},{h}>",
                        (lambda n16, b=b, v=v: -(-n16 // (b * v))),
                        b,
                        0,
                        None,
                    )
                )
    if want_bulk:
        for s, c, k in BULK:
            out.append(
                (
                    f"bulk S{s} {c // 1024}KiB {k}xSM",
                    f"copy_bulk<{s}>",
                    (lambda n16, k=k: k * sms),
                    32,
                    s * c,
                    c,
                )
            )
    return out


def sum_variants(sms):
    out = []
    for v in SUM_VECS:
        for hint in SUM_HINTS:
            for b in BLOCKS:
                for k in SUM_K:
                    out.append(
                        (
                            f"sum v{v * 16}B {hint} b{b} g{k}xSM",
                            f"sum_gs<{v},{HINTS.index(hint)}>",
                            k * sms,
                            b,
                        )
                    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--batches", type=int, default=15)
    ap.add_argument("--screen-reps", type=int, default=10)
    ap.add_argument("--screen-batches", type=int, default=5)
    ap.add_argument("--top", type=int, default=4, help="per-case variants re-timed in full")
    ap.add_argument("--json", help="write all numbers here")
    ap.add_argument(
        "--ours-json",
        help="a benchmarks/norms.py JSON: also show its trtforge "
        "RMSNorm GB/s as a %% of this run's best copy (different run!)",
    )
    ap.add_argument("--bulk", action="store_true", help="include cp.async.bulk copies (sm_90+)")
    ap.add_argument(
        "--bulk-selftest",
        action="store_true",
        help="only check the bulk-copy kernel on small sizes and exit",
    )
    ap.add_argument("--cases", type=int, default=0, help="only the first N cases (debug)")
    ap.add_argument("--quick", action="store_true", help="a few variants only (debug)")
    args = ap.parse_args()
    if args.quick:
        global VECS, BLOCKS, GRID_K, SUM_VECS, SUM_K, BULK
        VECS, BLOCKS, GRID_K, SUM_VECS, SUM_K, BULK = [1, 4], [256], [4], [4], [8], BULK[:2]

    import cupy as cp
    import numpy as np
    import torch
    import torch.nn.functional as F

    dev = torch.cuda.get_device_properties(0)
    sms = dev.multi_processor_count
    l2 = getattr(dev, "L2_cache_size", 50 << 20)
    tstream = torch.cuda.current_stream()
    cstream = cp.cuda.ExternalStream(tstream.cuda_stream)
    ibits = {1: torch.uint8, 2: torch.int16, 4: torch.int32}
    want_bulk = args.bulk or args.bulk_selftest
    if want_bulk and torch.cuda.get_device_capability(0) < (9, 0):
        print("bulk copies need sm_90+", file=sys.stderr)
        return 2
    fns = build(cp, want_bulk)
    P = np.uint64

    def launch_copy(var, x, y):
        _, kname, gridf, block, shmem, chunk = var
        nbytes = x.numel() * x.element_size()
        fn = fns[kname]
        if chunk is None:
            n16 = nbytes // 16
            fn(
                (gridf(n16),),
                (block,),
                (P(x.data_ptr()), P(y.data_ptr()), np.int64(n16)),
                stream=cstream,
            )
        else:
            fn(
                (gridf(nbytes // 16),),
                (block,),
                (P(x.data_ptr()), P(y.data_ptr()), np.int64(nbytes), np.int32(chunk)),
                shared_mem=shmem,
                stream=cstream,
            )

    if want_bulk:
        for kname in {v[1] for v in copy_variants(sms, True) if v[5] is not None}:
            fns[kname].max_dynamic_shared_size_bytes = max(
                v[4] for v in copy_variants(sms, True) if v[1] == kname
            )

    if args.bulk_selftest:
        bad = 0
        for nbytes in (16, 4096, 8192 + 48, 1 << 20, (7 << 20) + 4096 + 16, 64 << 20):
            x = torch.randint(-(2**31), 2**31 - 1, (nbytes // 4,), dtype=torch.int32, device="cuda")
            for var in copy_variants(sms, True):
                if var[5] is None:
                    continue
                y = torch.full_like(x, -1)
                launch_copy(var, x, y)
                torch.cuda.synchronize()
                if not torch.equal(x, y):
                    print(f"BULK FAIL {var[0]} nbytes={nbytes}")
                    bad += 1
        print("bulk selftest:", "FAIL" if bad else "ok")
        return 1 if bad else 0

    def timeit(fn, nbuf, reps, batches, warm=3):
        for i in range(warm):
            fn(i % nbuf)
        torch.cuda.synchronize()
        times, host = [], []
        k = 0
        for _ in range(batches):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            h0 = time.perf_counter()
            s.record()
            for _ in range(reps):
                fn(k % nbuf)
                k += 1
            e.record()
            host.append((time.perf_counter() - h0) / reps)
            e.synchronize()
            times.append(s.elapsed_time(e) / reps * 1e-3)
        return {
            "median_us": statistics.median(times) * 1e6,
            "min_us": min(times) * 1e6,
            "max_us": max(times) * 1e6,
            "host_us_per_call": statistics.median(host) * 1e6,
        }

    def make_case(dtype_name, rows, hidden):
        dt = getattr(torch, dtype_name)
        item = torch.tensor([], dtype=dt).element_size()
        tensor_bytes = rows * hidden * item
        nbuf = max(1, min(8, -(-4 * l2 // (2 * tensor_bytes))))
        torch.manual_seed(1234 + rows + hidden + item)
        xs = [
            torch.randn(rows, hidden, device="cuda", dtype=torch.float32).mul_(2).add_(3).to(dt)
            for _ in range(nbuf)
        ]
        ys = [torch.empty_like(xs[0]) for _ in range(nbuf)]
        g = (torch.randn(hidden, device="cuda") * 0.5 + 1).to(dt)
        return dt, item, tensor_bytes, nbuf, xs, ys, g

    def check_copy(var, xs, ys, item):
        xi, yi = xs[0].view(ibits[item]), ys[0].view(ibits[item])
        yi.fill_(-1)  # 0xFF.. is never a finite randn value
        launch_copy(var, xs[0], ys[0])
        torch.cuda.synchronize()
        return torch.equal(xi, yi)

    sum_out = torch.zeros(1, dtype=torch.int64, device="cuda")

    def launch_sum(var, x):
        _, kname, grid, block = var
        n16 = x.numel() * x.element_size() // 16
        fns[kname](
            (grid,),
            (block,),
            (P(x.data_ptr()), np.int64(n16), P(sum_out.data_ptr())),
            stream=cstream,
        )

    def check_sum(var, x):
        sum_out.zero_()
        launch_sum(var, x)
        torch.cuda.synchronize()
        ref = int(x.view(torch.int32).sum(dtype=torch.int64).item()) % (1 << 64)
        return int(sum_out.item()) % (1 << 64) == ref

    cases = [(d, r, h) for d in DTYPES for r, h in SHAPES]
    if args.cases:
        cases = cases[: args.cases]
    cvars = copy_variants(sms, args.bulk)
    svars = sum_variants(sms)

    def screen_case(dtype_name, rows, hidden):
        """Check every variant, then time it briefly; returns {label: GB/s} or None if wrong."""
        dt, item, tb, nbuf, xs, ys, g = make_case(dtype_name, rows, hidden)
        res = {}
        for var in cvars:
            if not check_copy(var, xs, ys, item):
                print(f"CORRECTNESS FAIL {var[0]} {dtype_name} {rows}x{hidden}")
                return None
            r = timeit(
                lambda i, var=var: launch_copy(var, xs[i], ys[i]),
                nbuf,
                args.screen_reps,
                args.screen_batches,
            )
            res[var[0]] = 2 * tb / (r["median_us"] * 1e-6) / 1e9
        for var in svars:
            if not check_sum(var, xs[0]):
                print(f"CORRECTNESS FAIL {var[0]} {dtype_name} {rows}x{hidden}")
                return None
            r = timeit(
                lambda i, var=var: launch_sum(var, xs[i]),
                nbuf,
                args.screen_reps,
                args.screen_batches,
            )
            res[var[0]] = tb / (r["median_us"] * 1e-6) / 1e9
        return res

    # ---- pass 1: check and screen every variant on every case
    screen = {}
    t_start = time.perf_counter()
    for dtype_name, rows, hidden in cases:
        key = f"{dtype_name} {rows}x{hidden}"
        screen[key] = screen_case(dtype_name, rows, hidden)
        torch.cuda.empty_cache()
        if screen[key] is None:
            return 1
        print(
            f"# screened {key}: {len(cvars)} copies, {len(svars)} sums "
            f"({time.perf_counter() - t_start:.0f} s)",
            file=sys.stderr,
        )

    def geomean_best(prefixes):
        names = [n for n in next(iter(screen.values())) if n.startswith(prefixes)]
        return max(names, key=lambda n: sum(math.log(screen[k][n]) for k in screen))

    global_copy = geomean_best(("gs", "chunk", "bulk"))
    global_sum = geomean_best(("sum",))
    by_label = {v[0]: v for v in cvars}
    sum_by_label = {v[0]: v for v in svars}
    results = []

    def final_case(dtype_name, rows, hidden):
        """Full timing of the candidates of one case into `results`; False if a check fails."""
        dt, item, tb, nbuf, xs, ys, g = make_case(dtype_name, rows, hidden)
        key = f"{dtype_name} {rows}x{hidden}"
        sc = screen[key]
        top = sorted((n for n in sc if not n.startswith("sum")), key=lambda n: -sc[n])[: args.top]
        if global_copy not in top:
            top.append(global_copy)
        stop = sorted((n for n in sc if n.startswith("sum")), key=lambda n: -sc[n])[:2]
        if global_sum not in stop:
            stop.append(global_sum)
        io = 2 * tb
        n_args = (args.reps, args.batches)

        def rec(impl, r, nbytes, kind):
            results.append(
                {
                    "dtype": dtype_name,
                    "rows": rows,
                    "hidden": hidden,
                    "impl": impl,
                    "kind": kind,
                    "bytes": nbytes,
                    "GBps": nbytes / (r["median_us"] * 1e-6) / 1e9,
                    **r,
                }
            )

        rec("torch copy_", timeit(lambda i: ys[i].copy_(xs[i]), nbuf, *n_args), io, "torch_copy")

        def memcpy(i):
            cp.cuda.runtime.memcpyAsync(
                ys[i].data_ptr(),
                xs[i].data_ptr(),
                tb,
                cp.cuda.runtime.memcpyDeviceToDevice,
                tstream.cuda_stream,
            )

        ys[0].view(ibits[item]).fill_(-1)
        memcpy(0)
        torch.cuda.synchronize()
        if not torch.equal(ys[0].view(ibits[item]), xs[0].view(ibits[item])):
            print(f"CORRECTNESS FAIL memcpy {key}")
            return False
        rec("cudaMemcpyAsync D2D", timeit(memcpy, nbuf, *n_args), io, "memcpy")
        for name in top:
            var = by_label[name]
            if not check_copy(var, xs, ys, item):
                print(f"CORRECTNESS FAIL {name} {key}")
                return False
            r = timeit(lambda i, var=var: launch_copy(var, xs[i], ys[i]), nbuf, *n_args)
            rec(name, r, io, "kernel" + (" global" if name == global_copy else ""))
        for name in stop:
            var = sum_by_label[name]
            r = timeit(lambda i, var=var: launch_sum(var, xs[i]), nbuf, *n_args)
            rec(name, r, tb, "sum" + (" global" if name == global_sum else ""))
        r = timeit(lambda i: F.rms_norm(xs[i], (hidden,), g, 1e-5), nbuf, *n_args)
        rec("torch rms_norm", r, io + hidden * item, "torch_rms")
        r = timeit(lambda i: ys[i].copy_(xs[i]), nbuf, *n_args)
        rec("torch copy_ (again)", r, io, "torch_copy2")
        return True

    # ---- pass 2: full timing of the candidates
    for dtype_name, rows, hidden in cases:
        ok = final_case(dtype_name, rows, hidden)
        torch.cuda.empty_cache()
        if not ok:
            return 1
    print(f"# timed in {time.perf_counter() - t_start:.0f} s", file=sys.stderr)

    ours = {}
    if args.ours_json:
        with open(args.ours_json) as f:
            for r in json.load(f)["results"]:
                if r["impl"] == "trtforge RMSNorm":
                    ours[(r["dtype"], r["rows"], r["hidden"])] = r

    # ---- report
    print(
        f"# device: {dev.name}, {sms} SMs, L2 {l2 >> 20} MiB; torch {torch.__version__}; "
        f"cupy {cp.__version__}; CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}; "
        f"{datetime.date.today()}; python {platform.python_version()}"
    )
    print(
        f"# best single copy variant over all cases (screening geomean): {global_copy}; "
        f"best single read-only variant: {global_sum}"
    )
    print()
    print(
        "| dtype | rows×hidden | torch copy GB/s (1st / 2nd) | memcpy GB/s | best kernel GB/s "
        "| best kernel | best ÷ torch copy | fixed variant GB/s | read-only GB/s "
        "| torch rms GB/s | bound ×torch rms (best copy) | bound (torch copy) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    bounds_best, bounds_tc, ratios, summary = [], [], [], []
    for dtype_name, rows, hidden in cases:
        sel = [
            r for r in results if (r["dtype"], r["rows"], r["hidden"]) == (dtype_name, rows, hidden)
        ]
        by = {r["kind"]: r for r in sel}
        kern = [r for r in sel if r["kind"].startswith("kernel")]
        best = max(kern, key=lambda r: r["GBps"])
        fixed = next(r for r in kern if r["impl"] == global_copy)
        rd = max((r for r in sel if r["kind"].startswith("sum")), key=lambda r: r["GBps"])
        tc1, tc2, mc, trms = by["torch_copy"], by["torch_copy2"], by["memcpy"], by["torch_rms"]
        tc = max(tc1["GBps"], tc2["GBps"])
        ceiling = max(tc, mc["GBps"], best["GBps"])
        rms_bytes = trms["bytes"]
        b_best = trms["median_us"] * 1e-6 / (rms_bytes / (ceiling * 1e9))
        b_tc = trms["median_us"] * 1e-6 / (rms_bytes / (tc * 1e9))
        bounds_best.append(b_best)
        bounds_tc.append(b_tc)
        ratios.append(best["GBps"] / tc)
        summary.append(
            {
                "dtype": dtype_name,
                "rows": rows,
                "hidden": hidden,
                "torch_copy_GBps": [tc1["GBps"], tc2["GBps"]],
                "memcpy_GBps": mc["GBps"],
                "best_kernel": best["impl"],
                "best_kernel_GBps": best["GBps"],
                "fixed_variant_GBps": fixed["GBps"],
                "read_only_GBps": rd["GBps"],
                "read_only_kernel": rd["impl"],
                "torch_rms_GBps": trms["GBps"],
                "torch_rms_us": trms["median_us"],
                "ceiling_GBps": ceiling,
                "bound_best": b_best,
                "bound_torch_copy": b_tc,
            }
        )
        print(
            f"| {dtype_name} | {rows}×{hidden} | {tc1['GBps']:.0f} / {tc2['GBps']:.0f} "
            f"| {mc['GBps']:.0f} | {best['GBps']:.0f} | {best['impl']} "
            f"| {best['GBps'] / tc:.3f} | {fixed['GBps']:.0f} | {rd['GBps']:.0f} "
            f"| {trms['GBps']:.0f} | {b_best:.2f} | {b_tc:.2f} |"
        )
    print()
    print(
        f"best hand-written copy ÷ torch copy (better of its two timings): median "
        f"{statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}"
    )
    print(
        f"UPPER BOUND on the median speed-up over torch rms_norm (15 cases) for an RMSNorm at "
        f"the best measured copy bandwidth of each case: {statistics.median(bounds_best):.3f}x "
        f"(per case {min(bounds_best):.2f}–{max(bounds_best):.2f}); at torch copy's bandwidth: "
        f"{statistics.median(bounds_tc):.3f}x"
    )
    if ours:
        pct = []
        for s in summary:
            o = ours.get((s["dtype"], s["rows"], s["hidden"]))
            if o:
                pct.append(100 * o["GBps"] / s["ceiling_GBps"])
        if pct:
            print(
                f"trtforge RMSNorm from {os.path.basename(args.ours_json)} (another run) as % of "
                f"this run's best copy: median {statistics.median(pct):.1f}%, "
                f"min {min(pct):.1f}%, max {max(pct):.1f}%"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "device": dev.name,
                    "sms": sms,
                    "l2_bytes": l2,
                    "date": str(datetime.date.today()),
                    "torch": torch.__version__,
                    "cupy": cp.__version__,
                    "global_copy_variant": global_copy,
                    "global_sum_variant": global_sum,
                    "median_bound_best": statistics.median(bounds_best),
                    "median_bound_torch_copy": statistics.median(bounds_tc),
                    "summary": summary,
                    "results": results,
                    "screen": screen,
                },
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
