"""Effective bandwidth of the LayerNorm / RMSNorm kernels beside PyTorch and a device copy;
the fused residual-add + norm plugins (SkipLayerNorm / SkipRMSNorm) beside torch's separate add
and layer_norm / rms_norm.

    python benchmarks/norms.py [--reps 20] [--batches 15] [--json out.json]
    python benchmarks/norms.py --report out.json     # the tables of a saved run

Bytes counted per call: X read once + Y written once + the weights read once
(rows*hidden*2*itemsize + hidden*n_weights*itemsize_w): the fewest bytes any implementation
must move. Fused: X and skip read, Y and the sum written (4 tensors) + the weights and bias; its
torch counterpart (torch.add, then the norm) moves 5 tensors, and is compared by time.
Effective bandwidth = bytes / median time. The copy moves the same X bytes
(read + write). Each timing: warm-up, then `batches` batches of `reps` back-to-back calls
between CUDA events (median over batches of time/reps), rotating among several input/output
buffers so the working set exceeds L2. Correctness is checked against a float32 torch
computation before timing. Needs torch (CUDA) and trtforge._C.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys

SHAPES = [(32768, 768), (16384, 4096), (8192, 8192), (65536, 1024), (262144, 128)]
DTYPES = ["float16", "bfloat16", "float32"]
TRT_DTYPE = {"float32": 0, "float16": 1, "bfloat16": 7}


def report(rows_out: list[dict], header: str) -> None:
    """Prints the Markdown tables (percentages of copy to one decimal: a case at 89.6% must
    not read as 90%) and the median speed-ups."""
    print(header)
    print(
        "| dtype | rows×hidden | copy GB/s | LN GB/s | LN % copy | torch LN GB/s | LN ×torch "
        "| RMS GB/s | RMS % copy | torch RMS GB/s | RMS ×torch |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ratios = {"LayerNorm": [], "RMSNorm": []}
    for dtype_name in DTYPES:
        for rows, hidden in SHAPES:
            sel = {
                r["impl"]: r
                for r in rows_out
                if r["dtype"] == dtype_name and r["rows"] == rows and r["hidden"] == hidden
            }
            c = sel["copy"]["GBps"]
            ln, tln = sel["trtforge LayerNorm"], sel["torch layer_norm"]
            rm, trm = sel["trtforge RMSNorm"], sel["torch rms_norm"]
            ratios["LayerNorm"].append(tln["median_us"] / ln["median_us"])
            ratios["RMSNorm"].append(trm["median_us"] / rm["median_us"])
            print(
                f"| {dtype_name} | {rows}×{hidden} | {c:.0f} | {ln['GBps']:.0f} "
                f"| {100 * ln['GBps'] / c:.1f}% | {tln['GBps']:.0f} "
                f"| {tln['median_us'] / ln['median_us']:.2f} | {rm['GBps']:.0f} "
                f"| {100 * rm['GBps'] / c:.1f}% | {trm['GBps']:.0f} "
                f"| {trm['median_us'] / rm['median_us']:.2f} |"
            )
    print()
    print(
        "| dtype | rows×hidden | SkipLN GB/s | SkipLN % copy | SkipLN ×(torch add+LN) "
        "| SkipRMS GB/s | SkipRMS % copy | SkipRMS ×(torch add+RMS) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for dtype_name in DTYPES:
        for rows, hidden in SHAPES:
            sel = {
                r["impl"]: r
                for r in rows_out
                if r["dtype"] == dtype_name and r["rows"] == rows and r["hidden"] == hidden
            }
            c = sel["copy"]["GBps"]
            cells = []
            for ours, theirs in (
                ("trtforge SkipLayerNorm", "torch add+layer_norm"),
                ("trtforge SkipRMSNorm", "torch add+rms_norm"),
            ):
                o, t = sel[ours], sel[theirs]
                speed = t["median_us"] / o["median_us"]
                ratios.setdefault(ours, []).append(speed)
                cells += [f"{o['GBps']:.0f}", f"{100 * o['GBps'] / c:.1f}%", f"{speed:.2f}"]
            print(f"| {dtype_name} | {rows}×{hidden} | " + " | ".join(cells) + " |")
    for k, v in ratios.items():
        print(
            f"median speed-up over torch, {k}: {statistics.median(v):.2f}x "
            f"(min {min(v):.2f}, max {max(v):.2f})"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--batches", type=int, default=15)
    ap.add_argument("--json", help="write all numbers here")
    ap.add_argument("--report", metavar="JSON", help="print the tables of a saved --json run")
    args = ap.parse_args()
    if args.report:
        with open(args.report) as f:
            saved = json.load(f)
        report(
            saved["results"],
            f"# device: {saved['device']}; torch {saved['torch']}; {saved['date']}",
        )
        return 0

    import torch
    import torch.nn.functional as F

    from trtforge import _C

    dev = torch.cuda.get_device_properties(0)
    l2 = getattr(dev, "L2_cache_size", 50 << 20)
    stream = torch.cuda.current_stream()

    def timeit(fn, nbuf):
        for i in range(3):
            fn(i % nbuf)
        torch.cuda.synchronize()
        times = []
        k = 0
        for _ in range(args.batches):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            for _ in range(args.reps):
                fn(k % nbuf)
                k += 1
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e) / args.reps * 1e-3)
        return statistics.median(times), min(times), max(times)

    def bench_case(dtype_name, rows, hidden):
        """Check, then time every implementation on one (dtype, shape); None if wrong."""
        dt = getattr(torch, dtype_name)
        out = []
        item = torch.tensor([], dtype=dt).element_size()
        tensor_bytes = rows * hidden * item
        nbuf = max(1, min(8, -(-4 * l2 // (2 * tensor_bytes))))
        xs = [
            torch.randn(rows, hidden, device="cuda", dtype=torch.float32).mul_(2).add_(3).to(dt)
            for _ in range(nbuf)
        ]
        ys = [torch.empty_like(xs[0]) for _ in range(nbuf)]
        g = (torch.randn(hidden, device="cuda") * 0.5 + 1).to(dt)
        b = torch.randn(hidden, device="cuda").to(dt)
        skips = [torch.randn(rows, hidden, device="cuda").to(dt) for _ in range(nbuf)]
        sums = [torch.empty_like(xs[0]) for _ in range(nbuf)]
        bias = torch.randn(hidden, device="cuda").mul_(0.3).to(dt)
        zeros = torch.zeros(hidden, device="cuda", dtype=dt)

        def ours(name, i):
            ins = [
                (xs[i].data_ptr(), TRT_DTYPE[dtype_name], (rows, hidden)),
                (g.data_ptr(), TRT_DTYPE[dtype_name], (hidden,)),
            ]
            if name == "LayerNorm":
                ins.append((b.data_ptr(), TRT_DTYPE[dtype_name], (hidden,)))
            _C.launch(
                f"trtforge::{name}/1",
                ins,
                [(ys[i].data_ptr(), TRT_DTYPE[dtype_name], (rows, hidden))],
                {"epsilon": 1e-5, "axis": -1},
                stream.cuda_stream,
                0,
            )

        def fused(name, i, bias_t):
            code = TRT_DTYPE[dtype_name]
            ins = [(t.data_ptr(), code, (rows, hidden)) for t in (xs[i], skips[i])]
            ins.append((g.data_ptr(), code, (hidden,)))
            if name == "SkipLayerNorm":
                ins.append((b.data_ptr(), code, (hidden,)))
            ins.append((bias_t.data_ptr(), code, (hidden,)))
            _C.launch(
                f"trtforge::{name}/1",
                ins,
                [(t.data_ptr(), code, (rows, hidden)) for t in (ys[i], sums[i])],
                {"epsilon": 1e-5},
                stream.cuda_stream,
                0,
            )

        # correctness first (float32 torch reference)
        xf = xs[0].float()
        tol = {"float32": 1e-5, "float16": 2e-3, "bfloat16": 1e-2}[dtype_name]
        for name in ("SkipLayerNorm", "SkipRMSNorm"):
            ys[0].fill_(float("nan"))
            sums[0].fill_(float("nan"))
            fused(name, 0, bias)
            torch.cuda.synchronize()
            sref = (xf + skips[0].float() + bias.float()).to(dt).float()
            if name == "SkipLayerNorm":
                ref = F.layer_norm(sref, (hidden,), g.float(), b.float(), 1e-5)
            else:
                ref = F.rms_norm(sref, (hidden,), g.float(), 1e-5)
            err = ((ys[0].float() - ref).norm() / ref.norm()).item()
            serr = ((sums[0].float() - sref).norm() / sref.norm()).item()
            if not (err <= tol and serr <= tol):
                print(f"CORRECTNESS FAIL {name} {dtype_name} {rows}x{hidden}: {err} {serr}")
                return None
        for name in ("LayerNorm", "RMSNorm"):
            ys[0].fill_(float("nan"))
            ours(name, 0)
            torch.cuda.synchronize()
            if name == "LayerNorm":
                ref = F.layer_norm(xf, (hidden,), g.float(), b.float(), 1e-5)
            else:
                ref = F.rms_norm(xf, (hidden,), g.float(), 1e-5)
            err = ((ys[0].float() - ref).norm() / ref.norm()).item()
            if not (err <= tol):
                print(f"CORRECTNESS FAIL {name} {dtype_name} {rows}x{hidden}: rel err {err}")
                return None

        io_bytes = 2 * tensor_bytes
        results = {}
        results["copy"] = (timeit(lambda i: ys[i].copy_(xs[i]), nbuf), io_bytes)
        for name, nw in (("LayerNorm", 2), ("RMSNorm", 1)):
            nbytes = io_bytes + nw * hidden * item
            results[f"trtforge {name}"] = (timeit(lambda i, n=name: ours(n, i), nbuf), nbytes)
        results["torch layer_norm"] = (
            timeit(lambda i: F.layer_norm(xs[i], (hidden,), g, b, 1e-5), nbuf),
            io_bytes + 2 * hidden * item,
        )
        results["torch rms_norm"] = (
            timeit(lambda i: F.rms_norm(xs[i], (hidden,), g, 1e-5), nbuf),
            io_bytes + hidden * item,
        )
        fused_bytes = 4 * tensor_bytes + 4 * hidden * item
        for name, nw in (("SkipLayerNorm", 2), ("SkipRMSNorm", 1)):
            results[f"trtforge {name}"] = (
                timeit(lambda i, n=name: fused(n, i, zeros), nbuf),
                fused_bytes - (2 - nw) * hidden * item,
            )

        def torch_add_norm(i, rms):
            torch.add(xs[i], skips[i], out=sums[i])
            if rms:
                F.rms_norm(sums[i], (hidden,), g, 1e-5)
            else:
                F.layer_norm(sums[i], (hidden,), g, b, 1e-5)

        results["torch add+layer_norm"] = (
            timeit(lambda i: torch_add_norm(i, False), nbuf),
            fused_bytes - hidden * item,
        )
        results["torch add+rms_norm"] = (
            timeit(lambda i: torch_add_norm(i, True), nbuf),
            fused_bytes - 2 * hidden * item,
        )
        for impl, ((med, lo, hi), nbytes) in results.items():
            row = {
                "dtype": dtype_name,
                "rows": rows,
                "hidden": hidden,
                "impl": impl,
                "median_us": med * 1e6,
                "min_us": lo * 1e6,
                "max_us": hi * 1e6,
                "bytes": nbytes,
                "GBps": nbytes / med / 1e9,
            }
            out.append(row)
        return out

    rows_out = []
    for dtype_name in DTYPES:
        for rows, hidden in SHAPES:
            res = bench_case(dtype_name, rows, hidden)
            if res is None:
                return 1
            rows_out.extend(res)
            torch.cuda.empty_cache()

    header = (
        f"# device: {dev.name}, {dev.multi_processor_count} SMs, L2 {l2 >> 20} MiB; "
        f"torch {torch.__version__}; {datetime.date.today()}; python {platform.python_version()}"
    )
    report(rows_out, header)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "device": dev.name,
                    "date": str(datetime.date.today()),
                    "torch": torch.__version__,
                    "results": rows_out,
                },
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
