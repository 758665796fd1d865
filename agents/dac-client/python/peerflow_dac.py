"""peerflow_dac: client of peerflow's distributed average consensus (DAC), for cooperative jobs.

Used from inside a job's container (standard library only). Each of the job's N containers talks
to its own provider over the Unix socket named by ``PF_DAC_SOCKET`` (default
``/run/peerflow/dac.sock``); the providers run the consensus between themselves. Calls are SPMD:
every node makes the same sequence of calls with vectors of the same lengths, and each call
blocks until the consensus answers (``PF_DAC_TIMEOUT_S``, default an hour).

    import peerflow_dac as dac
    mean = dac.mean_rows(my_rows)          # column means over every node's rows
    fit = dac.lstsq(my_a, my_b)            # least squares over every node's rows
    out = dac.agree(fit.beta)              # identical rounding on every honest node

Each operation returns its value and the residual bound it reached: a bound on its distance to
the value one machine would compute from every alive node's data. Failures raise
:class:`DacError` with the server's ``code`` (``bad_request``, ``dropped``, ``isolated``,
``internal``) or the client's own (``connect``, ``io``, ``protocol``, ``input``, ``singular``).
"""

from __future__ import annotations

import http.client
import json
import math
import os
import socket
from dataclasses import dataclass
from typing import Optional, Sequence

__all__ = [
    "DEFAULT_SOCKET",
    "SOCKET_ENV",
    "TIMEOUT_ENV",
    "Agreed",
    "Client",
    "DacError",
    "NodeInfo",
    "Outcome",
    "Scalar",
    "Solution",
    "agree",
    "average",
    "dot",
    "lstsq",
    "matvec",
    "mean_rows",
    "node",
    "sum",
]

SOCKET_ENV = "PF_DAC_SOCKET"
DEFAULT_SOCKET = "/run/peerflow/dac.sock"
TIMEOUT_ENV = "PF_DAC_TIMEOUT_S"
DEFAULT_TIMEOUT = 3600.0

_MAX_BODY = 1 << 30


