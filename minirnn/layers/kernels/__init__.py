"""The fast segment kernels: each cell's step_forward / step_backward (layers/cells.py) run over a
segment of steps with caches in (S, B, ...) buffers, per-step work cut to what needs the step before.

common: the recurrent matmul with its dropout mask, BLAS choices, chunking, the base kernel and the
step-by-step kernel (the plain loop of layers/bptt.py) for cells without a kernel of their own.
simple_rnn, lstm, gru: one kernel each. The fused op (layers/fused.py) picks one per cell.
Nothing is imported here, so cells.py can import common without importing the kernels.
"""
