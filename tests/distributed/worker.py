"""A process of a hand-made process group (no launcher), run by path: `python worker.py MODE OUT`.

RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT come from the environment, as torchrun sets them;
the process joins with `trainwell.train.distributed.joined` (left with a barrier) and writes what it measured to
OUT (a torch file per rank). Modes:

  syncbn   trainwell's SyncBatchNorm (gloo) on this rank's slice of a fixed float64 batch: output,
           input/weight/bias gradients and running statistics after two steps; and what
           `gather_to_main` gives each rank.
  failures `from_main` with a UserError on rank 0: every rank must raise it (rank 1 as "rank 0
           stopped the run: ..."); then rank 1 stays alive but never takes part in the barrier
           rank 0 waits at: rank 0 must raise after TRAINWELL_DIST_TIMEOUT seconds, not wait for ever.
"""
import os
import sys
import time

import torch



def syncbn(procs, out: str) -> None:
    from trainwell.train.sync_batchnorm import SyncBatchNorm

    x, g = batch()
    rows = len(x) // procs.world_size
    mine = slice(procs.rank * rows, (procs.rank + 1) * rows)
    layer = SyncBatchNorm(3, momentum=0.3).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.5, -0.5, 2.0]))
        layer.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
    results = {}
    for step in range(2):
        xi = (x[mine] + step).requires_grad_(True)
        layer.weight.grad = layer.bias.grad = None
        y = layer(xi)
        (y * g[mine]).sum().backward()
        results[step] = {"y": y.detach(), "dx": xi.grad, "dw": layer.weight.grad.clone(), "db": layer.bias.grad.clone()}
    results["running_mean"], results["running_var"] = layer.running_mean.clone(), layer.running_var.clone()
    from trainwell.train.distributed import gather_to_main

    results["gathered"] = gather_to_main({"rank": procs.rank})
    torch.save(results, f"{out}.{procs.rank}")


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """A batch 8×3×5 (channels 1 and 2 far from zero mean) and an upstream gradient, float64."""
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(8, 3, 5, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 3.0, 0.5]).view(1, 3, 1)
    x = x + torch.tensor([0.0, 50.0, -4.0]).view(1, 3, 1)
    return x, torch.randn(8, 3, 5, generator=gen, dtype=torch.float64)


def failures(procs, out: str) -> None:
    import torch.distributed as dist

    from trainwell.errors import UserError
    from trainwell.train.distributed import from_main

    def claim():
        raise UserError("the run directory is a file")

    try:
        from_main(procs, claim)
        message = None
    except UserError as exc:
        message = str(exc)
    if procs.rank == 1:
        torch.save({"message": message}, f"{out}.1")
        deadline = time.time() + 120
        while not os.path.exists(f"{out}.0") and time.time() < deadline:  # alive but silent: rank 0's
            time.sleep(0.1)                                                # barrier must time out
        os._exit(0)
    start = time.perf_counter()
    try:
        dist.barrier()
        outcome = "returned"
    except Exception as exc:  # noqa: BLE001 — what the timeout raises is torch's
        outcome = f"raised {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    torch.save({"message": message, "outcome": outcome, "seconds": time.perf_counter() - start}, f"{out}.0")
    os._exit(0)  # do not wait for the silent peer at exit


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    from trainwell.train.distributed import joined

    with joined("cpu") as procs:  # left with a barrier and destroy_process_group: a group torn down by the
        {"syncbn": syncbn, "failures": failures}[mode](procs, out)  # interpreter's exit can abort the process
