"""`tcat inspect attention MODEL "text"`: attention maps of any model tcat opens (a run folder, a
Hugging Face folder, `minilm`, or a catalog entry at tiny scale with random weights): a heatmap in
the terminal per selected layer, and with --out one SVG per layer and head (interp/maps.py).

MODEL is tried in this order: `minilm` (the shipped all-MiniLM-L6-v2 weights), a Hugging Face folder
(config.json with a model_type; interop.from_hf, its tokenizer.json with its special tokens), a tcat
run or checkpoint folder (train/checkpoint.py; its tokenizer.json), or a catalog entry / named config
(catalog/specs.py resolve) built at tiny scale with random weights (seed 0), whose tokens are the
text's UTF-8 bytes. A two-tower model (CLIP) is inspected through its text tower; a vision encoder (ViT)
reads an image file (PNG) named where the text goes, and its tokens are the class token and the patches."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import TcatError
from .common import add_threads, console, set_threads
from .options import help_text, number

INDEX = number(int, 0, 10**6)


@dataclass
class Opened:
    model: object  # a core model (nn/model.py)
    label: str  # what it is, for headings
    tokenizer: object | None  # data.tokenizer.Tokenizer, or None for bytes
    add_special: bool  # a Hugging Face tokenizer's own [CLS]/[SEP] or <s>/</s>

    def encode(self, text: str) -> list[int]:
        if self.tokenizer is None:
            vocab = self.model.config.embedding.vocab_size
            return [b % vocab for b in text.encode("utf-8")]
        if self.add_special:
            return self.tokenizer.hf.encode(text, add_special_tokens=True).ids
        return self.tokenizer.encode(text)

    def tokens(self, ids: list[int]) -> list[str]:
        """One display string per token id."""
        if self.tokenizer is None:
            return [bytes([i]).decode("latin-1") if i < 256 else f"<{i}>" for i in ids]
        return [(self.tokenizer.hf.id_to_token(i) or f"<{i}>").replace("\u0120", " ") for i in ids]

    def start_id(self) -> int:
        """The first decoder input of an encoder-decoder: the tokenizer's begin token, else padding."""
        if self.tokenizer is not None and self.tokenizer.bos_id is not None:
            return self.tokenizer.bos_id
        return self.model.config.embedding.pad_id


def _text_tower(model, label: str):
    from ..nn.dual import DualEncoder

    if isinstance(model, DualEncoder):
        return model.text, f"{label} (text tower)"
    return model, label  # a vision encoder reads an image file named where the text goes (_image_inputs)


def _hf_folder(folder: Path, label: str) -> Opened:
    from ..data.tokenizer import Tokenizer
    from ..interop import from_hf

    model = from_hf(folder)
    tok = Tokenizer.load(folder / "tokenizer.json") if (folder / "tokenizer.json").is_file() else None
    model, label = _text_tower(model, label)
    return Opened(model, label, tok, add_special=True)


def _run_folder(path: Path) -> Opened:
    from ..data.tokenizer import Tokenizer
    from ..train.checkpoint import load_model, read_config

    folder, meta, cfg = read_config(path)
    task = meta.get("task") if isinstance(meta.get("task"), dict) else {}
    if getattr(cfg, "arch", None) == "encoder" and task.get("objective"):
        from ..train.pretrained import load_encoder  # the encoder inside its objective's heads

        model, tok, _ = load_encoder(folder)
    else:
        model, _, tok = load_model(folder)
        if tok is None and (folder / "tokenizer.json").is_file():
            tok = Tokenizer.load(folder / "tokenizer.json")
    model, label = _text_tower(model, str(path))
    return Opened(model, label, tok, add_special=False)