class DacError(Exception):
    """A failed DAC call: ``code`` (the server's, or the client's own) and ``message``."""

    def __init__(self, code: str, message: str, status: Optional[int] = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class NodeInfo:
    """This node's view of the job (``GET /v1/node``)."""

    job: int
    node: int
    nodes: int
    alive: list
    topology: dict
    decimals: int


@dataclass(frozen=True)
class Outcome:
    """A vector reached by consensus; ``residual_bound`` bounds ``|value - exact|`` per component."""

    value: list
    residual_bound: float
    rounds: int
    alive: list
    epoch: int


@dataclass(frozen=True)
class Scalar:
    """A scalar reached by consensus (:meth:`Client.dot`)."""

    value: float
    residual_bound: float
    rounds: int
    alive: list


@dataclass(frozen=True)
class Solution:
    """A least-squares solution; ``residual_bound`` bounds ``|beta - exact beta|`` per component."""

    beta: list
    residual_bound: float
    rounds: int
    alive: list
    epoch: int
    rows: int


@dataclass(frozen=True)
class Agreed:
    """Values rounded to ``decimals``, adopted from node ``source`` where close enough."""

    values: list
    decimals: int
    source: int


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket."""

    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Client:
    """A client of this container's DAC server."""

    def __init__(self, socket_path: Optional[str] = None, timeout: Optional[float] = None):
        self.socket_path = socket_path or os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET
        if timeout is None:
            try:
                timeout = float(os.environ.get(TIMEOUT_ENV, ""))
            except ValueError:
                timeout = DEFAULT_TIMEOUT
            if not (math.isfinite(timeout) and timeout > 0):
                timeout = DEFAULT_TIMEOUT
        self.timeout = timeout

    # -- the local API -------------------------------------------------------------------------

    def node(self) -> NodeInfo:
        """This node's index, the number of nodes, the alive ones, the topology and decimals."""
        j = self._call("GET", "/v1/node", None)
        try:
            return NodeInfo(
                job=int(j["job"]),
                node=int(j["node"]),
                nodes=int(j["nodes"]),
                alive=[int(n) for n in j["alive"]],
                topology=dict(j["topology"]),
                decimals=int(j["decimals"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise DacError("protocol", f"GET /v1/node: {e!r}") from None

    def average(self, values: Sequence[float]) -> Outcome:
        """The average over the alive nodes of each node's ``values`` (same length everywhere)."""
        values = _finite(values)
        j = self._call("POST", "/v1/average", {"values": values})
        try:
            outcome = Outcome(
                value=[float(v) for v in j["value"]],
                residual_bound=_bound(j["residual_bound"]),
                rounds=int(j["rounds"]),
                alive=[int(n) for n in j["alive"]],
                epoch=int(j["epoch"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise DacError("protocol", f"POST /v1/average: {e!r}") from None
        if len(outcome.value) != len(values):
            raise DacError(
                "protocol", f"average of {len(values)} values answered with {len(outcome.value)}"
            )
        if not outcome.alive:
            raise DacError("protocol", "average answered with no alive node")
        return outcome

    def agree(self, values: Sequence[float], bound: Optional[float] = None) -> Agreed:
        """``values`` rounded to the job's decimals the way every honest node rounds them.

        ``bound``: how far ``values`` may lie from the consensus value (the residual bound of the
        operation that produced them); honest nodes then agree even when their values differ by
        more than a rounding step."""
        values = _finite(values)
        body = {"values": values}
        if bound is not None and math.isfinite(bound) and bound >= 0:
            body["bound"] = float(bound)
        j = self._call("POST", "/v1/agree", body)
        try:
            agreed = Agreed(
                values=[float(v) for v in j["values"]],
                decimals=int(j["decimals"]),
                source=int(j["source"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise DacError("protocol", f"POST /v1/agree: {e!r}") from None
        if len(agreed.values) != len(values):
            raise DacError(
                "protocol", f"agree on {len(values)} values answered with {len(agreed.values)}"
            )
        return agreed

    # -- operations built on the average -------------------------------------------------------

    def sum(self, values: Sequence[float]) -> Outcome:
        """The sum over the alive nodes: n * average; bound * n."""
        o = self.average(values)
        n = len(o.alive)
        return Outcome(
            value=[v * n for v in o.value],
            residual_bound=o.residual_bound * n,
            rounds=o.rounds,
            alive=o.alive,
            epoch=o.epoch,
        )

    def dot(self, a: Sequence[float], b: Sequence[float]) -> Scalar:
        """The global dot product of two row-split vectors."""
        if len(a) != len(b):
            raise DacError("input", f"dot of vectors of lengths {len(a)} and {len(b)}")
        o = self.sum([_dot(a, b)])
        return Scalar(o.value[0], o.residual_bound, o.rounds, o.alive)

    def matvec(self, m: Sequence[Sequence[float]], x: Sequence[float]) -> Outcome:
        """The sum over nodes of M_i x_i (each node holds a block of columns of M and of x)."""
        for i, row in enumerate(m):
            if len(row) != len(x):
                raise DacError(
                    "input", f"row {i} of M has {len(row)} columns, x has {len(x)} components"
                )
        return self.sum([_dot(row, x) for row in m])

    def mean_rows(self, rows: Sequence[Sequence[float]]) -> Outcome:
        """Column means over row-split data: average of [count, column sums], then the ratio."""
        columns = _rectangular(rows, "rows")
        local = [float(len(rows))] + [0.0] * columns
        for row in rows:
            for j, v in enumerate(row):
                local[1 + j] += v
        o = self.average(local)
        count, r = o.value[0], o.residual_bound
        if count <= 0:
            raise DacError("protocol", f"averaged row count {count} is not positive")
        bound = max((_ratio_bound(s, count, r) for s in o.value[1:]), default=0.0)
        return Outcome(
            value=[s / count for s in o.value[1:]],
            residual_bound=bound,
            rounds=o.rounds,
            alive=o.alive,
            epoch=o.epoch,
        )

    def lstsq(self, a: Sequence[Sequence[float]], b: Sequence[float]) -> Solution:
        """Least squares over row-split data (node i holds rows A_i and b_i).

        The nodes average [n_i, upper triangle of A_i^T A_i, A_i^T b_i]: the averages are
        A^T A / n and A^T b / n of the stacked rows, whose solution (Gaussian elimination with
        partial pivoting) is the single-machine beta. Bound: with the averages within r,
        |beta - exact|_inf <= k (r + p r |beta|_inf) / (1 - k p r), k = |G^-1|_inf.
        """
        p = _rectangular(a, "A")
        if len(b) != len(a):
            raise DacError("input", f"A has {len(a)} rows, b has {len(b)} components")
        _finite(b)
        tri = p * (p + 1) // 2
        local = [0.0] * (1 + tri + p)
        local[0] = float(len(a))
        for row, y in zip(a, b):
            t = 1
            for j in range(p):
                for k in range(j, p):
                    local[t] += row[j] * row[k]
                    t += 1
                local[1 + tri + j] += row[j] * y
        o = self.average(local)
        count = o.value[0]
        g = [[0.0] * p for _ in range(p)]
        t = 1
        for j in range(p):
            for k in range(j, p):
                g[j][k] = g[k][j] = o.value[t]
                t += 1
        h = o.value[1 + tri :]
        rows = max(0, round(count * len(o.alive)))
        if rows < p:
            raise DacError("singular", f"{rows} rows over all nodes for {p} unknowns")
        lu = _Lu(g)
        beta = lu.solve(h)
        r = o.residual_bound
        if r == 0:
            bound = 0.0
        else:
            kappa = lu.inverse_norm_inf()
            pr = p * r
            if kappa * pr >= 1:
                bound = math.inf
            else:
                bound = kappa * (r + pr * max(abs(v) for v in beta)) / (1 - kappa * pr)
        return Solution(beta, bound, o.rounds, o.alive, o.epoch, rows)

    # -- transport -----------------------------------------------------------------------------

    def _call(self, method: str, path: str, payload: Optional[dict]):
        body = None if payload is None else json.dumps(payload, allow_nan=False).encode()
        conn = _UnixHTTPConnection(self.socket_path, self.timeout)
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Connection": "close",
        }
        if body is None:
            headers["Content-Length"] = "0"
        try:
            try:
                conn.connect()
            except OSError as e:
                raise DacError("connect", f"cannot connect to the DAC socket {self.socket_path}: {e}") from None
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read(_MAX_BODY + 1)
            except (OSError, http.client.HTTPException) as e:
                raise DacError("io", f"{method} {path}: {e!r}") from None
        finally:
            conn.close()
        if len(data) > _MAX_BODY:
            raise DacError("protocol", f"{method} {path}: body too large")
        status = response.status
        if not 200 <= status < 300:
            try:
                err = json.loads(data)
                code, message = str(err["code"]), str(err.get("message", ""))
            except (ValueError, KeyError, TypeError):
                code = "internal" if status >= 500 else "bad_request"
                message = data.decode("utf-8", "replace").strip()
            raise DacError(code, message, status)
        try:
            return json.loads(data)
        except ValueError as e:
            raise DacError("protocol", f"{method} {path}: {e}") from None


class _Lu:
    """P A = L U by Gaussian elimination with partial pivoting (a small dense square matrix)."""

    def __init__(self, a: Sequence[Sequence[float]]):
        n = len(a)
        lu = [list(map(float, row)) for row in a]
        if any(not math.isfinite(v) for row in lu for v in row):
            raise DacError("singular", "the matrix is not finite")
        scale = max((abs(v) for row in lu for v in row), default=0.0)
        if n and scale == 0:
            raise DacError("singular", "the matrix is zero")
        tiny = scale * 2.0**-52 * max(n, 1)
        perm = list(range(n))
        for k in range(n):
            pivot_row = max(range(k, n), key=lambda i: abs(lu[i][k]))
            pivot = lu[pivot_row][k]
            if abs(pivot) <= tiny:
                raise DacError(
                    "singular",
                    f"pivot {pivot:e} in column {k} (largest entry {scale:e}): "
                    "the columns are (nearly) linearly dependent",
                )
            if pivot_row != k:
                lu[k], lu[pivot_row] = lu[pivot_row], lu[k]
                perm[k], perm[pivot_row] = perm[pivot_row], perm[k]
            for i in range(k + 1, n):
                f = lu[i][k] / pivot
                lu[i][k] = f
                for j in range(k + 1, n):
                    lu[i][j] -= f * lu[k][j]
        self.n, self.lu, self.perm = n, lu, perm

    def solve(self, b: Sequence[float]) -> list:
        n, lu = self.n, self.lu
        x = [float(b[p]) for p in self.perm]
        for i in range(n):
            for j in range(i):
                x[i] -= lu[i][j] * x[j]
        for i in reversed(range(n)):
            for j in range(i + 1, n):
                x[i] -= lu[i][j] * x[j]
            x[i] /= lu[i][i]
        return x

    def inverse_norm_inf(self) -> float:
        rows = [0.0] * self.n
        for j in range(self.n):
            e = [0.0] * self.n
            e[j] = 1.0
            for i, v in enumerate(self.solve(e)):
                rows[i] += abs(v)
        return max(rows, default=0.0)


def _bound(value) -> float:
    """A residual bound; ``null`` (how JSON writes an infinite one) is infinity."""
    return math.inf if value is None else float(value)


def _finite(values: Sequence[float]) -> list:
    out = [float(v) for v in values]
    for i, v in enumerate(out):
        if not math.isfinite(v):
            raise DacError("input", f"component {i} is {v} (only finite values can be averaged)")
    return out


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    total = 0.0
    for x, y in zip(a, b):
        total += x * y
    return total


def _rectangular(rows: Sequence[Sequence[float]], what: str) -> int:
    if not rows:
        raise DacError("input", f"{what} has no rows")
    columns = len(rows[0])
    if columns == 0:
        raise DacError("input", f"{what} has no columns")
    for i, row in enumerate(rows):
        if len(row) != columns:
            raise DacError("input", f"row {i} of {what} has {len(row)} values, row 0 has {columns}")
        try:
            _finite(row)
        except DacError as e:
            raise DacError("input", f"row {i} of {what}: {e.message}") from None
    return columns


def _ratio_bound(s: float, c: float, r: float) -> float:
    """Bound on |s^/c^ - s/c| when |s^ - s| <= r and |c^ - c| <= r."""
    if r == 0:
        return 0.0
    if c <= r:
        return math.inf
    return r * (abs(s) + c) / (c * (c - r))


# -- module-level functions on a default client (PF_DAC_SOCKET) ------------------------------------

_default: Optional[Client] = None


def _client() -> Client:
    global _default
    if _default is None:
        _default = Client()
    return _default


def node() -> NodeInfo:
    """:meth:`Client.node` on the default client."""
    return _client().node()


def average(values: Sequence[float]) -> Outcome:
    """:meth:`Client.average` on the default client."""
    return _client().average(values)


def sum(values: Sequence[float]) -> Outcome:  # noqa: A001 (the API's name)
    """:meth:`Client.sum` on the default client."""
    return _client().sum(values)


def dot(a: Sequence[float], b: Sequence[float]) -> Scalar:
    """:meth:`Client.dot` on the default client."""
    return _client().dot(a, b)


def matvec(m: Sequence[Sequence[float]], x: Sequence[float]) -> Outcome:
    """:meth:`Client.matvec` on the default client."""
    return _client().matvec(m, x)


def mean_rows(rows: Sequence[Sequence[float]]) -> Outcome:
    """:meth:`Client.mean_rows` on the default client."""
    return _client().mean_rows(rows)


def lstsq(a: Sequence[Sequence[float]], b: Sequence[float]) -> Solution:
    """:meth:`Client.lstsq` on the default client."""
    return _client().lstsq(a, b)


def agree(values: Sequence[float], bound: Optional[float] = None) -> Agreed:
    """:meth:`Client.agree` on the default client."""
    return _client().agree(values, bound)
