#!/usr/bin/env python
"""Peak memory of ONE training step on a long sequence, and what each timestep adds.

    python benchmarks/bench_memory.py                      # LSTM, B=1, D=8, H=32, T=5000,10000
    python benchmarks/bench_memory.py --timesteps 200,400 --frameworks minirnn
    python benchmarks/bench_memory.py --minirnn-kwargs '{"recompute": true}' --json mem.json

The model and step are bench_rnn's (`RNN(units) -> Dense(1)`, MSE, Adam, float32, same weights
in every framework; minirnn is the fused path unless `minirnn-unrolled` is asked for). Each
(framework, T) runs in its own fresh subprocess, which builds the model and then measures the
first training step (JAX's step is compiled ahead of time when the model is built, and
TensorFlow's tf.function traced then; TensorFlow still optimises its graph on the first call):

    step peak = ru_maxrss after the step - RSS just before it

with free heap memory first handed back to the OS (glibc malloc_trim: otherwise garbage left by
building the model, which runs the layer once, is reused by the step unseen) and the kernel's
peak-RSS mark reset to the current RSS right before the step (Linux /proc/self/clear_refs), so an
earlier peak (imports, building) cannot hide the step's. Where that reset is not available the
difference of ru_maxrss before and after is used. What the first step still does once
(TensorFlow's graph optimisation), like every other constant, cancels in

    KB per timestep = (step peak at T2 - step peak at T1) / (T2 - T1)

the activation memory BPTT keeps per timestep. A slope near zero (or negative) would say that a
framework's per-timestep memory is below the run-to-run noise of its step's other allocations.
For minirnn the NumPy + Python heap peak seen by tracemalloc (a second step, in the same
subprocess) is given as well.

--minirnn-kwargs passes keyword arguments to the minirnn layer (e.g. '{"recompute": true}');
minirnn rows are then labelled with them.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import threadenv  # noqa: E402  (standard library only)
from frameworks import DEFAULT as ALL, LABELS, resolve as resolve_frameworks  # noqa: E402

DEFAULT = [fw for fw in ALL if fw != "minirnn-unrolled"]   # the fused path and every peer


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timesteps", default="5000,10000",
                    help="two (or more) sequence lengths, comma separated (5000,10000)")
    ap.add_argument("--frameworks", default="all",
                    help="comma list of minirnn (the fused path), minirnn-unrolled, tf, torch, "
                         "jax, autograd; 'all' (default): minirnn and every installed peer")
    ap.add_argument("--cell", default="LSTM", choices=["SimpleRNN", "LSTM", "GRU"])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--features", type=int, default=8)
    ap.add_argument("--units", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not restrict each measuring process to --threads CPUs")
    ap.add_argument("--minirnn-kwargs", default="{}",
                    help='JSON keyword arguments for the minirnn layer, e.g. \'{"recompute": true}\'')
    ap.add_argument("--no-tracemalloc", action="store_true",
                    help="skip minirnn's second, tracemalloc-measured step")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per subprocess")
    ap.add_argument("--json", metavar="FILE", help="write the raw figures to FILE")
    ap.add_argument("--worker", help=argparse.SUPPRESS)      # internal: one measurement
    ap.add_argument("--worker-timesteps", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        args.timesteps = sorted({int(t) for t in args.timesteps.split(",") if t.strip()})
    except ValueError:
        ap.error(f"--timesteps expects integers, e.g. 5000,10000; got {args.timesteps!r}")
    if args.worker is None and len(args.timesteps) < 2:
        ap.error("--timesteps needs two lengths at least, to take the per-timestep difference")
    try:
        args.minirnn_kwargs = json.loads(args.minirnn_kwargs)
    except ValueError as error:
        ap.error(f"--minirnn-kwargs is not JSON: {error}")
    if not isinstance(args.minirnn_kwargs, dict):
        ap.error("--minirnn-kwargs must be a JSON object")
    return args


# -- the worker: one framework, one T, in a fresh process -----------------------------------------

def _proc_status_kb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak():
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _release_free_memory():
    """Give memory that is free inside the process back to the OS (glibc's malloc_trim), so that
    garbage left by building the model (Keras-style builds run the layer once) is not silently
    reused by the step and hidden from the RSS measurement. True where it ran."""
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
        return True
    except (OSError, AttributeError):
        return False


def _maxrss_kb():
    import resource
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value / 1024 if sys.platform == "darwin" else value   # bytes on macOS


def worker(args):
    threadenv.set_thread_env(args.threads)
    if args.pin:
        threadenv.pin_cpus(args.threads)
    threadenv.repo_root()
    import gc
    import math
    import peers
    fw, T = args.worker, args.worker_timesteps
    problem = peers.Problem(args.cell, args.batch, T, args.features, args.units)
    step = peers.build(fw, problem, threads=args.threads, minirnn_kwargs=args.minirnn_kwargs)
    gc.collect()
    trimmed = _release_free_memory()
    reset = _reset_peak()
    rss0 = _proc_status_kb("VmRSS")
    max0 = _maxrss_kb()
    t0 = time.perf_counter()
    loss = step()
    seconds = time.perf_counter() - t0
    max1 = _maxrss_kb()
    if reset and rss0 is not None:
        peak, method = max1 - rss0, "ru_maxrss after - RSS before (peak reset)"
    if trimmed:
        method += ", free heap trimmed before"
    else:
        peak, method = max1 - max0, "ru_maxrss after - ru_maxrss before"
    out = {"framework": fw, "T": T, "peak_kb": peak, "method": method, "rss_before_kb": rss0,
           "maxrss_after_kb": max1, "step_s": seconds, "loss": loss,
           "finite": math.isfinite(loss)}
    if fw.startswith("minirnn") and not args.no_tracemalloc:
        import tracemalloc
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        step()
        out["tracemalloc_peak_kb"] = (tracemalloc.get_traced_memory()[1] - base) / 1024
        tracemalloc.stop()
    print("RESULT " + json.dumps(out), flush=True)


# -- the driver ----------------------------------------------------------------------------------

def measure(args, fw, T):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", fw, "--worker-timesteps", str(T),
           "--cell", args.cell, "--batch", str(args.batch), "--features", str(args.features),
           "--units", str(args.units), "--threads", str(args.threads),
           "--minirnn-kwargs", json.dumps(args.minirnn_kwargs)]
    if args.no_tracemalloc:
        cmd.append("--no-tracemalloc")
    if not args.pin:
        cmd.append("--no-pin")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"framework": fw, "T": T, "error": f"timed out after {args.timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"framework": fw, "T": T, "error": f"exit {proc.returncode}: {tail}"}


def reference_kb(cell, batch, units):
    """KB per timestep to keep the least BPTT needs in float32: h (and c) and the gate outputs."""
    floats = {"SimpleRNN": 1, "LSTM": 2 + 4, "GRU": 1 + 3 + 1}[cell] * units * batch
    return floats * 4 / 1024


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args)

    def log(line=""):
        print(line, flush=True)

    frameworks, notes = resolve_frameworks(args.frameworks, DEFAULT, minirnn=["minirnn-fused"])
    for note in notes:
        log(note)
    if not frameworks:
        raise SystemExit("no framework to run")
    T1, T2 = args.timesteps[0], args.timesteps[-1]
    extra = f", minirnn layer kwargs {args.minirnn_kwargs}" if args.minirnn_kwargs else ""
    log(f"bench_memory: peak memory of ONE training step, {args.cell}, B={args.batch}, "
        f"D={args.features}, H={args.units}, float32, threads={args.threads}, each (framework, T) "
        f"in a fresh process{extra}")
    results = {}
    for fw in frameworks:
        results[fw] = [measure(args, fw, T) for T in args.timesteps]
    def label_of(fw):
        return LABELS[fw] + (" " + json.dumps(args.minirnn_kwargs, separators=(",", ":"))
                             if fw.startswith("minirnn") and args.minirnn_kwargs else "")
    width = max([20] + [len(label_of(fw)) for fw in frameworks])
    tcols = " ".join(f"{'T=' + str(T) + ' MB':>13}" for T in args.timesteps)
    log(f"{'framework':<{width}} {tcols} {'KB/timestep':>12} {'step s (T=' + str(T2) + ')':>17}"
        f"  {'tracemalloc KB/timestep':>23}")
    summary = {}
    for fw in frameworks:
        runs = results[fw]
        label = label_of(fw)
        errors = [r["error"] for r in runs if "error" in r]
        if errors:
            log(f"{label:<{width}} failed: {errors[0]}")
            summary[fw] = {"error": errors[0], "runs": runs}
            continue
        first, last = runs[0], runs[-1]
        per_t = (last["peak_kb"] - first["peak_kb"]) / (T2 - T1)
        entry = {"kb_per_timestep": per_t, "runs": runs}
        tm = ""
        if "tracemalloc_peak_kb" in first:
            entry["tracemalloc_kb_per_timestep"] = \
                (last["tracemalloc_peak_kb"] - first["tracemalloc_peak_kb"]) / (T2 - T1)
            tm = f"{entry['tracemalloc_kb_per_timestep']:.3f}"
        summary[fw] = entry
        mbs = " ".join(f"{r['peak_kb'] / 1024:>13.1f}" for r in runs)
        log(f"{label:<{width}} {mbs} {per_t:>12.3f} {last['step_s']:>17.2f}  {tm:>23}")
    log(f"reference: {reference_kb(args.cell, args.batch, args.units):.3f} KB/timestep keeps "
        f"h{', c' if args.cell == 'LSTM' else ''} and the gate outputs in float32 "
        f"(what BPTT needs without recomputation)")
    methods = sorted({r["method"] for runs in results.values() for r in runs if "method" in r})
    log("method: " + "; ".join(methods))
    if args.json:
        payload = {"benchmark": "bench_memory", "cell": args.cell, "batch": args.batch,
                   "features": args.features, "units": args.units, "timesteps": args.timesteps,
                   "threads": args.threads, "minirnn_kwargs": args.minirnn_kwargs,
                   "skipped": notes, "results": summary,
                   "reference_kb_per_timestep": reference_kb(args.cell, args.batch, args.units)}
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=1)
        os.replace(tmp, args.json)
        log(f"wrote {args.json}")
    return summary


if __name__ == "__main__":
    main()
