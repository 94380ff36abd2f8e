#!/usr/bin/env python3
"""Dump a video LLM's KV cache (and the question's queries) for `vidkv eval --data FILE.safetensors`.

Needs Python with torch, transformers (>= 4.45), safetensors and av, and the model weights; it cannot
run on the vidkv build machine (no weights there). Supported: LLaVA-OneVision
(llava-hf/llava-onevision-qwen2-7b-ov-hf) and Qwen2.5-VL (Qwen/Qwen2.5-VL-7B-Instruct).

    python scripts/dump_kv.py --model llava-hf/llava-onevision-qwen2-7b-ov-hf \
        --video clip.mp4 --frames 32 --question "What happens after the dog jumps?" --out kv.safetensors

Output layout (what vidkv's SafetensorsSource reads), for every decoder layer l:
  layers.<l>.key           [tokens, kv_heads, head_dim]  keys as cached, after RoPE (float16)
  layers.<l>.value         [tokens, kv_heads, head_dim]
  layers.<l>.query         [question_tokens, heads, head_dim]  queries of the question's tokens, after RoPE
  layers.<l>.key_pre_rope  [tokens, kv_heads, head_dim]  keys before RoPE
  __metadata__: {"description": ..., "model": ..., "question_tokens": ...}
The queries are those of the prompt's last `question_tokens` tokens (the end of the question and the chat
template's assistant prefix); each attends causally.
"""
import argparse
import importlib

import av
import numpy as np
import torch
from safetensors.torch import save_file
from transformers import AutoModelForImageTextToText, AutoProcessor


def read_frames(path, n):
    with av.open(path) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    idx = np.linspace(0, len(frames) - 1, n).round().astype(int)
    return np.stack([frames[i] for i in idx])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--video", required=True)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--question", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    processor = AutoProcessor.from_pretrained(a.model)
    model = AutoModelForImageTextToText.from_pretrained(a.model, torch_dtype=torch.float16, device_map="auto").eval()
    conversation = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": a.question}]}]
    prompt = processor.apply_chat_template(conversation, add_generation_prompt=True)
    inputs = processor(text=prompt, videos=[read_frames(a.video, a.frames)], return_tensors="pt").to(model.device)
    question_tokens = len(processor.tokenizer(a.question, add_special_tokens=False).input_ids)

    # Capture (q, k) before and after RoPE in every layer by wrapping the model's RoPE function.
    captured = []
    for name in ("transformers.models.qwen2.modeling_qwen2", "transformers.models.qwen2_5_vl.modeling_qwen2_5_vl"):
        mod = importlib.import_module(name)
        for fn_name in ("apply_rotary_pos_emb", "apply_multimodal_rotary_pos_emb"):
            if hasattr(mod, fn_name):
                original = getattr(mod, fn_name)

                def wrapped(q, k, *args, __orig=original, **kw):
                    q_rot, k_rot = __orig(q, k, *args, **kw)
                    captured.append((k.detach(), q_rot.detach()))
                    return q_rot, k_rot

                setattr(mod, fn_name, wrapped)

    with torch.no_grad():
        out = model(**inputs, use_cache=True)

    tensors = {}
    cache = out.past_key_values
    for layer in range(len(cache)):
        k, v = cache[layer][0][0], cache[layer][1][0]          # [kv_heads, tokens, head_dim]
        k_pre, q_rot = captured[layer][0][0], captured[layer][1][0]
        tensors[f"layers.{layer}.key"] = k.transpose(0, 1).contiguous().half().cpu()
        tensors[f"layers.{layer}.value"] = v.transpose(0, 1).contiguous().half().cpu()
        tensors[f"layers.{layer}.key_pre_rope"] = k_pre.transpose(0, 1).contiguous().half().cpu()
        tensors[f"layers.{layer}.query"] = q_rot[:, -question_tokens:, :].transpose(0, 1).contiguous().half().cpu()
    save_file(tensors, a.out, metadata={
        "description": f"{a.model}: {a.video}, {a.frames} frames, question {a.question!r}",
        "model": a.model, "question_tokens": str(question_tokens)})
    print(f"wrote {len(cache)} layers, {tensors['layers.0.key'].shape[0]} tokens to {a.out}")


if __name__ == "__main__":
    main()
