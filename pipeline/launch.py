"""`python -m pipeline.launch N MODULE [ARGS...]`: run a stage module in N DDP processes under
torchrun (`torch.distributed.run --standalone`), or, when N is 1, in this process: one process
needs no rendezvous, and torchrun's launcher process costs about 2 s of start-up per stage."""

from __future__ import annotations

import runpy
import sys


def main(argv: list[str] | None = None) -> None:
    nproc, module, *args = sys.argv[1:] if argv is None else argv
    if int(nproc) == 1:
        sys.argv = [module, *args]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return
    from torch.distributed.run import main as torchrun

    torchrun(["--standalone", f"--nproc-per-node={nproc}", "-m", module, *args])


if __name__ == "__main__":
    main()
