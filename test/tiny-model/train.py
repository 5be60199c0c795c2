#!/usr/bin/env python3
"""Trains Hearth's demonstration code model: a byte-level BPE tokenizer and a small llama-architecture
transformer, on source code found on this machine (the Python standard library's sources and the
JavaScript/TypeScript of the node_modules packages pinned in js-packages.txt), partly in
fill-in-the-middle form. CPU only (JAX).

Run through train.sh (it makes the virtual environment and exports the GGUF files). Writes into
.cache/tiny-model/: tokenizer.json, weights.f32 + manifest.json (read by export.ts); and, unless
--smoke, the committed records test/tiny-model/training-log.json and test/tiny-model/heldout.json.
Everything random is drawn from SEED, so a rerun on the same data reproduces the run.
"""
import argparse
import hashlib
import json
import math
import os
import platform
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / 'test' / 'tiny-model'

SEED = 20240601
# Model: llama architecture (RMSNorm, RoPE on adjacent pairs as llama.cpp's "llama" graph, SwiGLU,
# grouped-query attention), embeddings tied to the output.
VOCAB = 4096
N_EMBD = 192
N_LAYER = 4
N_HEAD = 6
N_HEAD_KV = 2
N_FF = 512
N_CTX = 256
ROPE_BASE = 10000.0
RMS_EPS = 1e-5
# Training.
STEPS = 1200
BATCH = 16
LR = 3e-3
WARMUP = 30
FIM_RATE = 0.5
PYTHON_SHARE = 0.7
VAL_EXAMPLES = 128
EVALS = 5
# Data selection.
MAX_FILE_BYTES = 200_000
SKIP_DIRS = {'site-packages', 'test', 'tests', 'idle_test', '__pycache__', 'encodings', 'pydoc_data'}
JS_EXTS = ('.js', '.mjs', '.cjs', '.ts', '.mts', '.cts')
VAL_PERCENT = 3

SPECIAL = ['<|endoftext|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|file_sep|>', '<|im_start|>', '<|im_end|>']


# ---- data ----

def minified(text):
    lines = text.split('\n')
    return max(map(len, lines)) > 1000 or len(text) / len(lines) > 80


def collect():
    """Source files as (language, name, text), sorted; files that cannot be training text are counted."""
    files, skipped = [], {'not utf-8': 0, 'too large': 0, 'minified': 0, 'special token text': 0}

    def add(lang, base, path):
        if path.stat().st_size > MAX_FILE_BYTES:
            skipped['too large'] += 1
            return
        try:
            text = path.read_text(encoding='utf-8')
        except UnicodeDecodeError:
            skipped['not utf-8'] += 1
            return
        if not text.strip():
            return
        if lang == 'js' and minified(text):
            skipped['minified'] += 1
            return
        # The special tokens must only ever come from the example layout, never from file text.
        if any(s in text for s in SPECIAL):
            skipped['special token text'] += 1
            return
        files.append((lang, path.relative_to(base).as_posix(), text.replace('\r\n', '\n')))

    def walk(lang, base, keep, top=None):
        # Names are relative to base (node_modules for a package's files: the held-out rule hashes them).
        for dirpath, dirnames, filenames in os.walk(top or base):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith('.'))
            for f in sorted(filenames):
                if keep(f):
                    add(lang, base, Path(dirpath) / f)

    stdlib = Path(sysconfig.get_paths()['stdlib'])
    walk('python', stdlib, lambda f: f.endswith('.py'))
    modules = ROOT / 'node_modules'
    for name in js_packages(modules):
        walk('js', modules, lambda f: f.endswith(JS_EXTS) and not f.endswith('.min.js'), modules / name)
    files.sort(key=lambda f: (f[0], f[1]))
    return files, skipped, str(stdlib)


def js_packages(modules):
    """The packages of js-packages.txt, each checked to be installed at its pinned version."""
    names = []
    for line in (HERE / 'js-packages.txt').read_text().splitlines():
        if not line.strip() or line.startswith('#'):
            continue
        name, version = line.rsplit('@', 1)
        manifest = modules / name / 'package.json'
        if not manifest.exists():
            sys.exit(f'train.py: {manifest} is missing: js-packages.txt pins {name}@{version} (run npm install)')
        have = json.loads(manifest.read_text())['version']
        if have != version:
            sys.exit(f'train.py: {manifest} is version {have}, js-packages.txt pins {version}: the training data would differ')
        names.append(name)
    return names


def is_val(name):
    return hashlib.sha256(name.encode()).digest()[0] * 100 < VAL_PERCENT * 256


