"""The benchmark scripts run and print their tables (minirnn only, reduced sizes: a few seconds).

The figures themselves are not checked, only that the scripts work: they are run by hand, with the
peers installed (`pip install ".[bench]"`), to drive optimisation work.
"""
import json
import math
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")
NUMBER = r"(\d+(?:\.\d+)?)"


def run(script, *args, timeout=120):
    proc = subprocess.run([sys.executable, os.path.join(BENCH, script), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_bench_rnn_quick_minirnn_only(tmp_path):
    out_json = tmp_path / "rnn.json"
    out = run("bench_rnn.py", "--quick", "--frameworks", "minirnn", "--repeats", "2",
              "--json", str(out_json))
    for config in ("small", "long"):
        for cell in ("SimpleRNN", "LSTM", "GRU"):
            medians, ratios = {}, {}
            for fw in ("minirnn fused", "minirnn unrolled"):
                row = re.search(rf"^{config}\s+{cell}\s+{fw}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+"
                                rf"{NUMBER}", out, re.M)
                assert row, f"no {fw} row for {config} {cell} in:\n{out}"
                median, best, ratios[fw], _ = map(float, row.groups())
                assert math.isfinite(median) and 0 < best <= median
                medians[fw] = median
            # the ratio column is each row's median over the fused row's (printed rounded)
            expected = medians["minirnn unrolled"] / medians["minirnn fused"]
            assert abs(ratios["minirnn unrolled"] - expected) <= 0.01 * expected + 0.006, (
                config, cell, ratios, medians)
            floor = re.search(rf"^{config}\s+{cell}\s+matmul floor\s+{NUMBER}.*fused/floor = "
                              rf"{NUMBER}", out, re.M)
            assert floor and float(floor.group(1)) > 0 and math.isfinite(float(floor.group(2)))
    assert "Summary" in out
    data = json.loads(out_json.read_text())
    assert data["frameworks"] == ["minirnn-fused", "minirnn-unrolled"]
    assert len(data["results"]) == 6
    for res in data["results"]:
        for fw, entry in res["frameworks"].items():
            assert len(entry["times_ms"]) == 2 and entry["untimed_steps"] == 1   # quick: 1 warm-up
            assert all(math.isfinite(t) and t > 0 for t in entry["times_ms"])
        # fused and unrolled start from the same weights and batch: the same first loss
        unrolled = res["frameworks"]["minirnn-unrolled"]
        assert unrolled["loss_rel_diff"] < 1e-4


def test_bench_rnn_rewarm_runs_an_untimed_step_before_each_timed_one(tmp_path):
    out_json = tmp_path / "rnn.json"
    out = run("bench_rnn.py", "--quick", "--frameworks", "minirnn", "--cells", "SimpleRNN",
              "--configs", "4x5x3x8", "--repeats", "3", "--warmup", "2", "--no-floor", "--rewarm",
              "--json", str(out_json))
    assert "each timed step after an untimed one of its own" in out
    data = json.loads(out_json.read_text())
    assert data["machine"]["rewarm"] is True
    for entry in data["results"][0]["frameworks"].values():
        assert len(entry["times_ms"]) == 3 and entry["untimed_steps"] == 2 + 3


def test_bench_rnn_skips_what_is_not_asked_for_and_rejects_unknown_names():
    out = run("bench_rnn.py", "--quick", "--frameworks", "minirnn-fused", "--cells", "GRU",
              "--configs", "4x5x3x8", "--repeats", "1", "--no-floor")
    assert re.search(rf"^4x5x3x8\s+GRU\s+minirnn fused\s+{NUMBER}", out, re.M)
    assert "minirnn unrolled" not in out and "matmul floor" not in out
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "bench_rnn.py"), "--frameworks",
                           "nosuch"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "unknown framework" in proc.stderr


def test_all_leaves_out_torch_without_onednn_unless_named(monkeypatch):
    sys.path.insert(0, BENCH)
    try:
        import frameworks
    finally:
        sys.path.remove(BENCH)
    monkeypatch.setattr(frameworks, "installed", lambda fw: True)   # whatever this machine has
    minirnn = ["minirnn-fused", "minirnn-unrolled"]
    chosen, notes = frameworks.resolve("all", frameworks.DEFAULT, minirnn)
    assert chosen == minirnn + ["tf", "torch", "jax", "autograd"] and notes == []
    chosen, _ = frameworks.resolve("all,torch-aten", frameworks.DEFAULT, minirnn)
    assert chosen[-2:] == ["autograd", "torch-aten"]
    monkeypatch.setattr(frameworks, "installed", lambda fw: fw not in frameworks.PEERS)
    chosen, notes = frameworks.resolve("minirnn-fused,torch-aten", frameworks.DEFAULT, minirnn)
    assert chosen == ["minirnn-fused"] and "torch no oneDNN is not installed" in notes[0]


def test_bench_memory_reduced(tmp_path):
    out_json = tmp_path / "mem.json"
    out = run("bench_memory.py", "--timesteps", "200,400", "--frameworks", "minirnn",
              "--json", str(out_json))
    assert "KB/timestep" in out
    row = re.search(rf"^minirnn fused\s+{NUMBER}\s+{NUMBER}\s+(-?\d+(?:\.\d+)?)\s+{NUMBER}\s+"
                    rf"{NUMBER}", out, re.M)
    assert row, out
    assert all(math.isfinite(float(v)) for v in row.groups())
    data = json.loads(out_json.read_text())
    entry = data["results"]["minirnn-fused"]
    # the fused path keeps a cache per timestep: its traced heap grows with T
    assert entry["tracemalloc_kb_per_timestep"] > 0
    assert [r["T"] for r in entry["runs"]] == [200, 400]


def test_bench_memory_passes_minirnn_kwargs_to_the_layer():
    # an option the layer does not know reaches it (and fails there): it is passed through
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "bench_memory.py"), "--timesteps",
                           "20,40", "--frameworks", "minirnn", "--minirnn-kwargs",
                           '{"no_such_option": true}'], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert "no_such_option" in proc.stdout + proc.stderr
    assert "failed" in proc.stdout


def test_bench_fit_data_reduced(tmp_path):
    out_json = tmp_path / "fitdata.json"
    out = run("bench_fit_data.py", "--samples", "64", "--batch", "16", "--timesteps", "4",
              "--units", "4", "--repeats", "2", "--json", str(out_json))
    for source in ("arrays", "PyDataset", "generator"):
        row = re.search(rf"^{source}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}", out, re.M)
        assert row, f"no {source} row in:\n{out}"
        median, best, per_step, ratio = map(float, row.groups())
        # ms/step is the unrounded median over 4 steps; the median is printed to 0.1 ms
        assert 0 < best <= median and math.isclose(per_step, median / 4, abs_tol=0.05 / 4 + 5e-4)
    rows = {r["source"]: r for r in json.loads(out_json.read_text())["rows"]}
    assert rows["arrays"]["ratio"] == 1.0 and set(rows) == {"arrays", "PyDataset", "generator"}
