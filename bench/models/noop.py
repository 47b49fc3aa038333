"""A no-op model: the harness measuring itself (``suites/harness.yaml``)."""

from __future__ import annotations

from bench.models import ModelBundle, register_model


@register_model(
    "noop",
    params={},
    description="Returns its input: measures what the harness adds per call.",
    item_bytes=lambda: (4, 0),  # one fp32 zero per item, returned as it is
)
def build_noop() -> ModelBundle:
    import torch

    module = torch.nn.Identity().eval()
    return ModelBundle(module=module, make_inputs=lambda batch_size: (torch.zeros(batch_size, 1),), task="noop")