def train_tokenizer(texts):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    # GPT-2's split regex with byte-level encoding: llama.cpp's tokenizer.ggml.pre = "gpt-2".
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB, min_frequency=2, special_tokens=SPECIAL, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


class Examples:
    """Training windows of N_CTX + 1 tokens: a chunk of a file, plain or in PSM fill-in-the-middle form.

    Plain:  [<|file_sep|>name\\n] chunk [<|endoftext|> at the end of a file]
    FIM:    [<|file_sep|>name\\n] <|fim_prefix|> P <|fim_suffix|> S <|fim_middle|> M <|endoftext|>
    as Hearth lays out its prompts (engine/prompt/fim.ts): each part tokenized on its own, the hole
    usually starting at a line start (the cursor line's start goes after <|fim_middle|>).
    """

    def __init__(self, tok, files, rng):
        self.tok, self.files, self.rng = tok, files, rng
        self.sp = {s: tok.token_to_id(s) for s in SPECIAL}
        self.eot = self.sp['<|endoftext|>']
        by_lang = {}
        for i, (lang, _, text) in enumerate(files):
            by_lang.setdefault(lang, []).append(i)
        self.langs = sorted(by_lang)
        self.pick = {l: (np.array(ix), np.cumsum([len(files[i][2]) for i in ix], dtype=np.float64)) for l, ix in by_lang.items()}

    def enc(self, s):
        return self.tok.encode(s).ids if s else []

    def chunk(self):
        r = self.rng
        lang = 'python' if r.random() < PYTHON_SHARE or 'js' not in self.pick else 'js'
        ix, cum = self.pick[lang]
        i = ix[min(int(np.searchsorted(cum, r.random() * cum[-1], side='right')), len(ix) - 1)]
        _, name, text = self.files[i]
        s = 0 if r.random() < 0.15 else text.rfind('\n', 0, int(r.integers(0, len(text)))) + 1
        end = min(len(text), s + 4 * N_CTX)
        if end < len(text):
            nl = text.rfind('\n', s, end)
            end = nl + 1 if nl > s else end
        return name, text[s:end], end == len(text)

    def make(self, fim):
        r = self.rng
        name, c, at_end = self.chunk()
        head = [self.sp['<|file_sep|>']] + self.enc(name + '\n') if r.random() < 0.5 else []
        n = N_CTX + 1
        if not fim:
            ids = head + self.enc(c) + ([self.eot] if at_end else [])
            return self.pad(ids[:n], None)
        if r.random() < 0.75:
            a = c.rfind('\n', 0, int(r.integers(0, len(c) + 1))) + 1
        else:
            a = int(r.integers(0, len(c) + 1))
        m = int(math.exp(r.uniform(0, math.log(max(2, min(len(c) - a, 400) + 1)))))
        b = min(len(c), a + m)
        u = r.random()
        if u < 0.5:
            j = c.find('\n', b)
            b = j + (1 if u < 0.15 else 0) if j >= 0 else len(c)
        mid = self.enc(c[a:b])
        # A middle cut short gets no end token: it does not end there.
        mid = mid[: N_CTX // 3] if len(mid) > N_CTX // 3 else mid + [self.eot]
        pre, suf = self.enc(c[:a]), self.enc(c[b:])
        room = n - len(head) - 3 - len(mid)
        if len(pre) + len(suf) > room:
            # Keep the text nearest the hole: the end of the prefix, the start of the suffix.
            kp = min(len(pre), max(room - len(suf), room * len(pre) // max(1, len(pre) + len(suf))))
            pre, suf = pre[len(pre) - kp:], suf[: room - kp]
        ids = head + [self.sp['<|fim_prefix|>']] + pre + [self.sp['<|fim_suffix|>']] + suf + [self.sp['<|fim_middle|>']]
        mid_at = len(ids)
        return self.pad(ids + mid, mid_at)

    def pad(self, ids, mid_at):
        """Tokens, loss mask over the targets (ids[1:]), and where the middle's targets start."""
        n = N_CTX + 1
        mask = np.zeros(N_CTX, np.float32)
        mask[: len(ids) - 1] = 1
        return np.array(ids + [self.eot] * (n - len(ids)), np.int32), mask, -1 if mid_at is None else mid_at - 1

    def batch(self, count, fim_rate=None, fim_first=None):
        out = [self.make(i >= fim_first if fim_first is not None else self.rng.random() < fim_rate) for i in range(count)]
        return np.stack([o[0] for o in out]), np.stack([o[1] for o in out]), np.array([o[2] for o in out])


# ---- model ----

def gguf_names():
    names = ['token_embd.weight', 'output_norm.weight']
    for l in range(N_LAYER):
        names += [f'blk.{l}.{t}.weight' for t in ('attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down')]
    return names


def build_model():
    import jax
    import jax.numpy as jnp
    hd = N_EMBD // N_HEAD
    kv = N_HEAD_KV * hd

    def init(key):
        shapes = {'token_embd.weight': (VOCAB, N_EMBD), 'output_norm.weight': (N_EMBD,)}
        for l in range(N_LAYER):
            b = f'blk.{l}.'
            shapes.update({b + 'attn_norm.weight': (N_EMBD,), b + 'attn_q.weight': (N_EMBD, N_EMBD), b + 'attn_k.weight': (N_EMBD, kv),
                           b + 'attn_v.weight': (N_EMBD, kv), b + 'attn_output.weight': (N_EMBD, N_EMBD), b + 'ffn_norm.weight': (N_EMBD,),
                           b + 'ffn_gate.weight': (N_EMBD, N_FF), b + 'ffn_up.weight': (N_EMBD, N_FF), b + 'ffn_down.weight': (N_FF, N_EMBD)})
        keys = jax.random.split(key, len(shapes))
        p = {}
        for k, (name, shape) in zip(keys, shapes.items()):
            if len(shape) == 1:
                p[name] = jnp.ones(shape, jnp.float32)
            else:
                std = 0.02 / math.sqrt(2 * N_LAYER) if name.endswith(('attn_output.weight', 'ffn_down.weight')) else 0.02
                p[name] = std * jax.random.normal(k, shape, jnp.float32)
        return p

    ang = np.arange(N_CTX)[:, None] * ROPE_BASE ** (-np.arange(0, hd, 2) / hd)[None]
    cos, sin = jnp.asarray(np.cos(ang), jnp.float32), jnp.asarray(np.sin(ang), jnp.float32)

    def rope(x):
        # llama.cpp's normal (non-NeoX) rope: dimensions (2i, 2i+1) rotate together.
        t = x.shape[1]
        c, s = cos[None, :t, None], sin[None, :t, None]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return jnp.stack([x0 * c - x1 * s, x0 * s + x1 * c], -1).reshape(x.shape)

    def rms(x, w):
        return x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + RMS_EPS) * w

    def forward(p, ids):
        b, t = ids.shape
        causal = jnp.tril(jnp.ones((t, t), bool))
        x = p['token_embd.weight'][ids]
        for l in range(N_LAYER):
            w = lambda n: p[f'blk.{l}.{n}.weight']
            h = rms(x, w('attn_norm'))
            q = rope((h @ w('attn_q')).reshape(b, t, N_HEAD, hd))
            k = rope((h @ w('attn_k')).reshape(b, t, N_HEAD_KV, hd))
            v = (h @ w('attn_v')).reshape(b, t, N_HEAD_KV, hd)
            # Query head i reads key/value head i // (N_HEAD / N_HEAD_KV), as ggml broadcasts.
            k, v = jnp.repeat(k, N_HEAD // N_HEAD_KV, 2), jnp.repeat(v, N_HEAD // N_HEAD_KV, 2)
            s = jnp.einsum('bthd,bshd->bhts', q, k) / math.sqrt(hd)
            a = jax.nn.softmax(jnp.where(causal, s, -1e30), -1)
            x = x + jnp.einsum('bhts,bshd->bthd', a, v).reshape(b, t, N_EMBD) @ w('attn_output')
            h = rms(x, w('ffn_norm'))
            x = x + (jax.nn.silu(h @ w('ffn_gate')) * (h @ w('ffn_up'))) @ w('ffn_down')
        return rms(x, p['output_norm.weight']) @ p['token_embd.weight'].T

    def token_losses(p, ids):
        logits = forward(p, ids[:, :-1])
        logz = jax.nn.logsumexp(logits, -1)
        return logz - jnp.take_along_axis(logits, ids[:, 1:, None], -1)[..., 0]

    return init, forward, token_losses


# ---- run ----

def sha256_of(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--smoke', action='store_true', help='a one-minute run into .cache/tiny-model/smoke (no committed records)')
    ap.add_argument('--set', action='append', default=[], metavar='NAME=VALUE',
                    help='experiments: override a setting above (the run goes to .cache/tiny-model/exp, no committed records)')
    args = ap.parse_args()
    for kv in args.set:
        name, _, value = kv.partition('=')
        if name not in globals() or not name.isupper():
            ap.error(f'--set: no setting {name}')
        globals()[name] = type(globals()[name])(value)
    scratch = args.smoke or args.set
    steps, n_val, evals = (12, 16, 2) if args.smoke else (STEPS, VAL_EXAMPLES, EVALS)
    out = ROOT / '.cache' / 'tiny-model' / ('smoke' if args.smoke else 'exp' if args.set else '')
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    def say(msg):
        print(f'[{time.time() - t0:7.1f}s] {msg}', flush=True)

    files, skipped, stdlib = collect()
    train_files = [f for f in files if not is_val(f[1])]
    val_files = [f for f in files if is_val(f[1])]
    corpus_sha = sha256_of(*(f'{l}\0{n}\0{t}\0' for l, n, t in files))
    say(f'{len(files)} files ({len(train_files)} train, {len(val_files)} held out), corpus sha256 {corpus_sha[:16]}')

    tok = train_tokenizer(t for _, _, t in train_files)
    tok_json = tok.to_str()
    (out / 'tokenizer.json').write_text(tok_json)
    assert tok.get_vocab_size() == VOCAB, f'tokenizer has {tok.get_vocab_size()} tokens, expected {VOCAB}'
    say(f'tokenizer: {VOCAB} tokens, sha256 {sha256_of(tok_json)[:16]}')

    def stats(fs):
        out = {}
        for lang in ('python', 'js'):
            sel = [t for l, _, t in fs if l == lang]
            out[lang] = {'files': len(sel), 'chars': sum(map(len, sel)), 'tokens': sum(len(e.ids) for e in tok.encode_batch(sel))}
        return out
    data = {'train': stats(train_files), 'heldout': stats(val_files)}
    say(f'data: {json.dumps(data)}')

    import jax
    import jax.numpy as jnp
    import optax

    val = Examples(tok, val_files, np.random.default_rng(SEED + 1)).batch(n_val, fim_first=n_val // 2)
    train = Examples(tok, train_files, np.random.default_rng(SEED)).batch(steps * BATCH, fim_rate=FIM_RATE)
    say(f'{steps * BATCH} training windows, {int(train[1].sum())} target tokens; {n_val} held-out windows, {int(val[1].sum())} target tokens')

    init, forward, token_losses = build_model()
    params = init(jax.random.PRNGKey(SEED))
    n_params = sum(int(np.prod(v.shape)) for v in params.values())
    sched = optax.warmup_cosine_decay_schedule(0.0, LR, min(WARMUP, steps // 4), steps, LR * 0.1)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(sched, b1=0.9, b2=0.95, weight_decay=0.1,
                                                                  mask=lambda p: {k: v.ndim == 2 for k, v in p.items()}))
    state = opt.init(params)

    def loss_fn(p, ids, mask):
        return (token_losses(p, ids) * mask).sum() / mask.sum()

    @jax.jit
    def step(p, s, ids, mask):
        loss, g = jax.value_and_grad(loss_fn)(p, ids, mask)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    eval_losses = jax.jit(token_losses)

    def evaluate(p):
        ids, mask, mid = val
        per = np.concatenate([np.asarray(eval_losses(p, jnp.asarray(ids[i:i + 16]))) for i in range(0, len(ids), 16)])
        cols = np.arange(N_CTX)[None]
        in_mid = (mid[:, None] >= 0) & (cols >= mid[:, None])
        res = {'loss': float((per * mask).sum() / mask.sum())}
        for key, m in (('loss_plain', mask * (mid[:, None] < 0)), ('loss_fim_middle', mask * in_mid)):
            res[key] = float((per * m).sum() / m.sum())
        return res

    say(f'model: {n_params} parameters; {steps} steps of {BATCH} x {N_CTX} tokens')
    curve, val_curve = [], []
    t_train = time.time()
    seen, window = 0, []
    for i in range(steps):
        ids, mask = jnp.asarray(train[0][i * BATCH:(i + 1) * BATCH]), jnp.asarray(train[1][i * BATCH:(i + 1) * BATCH])
        params, state, loss = step(params, state, ids, mask)
        seen += int(train[1][i * BATCH:(i + 1) * BATCH].sum())
        window.append(loss)
        if (i + 1) % 10 == 0 or i + 1 == steps:
            mean = float(np.mean([float(x) for x in window]))  # waits for the steps (JAX runs them asynchronously)
            el = time.time() - t_train
            curve.append({'step': i + 1, 'train_loss': round(mean, 4), 'tokens': seen, 'seconds': round(el, 1)})
            window = []
            say(f'step {i + 1}/{steps} train loss {curve[-1]["train_loss"]:.4f} ({seen / el:.0f} tokens/s)')
        if (i + 1) % max(1, steps // evals) == 0 or i + 1 == steps:
            if not val_curve or val_curve[-1]['step'] != i + 1:
                val_curve.append({'step': i + 1, **{k: round(v, 4) for k, v in evaluate(params).items()}})
                say(f'step {i + 1} held-out {val_curve[-1]}')
    train_s = time.time() - t_train

    # Weights for export.ts, in GGUF order: ggml's ne0 (the row length) is the input dimension.
    tensors, blobs, off = [], [], 0
    for name in gguf_names():
        a = np.asarray(params[name], np.float32)
        a = a if a.ndim == 1 or name == 'token_embd.weight' else a.T
        a = np.ascontiguousarray(a)
        tensors.append({'name': name, 'dims': list(reversed(a.shape)), 'offset': off})
        blobs.append(a.tobytes())
        off += a.nbytes
    weights = b''.join(blobs)
    (out / 'weights.f32').write_bytes(weights)
    sp = {s: tok.token_to_id(s) for s in SPECIAL}
    config = {'vocab': VOCAB, 'n_embd': N_EMBD, 'n_layer': N_LAYER, 'n_head': N_HEAD, 'n_head_kv': N_HEAD_KV, 'n_ff': N_FF,
              'n_ctx': N_CTX, 'rope_base': ROPE_BASE, 'rms_eps': RMS_EPS, 'params': n_params}
    manifest = {'config': config, 'tensors': tensors, 'special': sp, 'weights_sha256': sha256_of(weights)}
    (out / 'manifest.json').write_text(json.dumps(manifest, indent=1))
    final = val_curve[-1]
    say(f'weights sha256 {manifest["weights_sha256"][:16]}; held-out loss {final["loss"]:.4f}')

    log = {
        'what': "Hearth's demonstration code model (test/tiny-model/train.py)",
        'seed': SEED, 'config': config,
        'training': {'steps': steps, 'batch': BATCH, 'context': N_CTX, 'lr': LR, 'warmup': WARMUP, 'schedule': 'cosine to lr/10',
                     'optimizer': 'AdamW b1 0.9 b2 0.95 wd 0.1, grad clip 1.0', 'fim_rate': FIM_RATE, 'python_share': PYTHON_SHARE,
                     'target_tokens': seen},
        'data': {'python_stdlib': stdlib, 'node_modules': 'node_modules (js, mjs, cjs, ts, mts, cts)', 'skipped': skipped,
                 'heldout_rule': f'sha256(file name)[0] < {VAL_PERCENT}% of 256', **data, 'corpus_sha256': corpus_sha},
        'tokenizer_sha256': sha256_of(tok_json),
        'loss_curve': curve, 'heldout_curve': val_curve,
        'heldout': {'windows': n_val, 'target_tokens': int(val[1].sum()), **final},
        'tokens_per_s': round(seen / train_s), 'train_seconds': round(train_s), 'wall_seconds': round(time.time() - t0),
        'weights_sha256': manifest['weights_sha256'],
        'machine': {'python': platform.python_version(), 'jax': jax.__version__, 'optax': optax.__version__, 'cpus': os.cpu_count()},
    }
    log_path = out / 'training-log.json' if scratch else HERE / 'training-log.json'
    log_path.write_text(json.dumps(log, indent=1) + '\n')

    # Held-out windows the tests score against the GGUF files (one plain, one fill-in-the-middle), with
    # this model's float32 loss on them; and held-out text with this tokenizer's ids.
    pick = [0, n_val // 2]
    ids, mask, mid = val
    per = np.asarray(eval_losses(params, jnp.asarray(ids[pick])))
    held = {
        'windows': [{'tokens': ids[j].tolist(), 'targets': int(mask[j].sum()), 'middle_from': int(mid[j]),
                     'loss': float((per[k] * mask[j]).sum() / mask[j].sum())} for k, j in enumerate(pick)],
        'tokenizer': [{'text': t[:1500], 'ids': tok.encode(t[:1500]).ids} for _, _, t in val_files[::max(1, len(val_files) // 6)][:6]],
    }
    (out if scratch else HERE).joinpath('heldout.json').write_text(json.dumps(held) + '\n')
    say(f'done: log {log_path.relative_to(ROOT)}')


if __name__ == '__main__':
    sys.exit(main())
