"""A Tensor reads as an array where NumPy, numpy.ma and matplotlib ask for one, with NumPy's own
copy rules; a 0-d Tensor is a number there, not a sequence."""
import numpy as np
import pytest

from minirnn.tensor import Tensor


def sample(requires_grad=False):
    data = np.arange(6.0).reshape(2, 3) - 2.5
    return Tensor(data, requires_grad=requires_grad), data


def test_asarray_gives_the_data_and_array_copies_when_asked():
    t, data = sample(requires_grad=True)
    view = np.asarray(t)
    np.testing.assert_array_equal(view, data)
    assert np.shares_memory(view, t.data)             # as np.asarray(ndarray): no copy
    copied = np.array(t, copy=True)
    assert not np.shares_memory(copied, t.data)
    copied[0, 0] = 99.0
    assert t.data[0, 0] == data[0, 0]                 # a copy is a copy
    assert np.array(t).dtype == data.dtype
    cast = np.asarray(t, dtype=np.float32)
    assert cast.dtype == np.float32 and not np.shares_memory(cast, t.data)
    np.testing.assert_array_equal(cast, data.astype(np.float32))


def test_copy_false_refuses_a_cast_as_numpy_does_for_its_arrays():
    t, data = sample()
    with pytest.raises(ValueError):
        np.asarray(data, dtype=np.float32, copy=False)  # NumPy's own rule, for reference
    with pytest.raises(ValueError, match="copy=False"):
        np.asarray(t, dtype=np.float32, copy=False)
    assert np.shares_memory(np.asarray(t, dtype=t.dtype, copy=False), t.data)


def test_numpy_ma_reads_tensors():
    t, data = sample()
    np.testing.assert_array_equal(np.ma.ravel(t), data.ravel())
    assert np.ma.ravel(t).shape == (6,)
    masked = np.ma.asarray(t)
    assert isinstance(masked, np.ma.MaskedArray) and masked.shape == (2, 3)
    with_nan = Tensor(np.array([1.0, np.nan, 3.0]))
    invalid = np.ma.masked_invalid(with_nan)
    assert invalid.mask.tolist() == [False, True, False]
    assert invalid.sum() == 4.0


def test_rows_iterate_as_tensors_and_a_0d_tensor_is_not_a_sequence():
    t, data = sample()
    rows = list(t)
    assert len(rows) == 2 and all(isinstance(r, Tensor) for r in rows)
    np.testing.assert_array_equal(rows[1].data, data[1])
    scalar = Tensor(np.float64(2.5))
    for probe in (lambda: iter(scalar), lambda: len(scalar)):
        with pytest.raises(TypeError, match="0-d"):
            probe()
    with pytest.raises(TypeError):  # the same for NumPy's 0-d arrays
        iter(np.array(2.5))


def test_a_list_of_scalar_tensors_is_a_vector():
    losses = [Tensor(np.float64(v)) for v in (0.5, 0.25, 0.125)]
    array = np.asarray(losses)
    assert array.shape == (3,) and array.dtype == np.float64
    np.testing.assert_array_equal(array, [0.5, 0.25, 0.125])
    np.testing.assert_array_equal(np.ma.asarray(losses), [0.5, 0.25, 0.125])


def test_matplotlib_plots_tensors(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, data = sample(requires_grad=True)
    x = Tensor(np.array([0.0, 1.0, 2.0]))
    figure, axes = plt.subplots()
    try:
        (line,) = axes.plot(t[0])
        np.testing.assert_array_equal(line.get_ydata(), data[0])
        (line,) = axes.plot(x, t[1])
        np.testing.assert_array_equal(line.get_xdata(), [0.0, 1.0, 2.0])
        np.testing.assert_array_equal(line.get_ydata(), data[1])
        lines = axes.plot(t)                          # one line per column, as for an ndarray
        assert len(lines) == 3
        np.testing.assert_array_equal(lines[2].get_ydata(), data[:, 2])
        (line,) = axes.plot([Tensor(np.float64(v)) for v in (3.0, 2.0, 1.5)])
        np.testing.assert_array_equal(line.get_ydata(), [3.0, 2.0, 1.5])
        counts, _, _ = axes.hist(t[0], bins=3)
        assert counts.sum() == 3
        axes.scatter(x, t[0])
        axes.imshow(t)
        figure.savefig(tmp_path / "tensors.png")
    finally:
        plt.close(figure)
    assert (tmp_path / "tensors.png").stat().st_size > 0
