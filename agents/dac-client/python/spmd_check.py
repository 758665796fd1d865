"""One node of the SPMD check the Rust tests drive (agents/dac-client/tests/python.rs).

    PF_DAC_SOCKET=/path/node0.sock python3 spmd_check.py SHARD.json

SHARD.json holds this node's data: {"values", "a", "b", "m", "x", "rows", "la", "lb"}. The node
runs, in order: node, sum(values), dot(a, b), matvec(m, x), mean_rows(rows), lstsq(la, lb),
agree(the means), and prints one JSON object with each result. A DacError prints
{"error": code, "message": ...} and exits 3.
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peerflow_dac as dac  # noqa: E402


def main() -> int:
    with open(sys.argv[1]) as f:
        shard = json.load(f)
    try:
        info = dac.node()
        s = dac.sum(shard["values"])
        d = dac.dot(shard["a"], shard["b"])
        mv = dac.matvec(shard["m"], shard["x"])
        mean = dac.mean_rows(shard["rows"])
        fit = dac.lstsq(shard["la"], shard["lb"])
        agreed = dac.agree(mean.value, mean.residual_bound)
    except dac.DacError as e:
        print(json.dumps({"error": e.code, "message": e.message}))
        return 3
    print(
        json.dumps(
            {
                "node": info.node,
                "nodes": info.nodes,
                "sum": {"value": s.value, "residual_bound": s.residual_bound, "alive": s.alive},
                "dot": {"value": d.value, "residual_bound": d.residual_bound},
                "matvec": {"value": mv.value, "residual_bound": mv.residual_bound},
                "mean_rows": {"value": mean.value, "residual_bound": mean.residual_bound},
                "lstsq": {
                    "beta": fit.beta,
                    "residual_bound": fit.residual_bound,
                    "rows": fit.rows,
                },
                "agree": {"values": agreed.values, "decimals": agreed.decimals},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
