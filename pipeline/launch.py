"""`python -m pipeline.launch [--nnodes N] NPROC MODULE [ARGS...]`: run a stage module in NPROC
DDP processes per node under torchrun, or, on one node with NPROC 1, in this process (one process
needs no rendezvous, and torchrun's launcher costs about 2 s of start-up per stage).

One node uses torchrun's `--standalone` rendezvous. On N > 1 nodes every node runs this same
command (DVC on one of them, the launcher itself on the others, in the same folder of a shared
file system) and they meet at a c10d rendezvous whose endpoint comes from the environment:
`PET_RDZV_ENDPOINT` (torchrun's own variable), else `MASTER_ADDR` with `MASTER_PORT` (default
29400); its id from `PET_RDZV_ID`, else `SLURM_JOB_ID`, else "synthset"."""

from __future__ import annotations

import argparse
import os
import runpy
import sys

from pipeline.errors import ParamsError

DEFAULT_PORT = 29400


def rendezvous(environ: dict[str, str]) -> list[str]:
    """torchrun's c10d rendezvous arguments for several nodes, from the environment."""
    endpoint = environ.get("PET_RDZV_ENDPOINT")
    if not endpoint and environ.get("MASTER_ADDR"):
        endpoint = f"{environ['MASTER_ADDR']}:{environ.get('MASTER_PORT', DEFAULT_PORT)}"
    if not endpoint:
        raise ParamsError(
            "dist.nnodes > 1 needs a rendezvous endpoint: set PET_RDZV_ENDPOINT=HOST:PORT or "
            "MASTER_ADDR (and MASTER_PORT) to a host every node reaches"
        )
    job = environ.get("PET_RDZV_ID") or environ.get("SLURM_JOB_ID") or "synthset"
    return ["--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint}", f"--rdzv-id={job}"]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.launch", description=__doc__)
    parser.add_argument("--nnodes", type=int, default=1, help="nodes (default: 1)")
    parser.add_argument("nproc", type=int, help="processes per node")
    parser.add_argument("module", help="the stage module, e.g. pipeline.stages.train_gen")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the module's arguments")
    args = parser.parse_args(argv)
    if args.nnodes < 1 or args.nproc < 1:
        raise ParamsError("dist.nnodes and dist.nproc must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.nnodes == 1 and args.nproc == 1:
        sys.argv = [args.module, *args.args]
        runpy.run_module(args.module, run_name="__main__", alter_sys=True)
        return
    from torch.distributed.run import main as torchrun

    if args.nnodes == 1:
        where = ["--standalone"]
    else:
        where = [f"--nnodes={args.nnodes}", *rendezvous(dict(os.environ))]
    torchrun([*where, f"--nproc-per-node={args.nproc}", "-m", args.module, *args.args])


if __name__ == "__main__":
    main()
