"""The frameworks the benchmarks know, and how a --frameworks list resolves (standard library only,
so a driver can read it before any framework or NumPy is imported)."""
import importlib.util

FRAMEWORKS = ["minirnn-fused", "minirnn-unrolled", "tf", "torch", "jax", "autograd", "torch-aten"]
# what 'all' runs: torch-aten is asked for by name, as a reference for what PyTorch's figures are
DEFAULT = FRAMEWORKS[:-1]
LABELS = {"minirnn-fused": "minirnn fused", "minirnn-unrolled": "minirnn unrolled",
          "tf": "tensorflow", "torch": "torch", "jax": "jax", "autograd": "autograd",
          "torch-aten": "torch no oneDNN"}
# peer -> (module that must be importable, name in the version line)
PEERS = {"tf": ("tensorflow", "tensorflow"), "torch": ("torch", "torch"), "jax": ("jax", "jax"),
         "autograd": ("autograd", "autograd"), "torch-aten": ("torch", "torch")}
ALIASES = {"tensorflow": "tf", "keras": "tf", "pytorch": "torch", "hips-autograd": "autograd"}


def installed(framework):
    """True where the peer's package can be imported (without importing it)."""
    return framework not in PEERS or importlib.util.find_spec(PEERS[framework][0]) is not None


def resolve(spec, default, minirnn):
    """The frameworks a comma list names, in order, and notes on the peers that are missing.

    default: the list 'all' stands for, alone or in a list ("all,torch-aten"); minirnn: what the
    bare name 'minirnn' stands for.
    """
    chosen, notes = [], []
    for name in (s.strip() for s in spec.split(",") if s.strip()):
        name = ALIASES.get(name, name)
        for fw in default if name == "all" else minirnn if name == "minirnn" else [name]:
            if fw not in FRAMEWORKS:
                raise SystemExit(f"unknown framework {fw!r}; expected minirnn or one of {FRAMEWORKS}")
            if not installed(fw):
                notes.append(f"note: {LABELS[fw]} is not installed; skipped "
                             f"(pip install '.[bench]', see setup.cfg)")
            elif fw not in chosen:
                chosen.append(fw)
    return chosen, notes