def open_model(name: str) -> Opened:
    """The model MODEL names (see the module docstring), in eval mode."""
    if name == "minilm":
        from ..train.pretrained import minilm_folder

        return _hf_folder(minilm_folder(), "all-MiniLM-L6-v2")
    path = Path(name)
    if path.exists() and not path.is_dir():
        raise TcatError(f"{name}: not a folder; MODEL is a run or Hugging Face folder, minilm, or a catalog entry")
    if path.is_dir():
        config = path / "config.json"
        if config.is_file():
            try:
                is_hf = "model_type" in json.loads(config.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                raise TcatError(f"{config}: unreadable JSON ({e})") from None
            if is_hf:
                return _hf_folder(path, name)
        return _run_folder(path)
    import torch

    from ..catalog.specs import resolve
    from ..nn.dual import build_any

    r = resolve(name, scale="tiny")
    torch.manual_seed(0)
    model, label = _text_tower(build_any(r.config), f"{r.label} (tiny, random weights)")
    return Opened(model.eval(), label, None, add_special=False)


def _inputs(opened, text: str, target: str | None):
    """(model inputs, {stack prefix: token strings}) for the text; refuses text past the context."""
    import torch

    model = opened.model
    if model.config.vision is not None:
        return _image_inputs(model.config.vision, text, opened.label, target)
    limit = model.config.position.max_len
    ids = opened.encode(text)
    if not ids:
        raise TcatError("empty input: the text gives no tokens")
    if len(ids) > limit:
        raise TcatError(f"text of {len(ids)} tokens is longer than the model's context of {limit} tokens")
    src = torch.tensor([ids])
    if model.config.arch == "encoder-decoder":
        tgt_ids = [opened.start_id()] + opened.encode(text if target is None else target)
        if len(tgt_ids) > limit:
            raise TcatError(f"target of {len(tgt_ids)} tokens is longer than the model's context of {limit} tokens")
        labels = {"encoder.": opened.tokens(ids), "decoder.": opened.tokens(tgt_ids)}
        return (src, torch.tensor([tgt_ids])), labels
    if target is not None:
        raise TcatError("--target is the decoder's input of an encoder-decoder; this model has one stack")
    if model.config.arch == "encoder":
        return {"ids": src, "keep": torch.ones_like(src, dtype=torch.bool)}, {"": opened.tokens(ids)}
    return src, {"": opened.tokens(ids)}


def _image_inputs(vision, path: str, label: str, target: str | None):
    """(pixels (1, C, H, W) scaled to [-1, 1], {"": class token + patch labels}) from an image file (PNG,
    read by matplotlib), resized to the model's image size; grey images fill every channel."""
    import torch
    import torch.nn.functional as F

    if target is not None:
        raise TcatError("--target is the decoder's input of an encoder-decoder; this model has one stack")
    file = Path(path)
    if not file.is_file():
        raise TcatError(
            f"{label} is a vision model (it reads images): give an image file (PNG), not text ({path[:40]!r})"
        )
    import matplotlib.image as mpimg

    try:
        image = torch.as_tensor(mpimg.imread(file), dtype=torch.float32)
    except (OSError, ValueError, SyntaxError) as e:
        raise TcatError(f"{path}: not a readable image ({str(e).splitlines()[0][:80]})") from None
    if image.max() > 1:  # 8-bit values (JPEG through PIL) rather than PNG's [0, 1]
        image = image / 255
    image = image[..., None] if image.dim() == 2 else image[..., :3]  # drop an alpha channel
    image = image.permute(2, 0, 1)[None]
    channels = vision.channels
    image = image.mean(1, keepdim=True).expand(-1, channels, -1, -1) if image.size(1) != channels else image
    size = vision.image_size
    pixels = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False) * 2 - 1
    side = size // vision.patch_size
    labels = (["cls"] if vision.class_token else []) + [f"p{r},{c}" for r in range(side) for c in range(side)]
    return pixels, {"": labels}


def _select(model, hooks: list[str] | None, layer: int | None) -> list[str]:
    from ..interp.maps import pattern_names
    from ..nn.hooks import check_names

    names = pattern_names(model)
    if hooks:
        check_names(model, hooks)
        bad = [h for h in hooks if h not in names]
        if bad:
            raise TcatError(f"--hook {bad[0]} is not an attention pattern; patterns: {', '.join(names)}")
        names = [n for n in names if n in hooks]
    if layer is not None:
        n_layers = max(int(n.split("blocks.")[1].split(".")[0]) for n in names) + 1
        if layer >= n_layers:
            raise TcatError(f"--layer {layer} is out of range: the model has {n_layers} layers (0..{n_layers - 1})")
        names = [n for n in names if f"blocks.{layer}." in n]
    return names


