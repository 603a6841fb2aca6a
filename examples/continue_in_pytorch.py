"""Continue a tinyllm run in PyTorch, on one process or many: transformers + torch.distributed.

    tinyllm export --run runs/NAME --out hf/NAME       # the run as a Hugging Face directory
    torchrun --nproc_per_node=2 examples/continue_in_pytorch.py \\
        --model hf/NAME --corpus my.txt --out hf/NAME-continued --max-iters 200
    tinyllm sample --run hf/NAME-continued             # and back into tinyllm

`torchrun --nproc_per_node=N` starts N copies of this script, one per CPU socket or GPU, and
tells each its rank. Every copy builds the same model (DistributedDataParallel broadcasts rank
0's weights), draws batches of its own, and after each backward DDP averages the gradients of
all copies (an all-reduce), so one optimizer step sees N batches and all copies stay equal. On
CPUs the processes talk through the gloo backend, on GPUs (one per process) through nccl. With
several machines, run torchrun on each with `--nnodes`, `--node_rank` and `--master_addr`.
Without torchrun (`python examples/continue_in_pytorch.py ...`) it trains in one process.

Rank 0 saves the result with `save_pretrained`: a directory `tinyllm sample --run` reads, and
`tinyllm train --init-from` continues. This script needs torch and transformers
(`pip install torch transformers`), which tinyllm itself never depends on.
"""

import argparse
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from transformers import AutoModelForCausalLM, AutoTokenizer


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="an HF directory (tinyllm export --out)")
    parser.add_argument("--corpus", required=True, help="a UTF-8 text file to train on")
    parser.add_argument("--out", required=True, help="directory to save the trained model in")
    parser.add_argument("--max-iters", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16, help="sequences per process")
    parser.add_argument("--block-size", type=int, default=256, help="at most the model's")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1337)
    return parser.parse_args()


def main():
    args = parse_args()
    distributed = "RANK" in os.environ  # torchrun sets RANK, LOCAL_RANK and WORLD_SIZE
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.manual_seed(args.seed + rank)  # each process draws batches of its own

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).to(device)
    with open(args.corpus, encoding="utf-8") as f:
        ids = torch.tensor(tokenizer(f.read())["input_ids"], dtype=torch.long)
    block_size = min(args.block_size, model.config.max_position_embeddings)
    if rank == 0:
        print(f"{type(model).__name__}, {model.num_parameters():,} parameters, {len(ids):,} "
              f"tokens, {world} process(es) on {device.type}")  # fmt: skip
    trained = DistributedDataParallel(model) if distributed else model
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.1
    )

    model.train()
    for step in range(args.max_iters + 1):
        starts = torch.randint(len(ids) - block_size, (args.batch_size,)).tolist()
        x = torch.stack([ids[s : s + block_size] for s in starts]).to(device)
        loss = trained(input_ids=x, labels=x).loss  # the model shifts the labels by one
        if step % args.log_interval == 0 or step == args.max_iters:
            mean = loss.detach().clone()
            if distributed:
                dist.all_reduce(mean)  # a sum (gloo has no average), divided below
            if rank == 0:
                print(f"step {step}: train loss {mean.item() / world:.4f}")
        if step == args.max_iters:
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # DDP averages the gradients of all processes here
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    if rank == 0:
        model.save_pretrained(args.out)
        tokenizer.save_pretrained(args.out)
        print(f"saved {args.out}: tinyllm sample --run {args.out}")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
