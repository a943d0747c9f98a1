"""Fine-tune the student and predict with it: a plain PyTorch loop, readable top to bottom.

Batches are padded per batch (dynamic padding). For a per-token head (NER) only the first sub-token of each word
carries a label (the rest get -100, which the loss ignores), and a word's prediction is read from
its first sub-token, so training and prediction agree on where a word's tag lives.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from transformers import BatchEncoding

from evokd.settings import MIN_STEPS, Context
from evokd.student.model import Head, Student
from evokd.task import MASKED, Example

IGNORE = -100  # label id that torch's cross-entropy (and so every HF head) skips


@dataclass
class TrainConfig:
    """Hyper-parameters of one fine-tuning run (defaults: the run settings' own, declared on `Context`).

    Those defaults are the recipe issue 12 measured on 200 teacher-labelled rotten_tomatoes reviews:
    3 epochs at lr 5e-5 collapsed to a constant predictor (macro-F1 0.296 on all three seeds), while
    10 epochs at lr 1e-4 with class-balanced batches reached 0.677 ± 0.011 (0.708 with gold labels).
    Up to 10 epochs is safe on larger sets only because the caller can pick the epoch on dev.
    """

    lr: float = Context.lr
    batch_size: int = Context.batch_size
    epochs: int = Context.epochs
    # Few-shot training sets are tiny: 3 epochs over 10 examples would be 3 optimizer steps. Such
    # under-trained students score near zero (measured: 15 steps gave span F1 0.03 where 125 gave
    # 0.63) and make every method compared against them look good. So epochs repeat until at least
    # this many optimizer steps have run; dev selection only looks at epochs past this point.
    min_steps: int = MIN_STEPS["classification"]  # a run's pass asks its task kind's (`Context.pass_steps`)
    max_length: int = Context.max_length
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    # With a dev scorer: stop after this many evaluated epochs without a better dev score (0 = never early).
    patience: int = Context.patience_epochs
    seed: int = 0
    # Train a whole-text head on each example's ``teacher_probs`` where it has them (hard label elsewhere).
    soft_targets: bool = Context.soft_targets


def train(
    student: Student,
    examples: list[Example],
    cfg: TrainConfig,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    balance_by: Sequence[str] | None = None,
    dev_score: Callable[[Student], float] | None = None,
) -> dict[str, Any]:
    """Fine-tune `student` in place on `examples`; return step count, final epoch loss, speed and the epoch kept.

    Inside a torch process group (`evokd.student.distributed`, or a user's own ``torchrun``) it trains
    data-parallel: every rank draws the same epoch order and takes its strided share, with a per-rank
    batch of ``batch_size / world`` so the global batch, the step count and the schedule stay those of
    one process; gradients are averaged by DistributedDataParallel, so every rank ends with the same weights.

    ``balance_by`` gives each example's class: every epoch then draws the classes equally often
    (`epoch_orders`). ``dev_score`` scores the student on held-out data (never test): it runs after
    every epoch once ``cfg.min_steps`` steps are done, the best epoch's weights are restored at the
    end, and training stops after ``cfg.patience`` evaluated epochs without a better score.
    """
    n = len(examples)
    if n == 0:  # nothing to learn: leave the weights alone; loss 0.0 (not NaN) keeps the stats JSON-safe
        return {
            "steps": 0,
            "epochs": 0,
            "loss": 0.0,
            "seconds": 0.0,
            "samples_per_s": 0.0,
            "examples": 0,
            "epoch": 0,
            "dev": None,
        }
    if balance_by is not None and len(balance_by) != n:
        raise ValueError(f"balance_by has {len(balance_by)} class keys for {n} examples")
    t0 = time.perf_counter()
    model, device = student.model, student.device
    torch.manual_seed(cfg.seed)  # dropout masks
    order_rng = torch.Generator().manual_seed(cfg.seed)  # batch order, independent of anything else drawing

    enc = _tokenize(student, examples, cfg.max_length)
    labels = _label_ids(student, examples, enc)
    targets = soft_targets(student.head, examples) if cfg.soft_targets and not student.head.per_token else None
    rank, world = _rank_and_world()
    per_rank = math.ceil(n / world)  # each rank's share of an epoch, the last ones topped up by wrapping round
    batch_size = math.ceil(cfg.batch_size / world)
    batches_per_epoch = math.ceil(per_rank / batch_size)
    epochs = max(cfg.epochs, math.ceil(cfg.min_steps / batches_per_epoch))
    total = epochs * batches_per_epoch
    warmup = int(cfg.warmup_ratio * total)

    # nanoGPT's split: decay matrices and embeddings, not biases or LayerNorm gains.
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        # The fused kernel (as transformers.Trainer uses) updates all tensors in one pass: on CPU the
        # default per-tensor loop took ~500 ms a step for MiniLM's 22.7 M parameters, fused ~70-100 ms.
        fused=device.type in ("cpu", "cuda"),
    )
    orders = epoch_orders(n, balance_by, order_rng)
    best = Best()
    forward = _data_parallel(model, device) if world > 1 else model
    model.train()
    step, epoch, loss_mean = 0, 0, 0.0
    for epoch in range(1, epochs + 1):
        order = next(orders)
        if world > 1:
            order = (order * 2)[rank : rank + per_rank * world : world]
        losses = []
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            # A slice of `labels` has its kind: all class ids or all tag-id rows.
            batch_labels = cast("list[int] | list[list[int]]", [labels[i] for i in idx])
            batch = collate([enc["input_ids"][i] for i in idx], _pad_id(student), batch_labels)
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * lr_factor(step, total, warmup)
            with _autocast(device):
                if targets is None:
                    loss = forward(**{k: v.to(device) for k, v in batch.items()}).loss
                else:  # the model's own loss reads hard labels only
                    logits = forward(**{k: v.to(device) for k, v in batch.items() if k != "labels"}).logits
                    loss = soft_cross_entropy(logits, targets[idx].to(device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)  # HF Trainer's default; tames the first steps of a fresh head
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.detach())  # no .item() per step: on a GPU that would wait for every step to finish
            step += 1
        loss_mean = torch.stack(losses).mean().item()
        progress = {"epoch": epoch, "epochs": epochs, "step": step, "steps": total, "loss": loss_mean}
        if dev_score is not None and step >= cfg.min_steps:
            progress["dev"] = best.offer(epoch, dev_score(student), student)
            model.train()  # scoring predicts, which leaves the model in eval mode
        if on_progress is not None:
            on_progress(progress)
        if cfg.patience and best.stale >= cfg.patience:
            break
    kept = best.restore(student) if best.epoch else epoch
    seconds = time.perf_counter() - t0
    return {
        "steps": step,
        "epochs": epoch,
        "loss": loss_mean,
        "seconds": seconds,
        "samples_per_s": n * epoch / seconds,
        "examples": n,
        "epoch": kept,
        "dev": best.score,
    }


def soft_targets(head: Head, examples: list[Example]) -> torch.Tensor:
    """One target distribution over ``head.names`` per example: its ``teacher_probs`` (renormalised over the
    head's classes) where it has them, else all mass on its label."""
    rows = torch.zeros((len(examples), len(head.names)))
    for i, ex in enumerate(examples):
        probs = ex.get("teacher_probs") or {ex["label"]: 1.0}
        rows[i] = torch.tensor([float(probs.get(name, 0.0)) for name in head.names])
        rows[i] /= rows[i].sum()
    return rows


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the predictions against target distributions (knowledge distillation's loss), batch mean."""
    return -(targets * logits.float().log_softmax(-1)).sum(-1).mean()


class Best:
    """The best dev-scored epoch so far, its weights kept on the CPU (a copy of a MiniLM is ~90 MB)."""

    def __init__(self) -> None:
        self.epoch, self.stale = 0, 0
        self.score: float | None = None
        self.weights: dict[str, torch.Tensor] = {}

    def offer(self, epoch: int, score: float, student: Student) -> float:
        """Keep this epoch if it beats the best so far (a tie keeps the earlier one); return the score."""
        if self.score is None or score > self.score:
            self.epoch, self.score, self.stale = epoch, score, 0
            self.weights = {k: v.detach().to("cpu", copy=True) for k, v in student.model.state_dict().items()}
        else:
            self.stale += 1
        return score

    def restore(self, student: Student) -> int:
        """Put the best epoch's weights back into the student; return that epoch."""
        student.model.load_state_dict(self.weights)
        return self.epoch


def epoch_orders(n: int, balance_by: Sequence[str] | None, rng: torch.Generator) -> Iterator[list[int]]:
    """Each epoch's order of example indices, endlessly.

    Without class keys: a fresh permutation. With them: n draws split as evenly as possible over the
    classes, so a 129/71 teacher-labelled set trains 100/100 and the student cannot win by always
    answering the majority class. Each class is drawn from its own endless stream (a new permutation
    whenever its examples run out), so minority examples repeat and majority ones take turns across
    epochs: every example is seen, the epoch length and the step count stay those of n examples.
    """
    if balance_by is None:
        while True:
            yield torch.randperm(n, generator=rng).tolist()
    classes = sorted(set(balance_by))
    streams = [_shuffled_forever([i for i, key in enumerate(balance_by) if key == c], rng) for c in classes]
    share, extra = divmod(n, len(classes))
    while True:
        lucky = set(torch.randperm(len(classes), generator=rng)[:extra].tolist())  # who gets the remainder's draws
        picks = [next(stream) for c, stream in enumerate(streams) for _ in range(share + (c in lucky))]
        yield [picks[i] for i in torch.randperm(n, generator=rng).tolist()]


def _shuffled_forever(members: list[int], rng: torch.Generator) -> Iterator[int]:
    """`members` in a new random order on every pass: each is drawn once before any is drawn twice."""
    while True:
        for i in torch.randperm(len(members), generator=rng).tolist():
            yield members[i]


def class_keys(head: Head, examples: list[Example]) -> list[str] | None:
    """Each example's class, what `train` can balance on; None for a per-token head, whose sentences hold
    many tags and no single class."""
    return None if head.per_token else [ex["label"] for ex in examples]


def predict(
    student: Student, examples: list[Example], batch_size: int = 64, max_length: int = Context.max_length
) -> list[str] | list[list[str]]:
    """Class names, or for a per-token head one tag per word; leaves the model in eval mode."""
    names = student.head.names
    probs = probabilities(student, examples, batch_size, max_length)
    if student.head.per_token:
        return [[names[t] for t in p.argmax(-1).tolist()] for p in probs]
    return [names[int(p.argmax())] for p in probs]


def probabilities(
    student: Student, examples: list[Example], batch_size: int = 64, max_length: int = Context.max_length
) -> list[torch.Tensor]:
    """Softmax scores over ``head.names``: one row per text, or for a per-token head one row per word
    (read from its first sub-token; a word truncated away is certain O). Leaves the model in eval mode."""
    if not examples:
        return []
    model = student.model
    enc = _tokenize(student, examples, max_length)
    # Sorting by length keeps padding per batch small; results are written back in input order.
    order = sorted(range(len(examples)), key=lambda i: len(enc["input_ids"][i]))
    out: list[Any] = [None] * len(examples)
    model.eval()  # type: ignore[no-untyped-call]  # transformers leaves eval() unannotated
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = collate([enc["input_ids"][i] for i in idx], _pad_id(student))
            with _autocast(student.device):
                logits = model(**{k: v.to(student.device) for k, v in batch.items()}).logits
            probs = logits.float().softmax(-1).cpu()
            for row, i in enumerate(idx):
                if student.head.per_token:
                    out[i] = word_rows(enc.word_ids(i), probs[row], len(examples[i]["tokens"]))
                else:
                    out[i] = probs[row]
    return out


def embeddings(
    student: Student, examples: list[Example], batch_size: int = 64, max_length: int = Context.max_length
) -> torch.Tensor:
    """One vector per text: the encoder body's last hidden states averaged over the text's sub-tokens (what
    the pool's diverse query clusters). Leaves the model in eval mode."""
    if not examples:
        return torch.zeros((0, 0))
    body, enc = student.model.base_model, _tokenize(student, examples, max_length)
    order = sorted(range(len(examples)), key=lambda i: len(enc["input_ids"][i]))
    out: list[Any] = [None] * len(examples)
    student.model.eval()  # type: ignore[no-untyped-call]  # transformers leaves eval() unannotated
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            padded = collate([enc["input_ids"][i] for i in idx], _pad_id(student))
            batch = {k: v.to(student.device) for k, v in padded.items()}
            with _autocast(student.device):
                hidden = body(**batch).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = ((hidden * mask).sum(1) / mask.sum(1)).cpu()
            for row, i in enumerate(idx):
                out[i] = pooled[row]
    return torch.stack(out)


def word_rows(word_ids: Sequence[int | None], subtoken_rows: torch.Tensor, n_words: int) -> torch.Tensor:
    """One score row per word, its first sub-token's; a word truncated away gets certain O (index 0)."""
    rows = torch.zeros((n_words, subtoken_rows.shape[-1]))
    rows[:, 0] = 1.0
    prev = None
    for pos, w in enumerate(word_ids):
        if w is not None and w != prev:
            rows[w] = subtoken_rows[pos]
        prev = w
    return rows


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warmup to 1 over `warmup` steps, then linear decay towards 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup  # +1: the first step already learns, unlike a schedule starting at 0
    return max(0.0, (total - step) / max(1, total - warmup))


def align_labels(word_ids: Sequence[int | None], word_tags: Sequence[str], tag2id: dict[str, int]) -> list[int]:
    """Sub-token label ids: a word's tag on its first sub-token, IGNORE on the rest, on special tokens and on a
    masked word (its tag is unknown: training it as outside-entity would teach a wrong answer)."""
    labels, prev = [], None
    for w in word_ids:
        labels.append(IGNORE if w is None or w == prev or word_tags[w] == MASKED else tag2id[word_tags[w]])
        prev = w
    return labels


def collate(
    rows: list[list[int]], pad_id: int, labels: list[int] | list[list[int]] | None = None
) -> dict[str, torch.Tensor]:
    """Right-pad a batch to its longest row; token labels are padded with IGNORE."""
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, : len(r)] = torch.tensor(r)
        attention_mask[i, : len(r)] = 1
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    if labels is not None and isinstance(labels[0], list):
        batch["labels"] = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        for i, lab in enumerate(labels):
            batch["labels"][i, : len(lab)] = torch.tensor(lab)
    elif labels is not None:
        batch["labels"] = torch.tensor(labels, dtype=torch.long)
    return batch


def _tokenize(student: Student, examples: list[Example], max_length: int) -> BatchEncoding:
    """Sub-token ids without padding; a per-token head keeps the word split so word_ids() maps sub-tokens to words."""
    if student.head.per_token:
        words = [ex["tokens"] for ex in examples]
        enc: BatchEncoding = student.tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    else:
        enc = student.tokenizer([ex["text"] for ex in examples], truncation=True, max_length=max_length)
    return enc


def _label_ids(student: Student, examples: list[Example], enc: BatchEncoding) -> list[int] | list[list[int]]:
    """Class ids, or aligned sub-token tag ids for a per-token head; an unknown label is a clear error, not a
    KeyError."""
    tag2id = {t: i for i, t in enumerate(student.head.names)}
    try:
        if student.head.per_token:
            return [align_labels(enc.word_ids(i), ex["tags"], tag2id) for i, ex in enumerate(examples)]
        return [tag2id[ex["label"]] for ex in examples]
    except KeyError as e:
        raise ValueError(f"training label {e.args[0]!r} is not one of the task's {list(tag2id)}") from None


def _pad_id(student: Student) -> int:
    """The tokenizer's pad id; any id works when it has none, since attention_mask hides padding."""
    pad = student.tokenizer.pad_token_id
    return 0 if pad is None else pad


def _rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of ranks: (0, 1) outside a process group."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _data_parallel(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The model wrapped for data-parallel training: the wrapper averages gradients across ranks."""
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on CUDA (faster, no loss scaling needed); full fp32 on CPU, where runs must be reproducible."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
