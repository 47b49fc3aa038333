"""Row-wise quantized embedding tables (int8 or int4 per row, with a per-row scale and offset).

Uses the fbgemm row-wise kernels that ship in PyTorch (``torch.ops.quantized.embedding_bag_byte_*`` and
``embedding_bag_4bit_*``): int8 rows store an fp32 scale and bias (8 bytes per row), int4 rows fp16 ones (4 bytes).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from bench.compress import Compressed, register_compression
from bench.compress._train import calibration_batches, output_fidelity
from bench.errors import NotApplicable

_MODES = {"sum": 0, "mean": 1, "max": 2}
_NOT_EXPORTABLE = "row-wise quantized embeddings use PyTorch's fbgemm quantized ops, which do not export to ONNX"


class RowwiseQuantizedEmbeddingBag(nn.Module):
    """An ``nn.EmbeddingBag`` (or ``nn.Embedding``) whose table is stored row-wise quantized to ``bits`` bits."""

    def __init__(self, table: nn.EmbeddingBag | nn.Embedding, bits: int):
        super().__init__()
        weight = table.weight.detach().float().contiguous()
        self.bits = bits
        self.num_embeddings, self.embedding_dim = weight.shape
        self.mode = _MODES[table.mode] if isinstance(table, nn.EmbeddingBag) else None  # None: plain lookup
        if bits == 8:
            packed = torch.ops.quantized.embedding_bag_byte_prepack(weight)
        elif bits == 4:
            packed = torch.ops.quantized.embedding_bag_4bit_prepack(weight)
        else:
            raise ValueError(f"bits must be 8 or 4, got {bits}")
        self.register_buffer("packed", packed)

    def _bags(self, indices: torch.Tensor, offsets: torch.Tensor, mode: int) -> torch.Tensor:
        op = (
            torch.ops.quantized.embedding_bag_byte_rowwise_offsets
            if self.bits == 8
            else torch.ops.quantized.embedding_bag_4bit_rowwise_offsets
        )
        return op(self.packed, indices, offsets, False, mode, False, None, None, False)

    def forward(self, indices: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
        if self.mode is None:  # nn.Embedding: every index is its own bag of one
            flat = indices.reshape(-1)
            offsets = torch.arange(flat.numel(), dtype=flat.dtype, device=flat.device)
            return self._bags(flat, offsets, _MODES["sum"]).reshape(*indices.shape, self.embedding_dim)
        if indices.dim() == 2:  # fixed-size bags, one per row
            rows, bag = indices.shape
            offsets = torch.arange(0, rows * bag, bag, dtype=indices.dtype, device=indices.device)
            indices = indices.reshape(-1)
        return self._bags(indices, offsets, self.mode)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, bits={self.bits}"


def quantize_embeddings(module: nn.Module, bits: int, min_rows: int) -> list[tuple[str, int, int]]:
    """Replace every EmbeddingBag/Embedding with at least ``min_rows`` rows in place; returns
    (name, fp32 bytes, quantized bytes) per table."""
    tables = [
        (name, m)
        for name, m in module.named_modules()
        if isinstance(m, (nn.EmbeddingBag, nn.Embedding)) and m.num_embeddings >= min_rows
    ]
    done = []
    for name, table in tables:
        quantized = RowwiseQuantizedEmbeddingBag(table, bits)
        parent_name, _, attr = name.rpartition(".")
        setattr(module.get_submodule(parent_name) if parent_name else module, attr, quantized)
        fp32_bytes = table.weight.numel() * 4
        done.append((name, fp32_bytes, quantized.packed.numel() * quantized.packed.element_size()))
    return done


def _quantize(bundle, placement, bits: int, min_rows: int) -> Compressed:
    if placement.device_type != "cpu":
        raise NotApplicable("the fbgemm row-wise quantized embedding kernels run on the CPU only")
    if bits == 4:  # fbgemm's 4-bit prepack raises deep inside the kernel otherwise
        for name, table in bundle.module.named_modules():
            odd = isinstance(table, (nn.EmbeddingBag, nn.Embedding)) and table.embedding_dim % 2
            if odd and table.num_embeddings >= min_rows:
                raise NotApplicable(
                    f"emb-int4 packs two 4-bit values per byte, so a table's embedding_dim must be even; "
                    f"{name} has {table.embedding_dim}"
                )
    module = copy.deepcopy(bundle.module)
    tables = quantize_embeddings(module, bits, min_rows)
    if not tables:
        raise NotApplicable(f"this model has no embedding tables with at least {min_rows} rows")
    fp32_bytes = sum(t[1] for t in tables)
    quantized_bytes = sum(t[2] for t in tables)
    info = {
        "backend": f"torch.ops.quantized.embedding_bag_{'byte' if bits == 8 else '4bit'}_rowwise_offsets",
        "quantized_tables": len(tables),
        "table_bytes_fp32": fp32_bytes,
        "table_bytes_quantized": quantized_bytes,
        "table_compression_x": round(fp32_bytes / quantized_bytes, 3),
        **output_fidelity(module, bundle.module, calibration_batches(bundle)[0]),
    }
    return Compressed(module=module, info=info, unsupported_engines={"onnxruntime": _NOT_EXPORTABLE})


@register_compression(
    "emb-int8",
    params={"min_rows": 1000},
    description="Row-wise int8 embedding tables (fp32 scale and bias per row); other layers stay fp32.",
)
def emb_int8(bundle, placement, min_rows: int) -> Compressed:
    return _quantize(bundle, placement, 8, min_rows)


@register_compression(
    "emb-int4",
    params={"min_rows": 1000},
    description="Row-wise int4 embedding tables (fp16 scale and bias per row); other layers stay fp32.",
)
def emb_int4(bundle, placement, min_rows: int) -> Compressed:
    return _quantize(bundle, placement, 4, min_rows)
