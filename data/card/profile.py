"""The LLM's per-cut profile for CARD: FLOPs, smashed-data and adapter sizes.

For a decoder-only transformer (LLaMA style) and one mini-batch of N = batch x
sequence tokens, counting a multiply-add as 2 FLOPs:
- attention projections: 2 N (h*h [q] + h*kv [k] + h*kv [v] + h*h [o]),
  with kv = kv_heads * h / heads (grouped-query attention);
- attention itself: scores Q K^T and the weighted sum of V, 2 N L h each, so
  4 N L h per layer (L the sequence length; no causal halving);
- MLP (SwiGLU: gate, up, down): 2 N * 3 h * intermediate;
- LoRA adapters on the chosen projections: 2 N r (in + out) each;
- output head: 2 N h vocab; embedding lookup: 0 FLOPs;
- norms, activations and softmax: left out (well under 1 % here).
One local epoch = forward + backward = (1 + backward_forward_ratio) x forward.
Cut c: the device runs the embedding and layers 1..c, the server layers c+1..I
and the head. S(c) = S~(c) = N h bytes 8 bits (the activations at the cut and
their gradient); A(c) = bits of the LoRA adapters of layers 1..c.
A measured `layers` table (0 = embedding, 1..I, I+1 = head) replaces all this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.card.inputs import CardInputs


@dataclass(frozen=True)
class Profile:
    cuts: np.ndarray  # 0..I
    flops_total: float  # eta: one local epoch of the whole model (FLOP)
    flops_device: np.ndarray  # eta_D(c) (FLOP)
    smashed_bits: np.ndarray  # S(c) (bit)
    gradient_bits: np.ndarray  # S~(c) (bit)
    adapter_bits: np.ndarray  # A(c) (bit)
    source: str

    @property
    def layers(self) -> int:
        return len(self.cuts) - 1


def projection_shapes(llm: dict) -> dict[str, tuple[int, int]]:
    """(in, out) of every linear map of one decoder layer."""
    h, inter = llm["hidden_size"], llm["intermediate_size"]
    kv = llm["kv_heads"] * h // llm["attention_heads"]
    return {"q": (h, h), "k": (h, kv), "v": (h, kv), "o": (h, h), "gate": (h, inter), "up": (h, inter),
            "down": (inter, h)}


def parameter_count(llm: dict) -> int:
    """Weights of the model (embedding, layers' linear maps and norms, head unless tied)."""
    h, vocab = llm["hidden_size"], llm["vocab_size"]
    per_layer = sum(i * o for i, o in projection_shapes(llm).values()) + 2 * h
    head = 0 if llm["tied_embeddings"] else vocab * h
    return vocab * h + llm["layers"] * per_layer + h + head


def layer_table_from_llm(inputs: CardInputs) -> dict[str, np.ndarray]:
    """Per-layer forward FLOPs, output bits and adapter bits (rows: embedding, 1..I, head)."""
    p, llm = inputs.parameters, inputs.llm
    tokens = p["batch_size"] * p["sequence_length"]
    h, layers, rank = llm["hidden_size"], llm["layers"], p["lora_rank"]
    shapes = projection_shapes(llm)
    linear = 2 * tokens * sum(i * o for i, o in shapes.values())
    attention = 4 * tokens * p["sequence_length"] * h
    lora_params = sum(rank * (shapes[t][0] + shapes[t][1]) for t in p["lora_targets"])
    lora = 2 * tokens * lora_params
    activation_bits = tokens * h * p["bytes_per_value"] * 8
    forward = np.array([0.0] + [linear + attention + lora] * layers + [2.0 * tokens * h * llm["vocab_size"]])
    output = np.full(layers + 2, float(activation_bits))
    adapters = np.array([0.0] + [lora_params * p["bytes_per_value"] * 8.0] * layers + [0.0])
    return {"layer": np.arange(layers + 2, dtype=float), "forward_flops": forward, "output_bits": output,
            "adapter_bits": adapters}


def build_profile(inputs: CardInputs) -> Profile:
    table = inputs.layers if inputs.layers is not None else layer_table_from_llm(inputs)
    source = "layers sheet (measured)" if inputs.layers is not None else "computed from the llm sheet"
    epoch = 1.0 + inputs.parameter("backward_forward_ratio")
    forward = table["forward_flops"]
    layers = len(forward) - 2
    cuts = np.arange(layers + 1)
    device_forward = np.cumsum(forward[:-1])  # embedding + layers 1..c, c = 0..I
    return Profile(
        cuts=cuts,
        flops_total=float(epoch * forward.sum()),
        flops_device=epoch * device_forward,
        smashed_bits=table["output_bits"][:-1].copy(),
        gradient_bits=table["output_bits"][:-1].copy(),
        adapter_bits=np.concatenate([[0.0], np.cumsum(table["adapter_bits"][1:-1])]),
        source=source,
    )
