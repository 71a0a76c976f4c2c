"""A tiny, randomly initialised Stable Diffusion pipeline saved to a folder.

Built from configs as diffusers' own fast tests do, with a byte-level CLIP tokenizer written
to the folder (no hub), so tests and the benchmark run the real loading, LoRA training,
saving and inference code in seconds on a CPU. It draws noise-like images, not pictures.
"""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path

TINY_RESOLUTION = 64  # pixels: a 32 px latent through a VAE that halves once
_MAX_LENGTH = 77


@cache
def _byte_table() -> dict[int, str]:
    """GPT-2's and CLIP's reversible map of the 256 bytes onto printable characters."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


def write_byte_tokenizer(folder: Path) -> None:
    """A CLIP tokenizer with a byte-level vocabulary and no merges, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    characters = list(_byte_table().values())
    entries = characters + [c + "</w>" for c in characters] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(entries)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")


def build_tiny_pipeline(folder: str | Path, seed: int = 0, xl: bool = False) -> Path:
    """Save a tiny StableDiffusionPipeline (or, ``xl``, an SDXL one) to ``folder``."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
    )

    folder = Path(folder)
    with tempfile.TemporaryDirectory() as source:
        write_byte_tokenizer(Path(source))
        tokenizer = CLIPTokenizer.from_pretrained(source)
    tokenizer.model_max_length = _MAX_LENGTH
    torch.manual_seed(seed)
    # SDXL: two text encoders side by side (32 + 32), and size conditioning: six "time ids"
    # of 8 numbers each plus the pooled text embedding (32) = 80.
    xl_unet = {
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": 8,
        "projection_class_embeddings_input_dim": 6 * 8 + 32,
        "transformer_layers_per_block": (1, 2),
        "attention_head_dim": (2, 4),
        "use_linear_projection": True,
    }
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=TINY_RESOLUTION // 2,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=64 if xl else 32,
        norm_num_groups=32,
        **(xl_unet if xl else {}),
    )
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
    )
    special = tokenizer.convert_tokens_to_ids(["<|startoftext|>", "<|endoftext|>"])
    text_config = CLIPTextConfig(
        bos_token_id=special[0],
        eos_token_id=special[1],
        pad_token_id=special[1],
        hidden_size=32,
        intermediate_size=37,
        layer_norm_eps=1e-5,
        num_attention_heads=4,
        num_hidden_layers=5,
        vocab_size=len(tokenizer),
        max_position_embeddings=_MAX_LENGTH,
        projection_dim=32,
    )
    text_encoder = CLIPTextModel(text_config)
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    if xl:
        pipeline = StableDiffusionXLPipeline(
            vae=vae,
            text_encoder=text_encoder,
            text_encoder_2=CLIPTextModelWithProjection(text_config),
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=unet,
            scheduler=scheduler,
        )
        pipeline.save_pretrained(str(folder))
        return folder
    pipeline = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(str(folder))
    return folder
