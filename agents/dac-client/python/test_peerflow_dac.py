"""Unit tests of peerflow_dac without a consensus: the math on a replicated fake, and the HTTP
transport and error mapping against a tiny server on a Unix socket.

    python3 -m unittest test_peerflow_dac      (from this directory; the Rust tests run it too)
"""

import http.server
import json
import math
import os
import socketserver
import sys
import tempfile
import threading
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peerflow_dac as dac  # noqa: E402


class Replicated(dac.Client):
    """Every one of ``nodes`` nodes holds this node's input; the average is answered off by
    ``error`` per component (alternating signs), with that as its bound."""

    def __init__(self, nodes, error=0.0):
        super().__init__(socket_path="/nonexistent", timeout=1)
        self.nodes, self.error, self.calls = nodes, error, []

    def _call(self, method, path, payload):
        assert (method, path) == ("POST", "/v1/average")
        values = payload["values"]
        self.calls.append(values)
        value = [v + (self.error if i % 2 == 0 else -self.error) for i, v in enumerate(values)]
        return {
            "value": value,
            "residual_bound": self.error,
            "rounds": 7,
            "alive": list(range(self.nodes)),
            "epoch": 0,
        }


def regression():
    a = [[1.0, i / 10, (i / 10) ** 2] for i in range(20)]
    b = [2 - 3 * r[1] + 0.5 * r[2] + 0.01 * ((i * 7 % 5) - 2) for i, r in enumerate(a)]
    return a, b


def local_lstsq(a, b):
    return Replicated(1).lstsq(a, b).beta


class MathTest(unittest.TestCase):
    def test_sum_dot_matvec_scale_by_the_alive_nodes(self):
        c = Replicated(4)
        self.assertEqual(c.sum([1.0, -2.5]).value, [4.0, -10.0])
        self.assertEqual(c.dot([1, 2, 3], [4, 5, 6]).value, 128.0)
        self.assertEqual(c.matvec([[1, 2], [0, -1], [3, 0.5]], [2, 4]).value, [40.0, -16.0, 32.0])
        self.assertEqual(Replicated(4, 0.25).sum([1.0]).residual_bound, 1.0)

    def test_mean_rows(self):
        rows = [[1, 10], [2, 20], [6, -3]]
        c = Replicated(3)
        m = c.mean_rows(rows)
        self.assertEqual(m.value, [3.0, 9.0])
        self.assertEqual(c.calls, [[3.0, 9.0, 27.0]])
        for error in (1e-9, 1e-4, 0.1, 1.0):
            m = Replicated(3, error).mean_rows(rows)
            self.assertTrue(math.isfinite(m.residual_bound))
            for got, want in zip(m.value, [3.0, 9.0]):
                self.assertLessEqual(abs(got - want), m.residual_bound)

    def test_lstsq_packs_and_solves(self):
        c = Replicated(1)
        c.lstsq([[1, 2], [3, 4], [0, 1]], [1, 0, 2])
        self.assertEqual(c.calls, [[3.0, 10.0, 14.0, 21.0, 1.0, 4.0]])
        a, b = regression()
        exact = local_lstsq(a, b)
        s = Replicated(5).lstsq(a, b)
        self.assertEqual((s.rows, s.residual_bound), (100, 0.0))
        for got, want in zip(s.beta, exact):
            self.assertAlmostEqual(got, want, places=12)
        for error in (1e-10, 1e-6, 1e-3):
            s = Replicated(2, error).lstsq(a, b)
            self.assertTrue(math.isfinite(s.residual_bound))
            for got, want in zip(s.beta, exact):
                self.assertLessEqual(abs(got - want), s.residual_bound)
        self.assertEqual(Replicated(2, 10.0).lstsq(a, b).residual_bound, math.inf)

    def test_refusals(self):
        c = Replicated(2)
        for call in (
            lambda: c.dot([1], [1, 2]),
            lambda: c.matvec([[1]], [1, 2]),
            lambda: c.mean_rows([]),
            lambda: c.mean_rows([[1], [1, 2]]),
            lambda: c.mean_rows([[math.nan]]),
            lambda: c.lstsq([[1]], [1, 2]),
            lambda: c.average([math.inf]),
        ):
            with self.assertRaises(dac.DacError) as e:
                call()
            self.assertEqual(e.exception.code, "input")
        for a, b in (([[1, 2], [2, 4], [3, 6]], [1, 2, 3]), ([[1, 2, 3]], [1])):
            with self.assertRaises(dac.DacError) as e:
                c.lstsq(a, b)
            self.assertEqual(e.exception.code, "singular")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answers = {}

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self.server.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self._answer()

    def _answer(self):
        status, body = self.answers[self.path]
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))

    def address_string(self):
        return "unix"

    def log_message(self, *args):
        pass


class TransportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "dac.sock")
        self.server = _Server(self.path, _Handler)
        self.server.bodies = []
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        self.dir.cleanup()

    def test_answers_and_errors(self):
        _Handler.answers = {
            "/v1/node": (
                200,
                '{"job":7,"node":1,"nodes":3,"alive":[0,1,2],'
                '"topology":{"kind":"ring","degree":2,"seed":9},"decimals":6}',
            ),
            "/v1/average": (409, '{"code":"dropped","message":"node 1 was declared dropped"}'),
            "/v1/agree": (502, "bad gateway"),
        }
        c = dac.Client(self.path)
        info = c.node()
        self.assertEqual((info.job, info.node, info.nodes, info.decimals), (7, 1, 3, 6))
        with self.assertRaises(dac.DacError) as e:
            c.average([1.5, 2])
        self.assertEqual((e.exception.code, e.exception.status), ("dropped", 409))
        self.assertEqual(json.loads(self.server.bodies[0]), {"values": [1.5, 2.0]})
        with self.assertRaises(dac.DacError) as e:
            c.agree([1.0])
        self.assertEqual(e.exception.code, "internal")

    def test_environment_and_missing_socket(self):
        saved = os.environ.pop(dac.SOCKET_ENV, None)
        try:
            self.assertEqual(dac.Client().socket_path, dac.DEFAULT_SOCKET)
            os.environ[dac.SOCKET_ENV] = self.path
            self.assertEqual(dac.Client().socket_path, self.path)
        finally:
            os.environ.pop(dac.SOCKET_ENV, None)
            if saved is not None:
                os.environ[dac.SOCKET_ENV] = saved
        with self.assertRaises(dac.DacError) as e:
            dac.Client(os.path.join(self.dir.name, "none.sock")).node()
        self.assertEqual(e.exception.code, "connect")


if __name__ == "__main__":
    unittest.main()