def _labels(name: str, labels: dict) -> tuple[list[str], list[str]]:
    """(query tokens, key tokens) of a pattern: cross-attention's keys are the encoder's."""
    stack = name.split("blocks.")[0]
    queries = labels[stack]
    return queries, (labels["encoder."] if ".cross_attn." in name else queries)


def cmd_inspect_attention(args) -> None:
    from pathlib import Path

    out = Path(args.out) if args.out else None
    if out is not None:
        from ..files import output_dir

        output_dir(out, force=args.force)  # refused before the model is opened
    set_threads(args.threads)
    import torch

    from ..interp.maps import attention_maps, heatmap, svg_heatmap

    opened = open_model(args.model)
    inputs, labels = _inputs(opened, args.text, args.target)
    names = _select(opened.model, args.hook, args.layer)
    with torch.no_grad():
        maps = attention_maps(opened.model, inputs, names)
    heads = next(iter(maps.values())).size(0)
    if args.head is not None and args.head >= heads:
        raise TcatError(f"--head {args.head} is out of range: the model has {heads} heads (0..{heads - 1})")
    c = console()
    written = 0
    for name, pattern in maps.items():
        queries, keys = _labels(name, labels)
        shown = pattern[args.head] if args.head is not None else pattern.mean(0)
        which = f"head {args.head}" if args.head is not None else f"mean of {heads} heads"
        c.print(heatmap(shown, queries, keys, f"{opened.label}: {name} ({which})"))
        if out is not None:
            from ..files import write_text

            stem = name.removesuffix(".hook_pattern")
            for h in range(heads) if args.head is None else [args.head]:
                title = f"{opened.label}: {stem} head {h}"
                write_text(out / f"{stem}.head{h}.svg", svg_heatmap(pattern[h], queries, keys, title))
                written += 1
            if args.head is None:
                write_text(out / f"{stem}.mean.svg", svg_heatmap(shown, queries, keys, f"{opened.label}: {stem} mean"))
                written += 1
    if out is not None:
        print(f"wrote {written} SVG maps to {out}")


def register(sub, add) -> None:
    group = add("inspect", None, "look inside a model: attention maps")
    inner = group.add_subparsers(dest="inspect_command", metavar="COMMAND", required=True)
    help = "attention maps of MODEL on TEXT: terminal heatmaps, and SVG per layer and head with --out"
    sp = inner.add_parser("attention", help=help, description=help)
    sp.add_argument(
        "model",
        metavar="MODEL",
        help="a tcat run or checkpoint folder, a Hugging Face folder, minilm, or a catalog entry / named config "
        "(built at tiny scale with random weights; its tokens are the text's bytes)",
    )
    sp.add_argument("text", metavar="TEXT", help="the input text (at most the model's context in tokens)")
    sp.add_argument("--target", default=None, help="encoder-decoders: the decoder's input text (default: TEXT)")
    sp.add_argument(
        "--layer",
        type=INDEX,
        default=None,
        metavar="L",
        help=help_text("only layer L, counted from 0", None, INDEX, default_text="every layer"),
    )
    sp.add_argument(
        "--head",
        type=INDEX,
        default=None,
        metavar="H",
        help=help_text("only head H, counted from 0", None, INDEX, default_text="the heads' mean"),
    )
    sp.add_argument(
        "--hook",
        action="append",
        default=None,
        metavar="NAME",
        help="only this pattern hook point, e.g. decoder.blocks.0.cross_attn.hook_pattern (repeatable; default all)",
    )
    sp.add_argument("--out", default=None, metavar="DIR", help="also write SVG maps into DIR (default: none)")
    sp.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty folder tcat did not create (nothing there is deleted; default off)",
    )
    add_threads(sp)
    sp.set_defaults(fn=cmd_inspect_attention)
