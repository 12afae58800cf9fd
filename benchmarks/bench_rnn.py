#!/usr/bin/env python
"""Milliseconds per TRAINING STEP of `RNN(units) -> Dense(1)`, MSE on the last output, float32:
minirnn fused (unroll=False) and unrolled (unroll=True), against every installed peer.

    python benchmarks/bench_rnn.py                        # full grid, every installed peer
    python benchmarks/bench_rnn.py --quick                # small + long (T=200), 3 repeats
    python benchmarks/bench_rnn.py --frameworks minirnn,torch --cells LSTM --configs large
    python benchmarks/bench_rnn.py --json results.json    # also write the raw figures
    python benchmarks/bench_rnn.py --rewarm               # steps timed with warm caches

A training step is forward + BPTT + Adam update, run to completion. Peers:
  tf        TensorFlow/Keras: keras.layers.X + Dense, Adam, GradientTape in a tf.function
  torch     PyTorch: nn.RNN(tanh) / nn.LSTM / nn.GRU (batch_first) + Linear, torch.optim.Adam
  jax       JAX: jax.jit of the whole step, lax.scan over a hand-written cell, Keras's Adam inline
  autograd  HIPS autograd: generic per-timestep autodiff of the same cell, Keras's Adam by hand
  torch-aten  (by name only) PyTorch with oneDNN off, torch.backends.mkldnn.flags(enabled=False):
            on the CPU nn.LSTM trains through oneDNN's JIT-compiled fused RNN kernel; this shows
            the same model on PyTorch's generic operators, as its RNN and GRU always run
Peers that are not installed are skipped with a note (`pip install ".[bench]"`; PyTorch: see
setup.cfg). All start from the same weights and batch; the first step's loss is checked to agree.

Method: everything runs in ONE process with the same thread count (one by default: --threads),
set before any library is imported (thread env vars, torch.set_num_threads, TF's intra/inter-op
threads, XLA_FLAGS), and the process is pinned to that many CPUs (--no-pin to leave it free):
jaxlib's XLA runtime ignores its thread flags and runs a thread per core, two of them busy at
once. For each config and cell every framework is built and warmed up (compilation happens there),
then the frameworks take turns, one step each, round-robin, with the order rotated every
repetition, so that load on the machine falls on all alike. A timed step thus follows another
framework's and finds its caches cold; --rewarm puts an untimed step of its own before each,
as in a training loop (every framework gets faster, the peers more than minirnn). The table gives
the median over --repeats steps, its ratio to minirnn fused (>1: slower than minirnn fused), and
cpu/wall (process CPU time / wall time over the timed steps: about 1 for one busy thread, well
above 1 if a framework computed on several threads at once, below 1 if the machine was busy
elsewhere), and threads: over how many of the process's threads the framework's CPU work was
spread (each doing at least 10% of it, from /proc/self/task/*/stat; '?' where too little CPU time
was recorded to tell). Work spread over several threads that take turns (TensorFlow's executor,
XLA's runtime handing a scan from one pool thread to the next) still shows cpu/wall <= 1; only
cpu/wall above 1 means threads ran at the same time.

The matrix-product floor: the FLOPs of the matrix products one step needs (forward: the hoisted
input projection, the recurrent product per timestep, Dense; backward: dW_x, dW_h, dh per
timestep, Dense) at the time NumPy's BLAS takes for them on this machine with the same threads,
each product timed at the step's own shapes. `fused/floor` says how far minirnn fused is from
doing nothing but its matrix products.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import threadenv  # noqa: E402  (standard library only)
from frameworks import DEFAULT, LABELS, resolve as resolve_frameworks  # noqa: E402  (stdlib only)

CONFIGS = {"small": (32, 50, 16, 64), "medium": (64, 100, 32, 128),
           "large": (32, 100, 64, 256), "long": (1, 1000, 8, 32)}
QUICK_CONFIGS = {"small": (32, 50, 16, 64), "long": (1, 200, 8, 32)}   # --quick: fewer timesteps


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="a short run: small and long (T=200) configs, 3 repeats, 1 warm-up step")
    ap.add_argument("--repeats", type=int, default=None, help="timed steps per framework (25)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (3; quick: 1)")
    ap.add_argument("--frameworks", default="all",
                    help="comma list of minirnn (= minirnn-fused,minirnn-unrolled), "
                         "minirnn-fused, minirnn-unrolled, tf, torch, jax, autograd, torch-aten; "
                         "'all' (default) is minirnn and every installed peer but torch-aten "
                         "(PyTorch with oneDNN off: e.g. --frameworks all,torch-aten)")
    ap.add_argument("--cells", default="SimpleRNN,LSTM,GRU")
    ap.add_argument("--configs", default=None,
                    help="comma list of small, medium, large, long, or BxTxDxH (e.g. 8x20x4x16); "
                         "default: all four (quick: small,long)")
    ap.add_argument("--threads", type=int, default=1, help="threads for every framework (1)")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not restrict the process to --threads CPUs (by default it is, so "
                         "that no framework computes on more cores than --threads)")
    ap.add_argument("--rewarm", action="store_true",
                    help="before each timed step, one untimed step of the same framework, so that "
                         "each is timed with its own data and code in the caches, as in a "
                         "training loop (by default a step follows another framework's; twice "
                         "the run time)")
    ap.add_argument("--minirnn-kwargs", default="{}",
                    help='JSON keyword arguments for the minirnn layer, e.g. \'{"recompute": true}\'')
    ap.add_argument("--no-floor", action="store_true", help="skip the matrix-product floor")
    ap.add_argument("--json", metavar="FILE", help="write the raw figures to FILE")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    args.repeats = args.repeats or (3 if args.quick else 25)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    if args.repeats < 1 or args.warmup < 1:
        ap.error("--repeats and --warmup must be at least 1 (the first step compiles)")
    return args


def resolve_configs(spec, quick):
    table = QUICK_CONFIGS if quick else CONFIGS
    if spec is None:
        return dict(table)
    out = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        if item in table:
            out[item] = table[item]
        elif item in CONFIGS:
            out[item] = CONFIGS[item]
        else:
            try:
                B, T, D, H = (int(v) for v in item.lower().split("x"))
            except ValueError:
                raise SystemExit(f"unknown config {item!r}: expected one of {list(CONFIGS)} "
                                 f"or BxTxDxH") from None
            out[item] = (B, T, D, H)
    return out


def fmt_ms(ms):
    return f"{ms:.3f}" if ms < 10 else f"{ms:.2f}" if ms < 100 else f"{ms:.1f}"


def run_case(peers, name, cfg, cell, frameworks, args, minirnn_kwargs, log):
    import statistics
    import time
    B, T, D, H = cfg
    problem = peers.Problem(cell, B, T, D, H, seed=args.seed)
    steps, result = {}, {"config": name, "cell": cell, "B": B, "T": T, "D": D, "H": H,
                         "frameworks": {}}
    for fw in frameworks:
        entry = result["frameworks"][fw] = {}
        try:
            t0 = time.perf_counter()
            step = peers.build(fw, problem, threads=args.threads, minirnn_kwargs=minirnn_kwargs)
            losses = [step() for _ in range(args.warmup)]
            entry["warmup_s"] = time.perf_counter() - t0
            entry["first_losses"] = losses[:2]
            steps[fw] = step
        except Exception as error:  # a peer that fails is reported, the others go on
            entry["error"] = f"{type(error).__name__}: {error}"
            log(f"note: {LABELS[fw]} failed on {name} {cell}: {entry['error']}")
    order = list(steps)
    times = {fw: [] for fw in order}
    cpu = {fw: 0.0 for fw in order}
    thread_ticks = {fw: {} for fw in order}
    rewarmed = {fw: 0 for fw in order}
    for r in range(args.repeats):
        shift = r % len(order) if order else 0
        for fw in order[shift:] + order[:shift]:      # round-robin, rotated each repetition
            if args.rewarm:
                steps[fw]()                           # untimed: the caches hold this framework's
                rewarmed[fw] += 1
            before = peers.thread_cpu_ticks()         # read outside the timed window
            c0, t0 = time.process_time(), time.perf_counter()
            steps[fw]()
            t1, c1 = time.perf_counter(), time.process_time()
            after = peers.thread_cpu_ticks()
            times[fw].append((t1 - t0) * 1e3)
            cpu[fw] += c1 - c0
            for tid, ticks in after.items():
                used = ticks - before.get(tid, 0)
                if used > 0:
                    thread_ticks[fw][tid] = thread_ticks[fw].get(tid, 0) + used
    ref_loss = result["frameworks"].get("minirnn-fused", {}).get("first_losses")
    for fw in order:
        entry = result["frameworks"][fw]
        ts = times[fw]
        entry.update(times_ms=ts, untimed_steps=args.warmup + rewarmed[fw],
                     median_ms=statistics.median(ts), min_ms=min(ts),
                     cpu_per_wall=cpu[fw] / (sum(ts) / 1e3))
        ticks = sorted(thread_ticks[fw].values(), reverse=True)
        entry["thread_cpu_ticks"] = ticks
        # threads that did at least 10% of the framework's CPU work over the timed steps
        entry["busy_threads"] = sum(t >= 0.1 * sum(ticks) for t in ticks) if sum(ticks) >= 10 else None
        if ref_loss and fw != "minirnn-fused":
            entry["loss_rel_diff"] = abs(entry["first_losses"][0] - ref_loss[0]) / abs(ref_loss[0])
    fused = result["frameworks"].get("minirnn-fused", {}).get("median_ms")
    for fw in order:
        entry = result["frameworks"][fw]
        entry["vs_fused"] = entry["median_ms"] / fused if fused else None
    if not args.no_floor:
        floor = peers.matmul_floor(cell, B, T, D, H)
        result["floor"] = {"gflop": floor["flops"] / 1e9, "ms": floor["seconds"] * 1e3,
                           "gflops_per_s": floor["gflops"], "products": floor["products"]}
        if fused:
            result["floor"]["fused_over_floor"] = fused / result["floor"]["ms"]
    return result


def print_case(result, log, header=False):
    if header:
        log(f"{'config':<8} {'cell':<10} {'framework':<17} {'median ms':>10} {'min ms':>9} "
            f"{'x fused':>8} {'cpu/wall':>8} {'threads':>7}  check")
    cfg = f"{result['config']}"
    for fw, e in result["frameworks"].items():
        if "error" in e:
            log(f"{cfg:<8} {result['cell']:<10} {LABELS[fw]:<17} {'failed':>10}")
            continue
        ratio = f"{e['vs_fused']:.2f}" if e.get("vs_fused") else "-"
        diff = e.get("loss_rel_diff")
        check = "" if diff is None else ("loss ok" if diff < 1e-4 else f"LOSS DIFFERS {diff:.1e}")
        busy = "?" if e.get("busy_threads") is None else str(e["busy_threads"])
        log(f"{cfg:<8} {result['cell']:<10} {LABELS[fw]:<17} {fmt_ms(e['median_ms']):>10} "
            f"{fmt_ms(e['min_ms']):>9} {ratio:>8} {e['cpu_per_wall']:>8.2f} {busy:>7}  {check}")
    floor = result.get("floor")
    if floor:
        fused = floor.get("fused_over_floor")
        tail = f"   fused/floor = {fused:.1f}" if fused else ""
        log(f"{cfg:<8} {result['cell']:<10} {'matmul floor':<17} {fmt_ms(floor['ms']):>10} "
            f"{'':>9} {'':>8} {'':>8} {'':>7}  {floor['gflop']:.3f} GFLOP at "
            f"{floor['gflops_per_s']:.1f} GFLOP/s{tail}")


def print_summary(results, frameworks, log):
    log("")
    log("Summary: median ms per training step (ratio to minirnn fused); matrix-product floor")
    cols = [LABELS[fw] for fw in frameworks]
    width = 18
    log(f"{'config':<8} {'cell':<10} " + " ".join(f"{c:>{width}}" for c in cols)
        + f" {'floor ms':>9} {'fused/floor':>11}")
    for res in results:
        cells = []
        for fw in frameworks:
            e = res["frameworks"].get(fw, {})
            if "median_ms" not in e:
                cells.append(f"{'-':>{width}}")
                continue
            ratio = f" ({e['vs_fused']:.2f})" if e.get("vs_fused") else ""
            cells.append(f"{fmt_ms(e['median_ms']) + ratio:>{width}}")
        floor = res.get("floor") or {}
        fms = fmt_ms(floor["ms"]) if "ms" in floor else "-"
        fof = f"{floor['fused_over_floor']:.1f}" if floor.get("fused_over_floor") else "-"
        log(f"{res['config']:<8} {res['cell']:<10} " + " ".join(cells) + f" {fms:>9} {fof:>11}")


def machine_info():
    import platform
    info = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")),
                               None)
    except OSError:
        pass
    try:
        info["loadavg_start"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    return info


def main(argv=None):
    args = parse_args(argv)
    threadenv.set_thread_env(args.threads)
    cpus = threadenv.pin_cpus(args.threads) if args.pin else None
    threadenv.repo_root()
    import json
    import time
    import peers

    def log(line=""):
        print(line, flush=True)

    minirnn_kwargs = json.loads(args.minirnn_kwargs)
    configs = resolve_configs(args.configs, args.quick)
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    for c in cells:
        if c not in peers.CELLS:
            raise SystemExit(f"unknown cell {c!r}; expected some of {list(peers.CELLS)}")
    frameworks, notes = resolve_frameworks(args.frameworks, DEFAULT,
                                           minirnn=["minirnn-fused", "minirnn-unrolled"])
    for note in notes:
        log(note)
    if not frameworks:
        raise SystemExit("no framework to run")
    info = machine_info()
    info["versions"] = peers.versions(frameworks)
    from minirnn import blas
    info["numpy_blas_threads"] = blas.get_blas_threads()
    info["pinned_cpus"] = cpus
    info["rewarm"] = args.rewarm
    pinned = f" pinned to CPU {','.join(map(str, cpus))}" if cpus else ""
    log(f"bench_rnn: ms per training step (forward + BPTT + Adam), float32, threads={args.threads}"
        f"{pinned}, median of {args.repeats} after {args.warmup} warm-up, round-robin"
        + (", each timed step after an untimed one of its own" if args.rewarm else ""))
    log("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        + f"; cpu: {info.get('cpu')} x{info['cpus']}, OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']}"
        + (f"; minirnn layer kwargs {minirnn_kwargs}" if minirnn_kwargs else ""))
    log("configs: " + ", ".join(f"{n} (B={c[0]}, T={c[1]}, D={c[2]}, H={c[3]})"
                                 for n, c in configs.items()))
    log("")
    results, start = [], time.perf_counter()
    for i, (name, cfg) in enumerate(configs.items()):
        for j, cell in enumerate(cells):
            res = run_case(peers, name, cfg, cell, frameworks, args, minirnn_kwargs, log)
            results.append(res)
            print_case(res, log, header=(i == 0 and j == 0))
    print_summary(results, frameworks, log)
    info["wall_s"] = time.perf_counter() - start
    try:
        info["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    hot = sorted({LABELS[fw] for r in results for fw, e in r["frameworks"].items()
                  if e.get("cpu_per_wall", 0) > 1.25 * args.threads})
    spread = sorted({LABELS[fw] for r in results for fw, e in r["frameworks"].items()
                     if (e.get("busy_threads") or 0) > args.threads} - set(hot))
    if hot:
        log(f"note: cpu/wall above {args.threads} for {', '.join(hot)}: it computed on more than "
            f"--threads={args.threads} threads at once somewhere")
    if spread:
        log(f"note: the work of {', '.join(spread)} was spread over more than {args.threads} "
            f"thread(s) taking turns (cpu/wall stayed at or below {args.threads})")
    log(f"total {info['wall_s']:.0f} s; load average at start {info.get('loadavg_start')}, "
        f"at end {info.get('loadavg_end')}")
    if args.json:
        payload = {"benchmark": "bench_rnn", "threads": args.threads, "repeats": args.repeats,
                   "warmup": args.warmup, "quick": args.quick, "minirnn_kwargs": minirnn_kwargs,
                   "frameworks": frameworks, "skipped": notes, "machine": info, "results": results}
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=1, default=float)
        os.replace(tmp, args.json)
        log(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()
