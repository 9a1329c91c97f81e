"""RoBERTa's byte-level BPE (GPT-2's scheme) in plain Python, as LAION-CLAP tokenizes prompts.

From the user's `vocab.json` + `merges.txt` (roberta-base's files). A text is split into
pre-tokens (contractions, runs of letters, of digits, of other symbols, each with at most one
leading space, and whitespace), each pre-token's UTF-8 bytes are written as printable characters
(bytes that are printable Latin-1 stand for themselves, the others are moved to 256 + n), merged
pair by pair in merge-rank order, and looked up in the vocabulary. The special-token strings
(`<s>`, `</s>`, `<pad>`, `<unk>`, `<mask>`) in a text are tokens of their own.
laion-clap pads and truncates to 77: `<s> tokens </s> <pad>...` and an attention mask.

    tok = ClapTokenizer.from_dir(DIR)              # DIR/vocab.json, DIR/merges.txt
    ids, mask = tok(["a dog barking", ...])        # int32 [B, 77] each
"""

from __future__ import annotations

import functools
import json
import os

import numpy as np
import regex

from music_codecs.errors import UserError

CONTEXT = 77
SPECIALS = ("<s>", "</s>", "<pad>", "<unk>", "<mask>")
PRETOKEN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


@functools.lru_cache(maxsize=1)
def byte_chars():
    """[256] the printable character standing for each byte."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    out, moved = {}, 0
    for b in range(256):
        if b in kept:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + moved)
            moved += 1
    return [out[b] for b in range(256)]


class ClapTokenizer:
    def __init__(self, vocab: dict, merges: list, context: int = CONTEXT):
        missing = [s for s in SPECIALS if s not in vocab]
        if missing:
            raise UserError(f"RoBERTa vocabulary lacks the special tokens {', '.join(missing)}")
        self.vocab, self.context = vocab, context
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.special = regex.compile("(" + "|".join(regex.escape(s) for s in SPECIALS) + ")")
        self._cache = {}

    @classmethod
    def from_dir(cls, path, context: int = CONTEXT):
        files = [os.path.join(path, f) for f in ("vocab.json", "merges.txt")]
        for f in files:
            if not os.path.isfile(f):
                raise UserError(
                    f"{f}: no such file (the CLAP tokenizer needs RoBERTa's vocab.json and merges.txt)"
                )
        try:
            with open(files[0], encoding="utf-8") as f:
                vocab = json.load(f)
            with open(files[1], encoding="utf-8") as f:
                lines = f.read().split("\n")
            merges = [tuple(ln.split()) for ln in lines if ln.strip() and not ln.startswith("#version")]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise UserError(f"{path}: cannot read the RoBERTa tokenizer files: {err}") from err
        if not isinstance(vocab, dict) or any(len(m) != 2 for m in merges):
            raise UserError(f"{path}: vocab.json must map tokens to ids and merges.txt hold pairs")
        return cls(vocab, merges, context)

    def bpe(self, piece):
        if piece in self._cache:
            return self._cache[piece]
        word = list(piece)
        while len(word) > 1:
            pairs = [(self.ranks.get(p, len(self.ranks)), i) for i, p in enumerate(zip(word, word[1:]))]
            rank, _ = min(pairs)
            if rank == len(self.ranks):
                break
            a, b = next(p for p in zip(word, word[1:]) if self.ranks.get(p) == rank)
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._cache[piece] = word
        return word

    def encode(self, text):
        """Token ids of `text`, no special tokens added."""
        chars, unk, ids = byte_chars(), self.vocab["<unk>"], []
        for part in self.special.split(text):
            if part in SPECIALS:
                ids.append(self.vocab[part])
                continue
            for piece in PRETOKEN.findall(part):
                mapped = "".join(chars[b] for b in piece.encode("utf-8"))
                ids.extend(self.vocab.get(t, unk) for t in self.bpe(mapped))
        return ids

    def __call__(self, texts):
        ids = np.full((len(texts), self.context), self.vocab["<pad>"], np.int32)
        mask = np.zeros((len(texts), self.context), np.int32)
        for row, text in enumerate(texts):
            toks = [self.vocab["<s>"], *self.encode(text)[: self.context - 2], self.vocab["</s>"]]
            ids[row, : len(toks)] = toks
            mask[row, : len(toks)] = 1
        return ids, mask
