#!/usr/bin/env bash
# Scripted check (not run in CI): a search told to join a token-authenticated Ray head, the way Ray
# 2.60 starts one by default, from a client that lacks the token.
#   1. without RAY_AUTH_MODE and without the head's token: exit 2 and one line on stderr naming the
#      fix (RAY_AUTH_MODE=token, copy ~/.ray/auth_token): no traceback, none of Ray's ~20 retry
#      lines, no run folder left behind;
#   2. with RAY_AUTH_MODE=token and the token copied: the same command joins and finishes (exit 0).
# The head and the client each get their own HOME (Ray keeps the token in ~/.ray/auth_token), so the
# user's own token is neither read nor overwritten; the head is stopped by PID (its processes are the
# ones whose command line names this run's temp folder).
#
#   bash scripts/token_auth_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/ecg-token-XXXX)
free_port() { python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
port=$(free_port)
cleanup() {
  pids=$(pgrep -f -- "$tmp/" || true)  # every process of this head names its own temp folder
  if [ -n "$pids" ]; then
    kill -TERM $pids 2>/dev/null || true
    sleep 3
    kill -KILL $(pgrep -f -- "$tmp/" || true) 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/head-home" "$tmp/client-home"
python -c "from datasets.synthetic import write_ludb; write_ludb('$tmp/ludb', 12)"
search=(python -m search.tune --smoke --num-samples 1 --max-epochs 1 --address "127.0.0.2:$port"
        --data-dir "$tmp/ludb" --split 0.5,0.25,0.25 --cache-dir "$tmp/cache" --results-dir "$tmp/results")

# `ray start --head` with RAY_AUTH_MODE=token needs a token to exist (it does not make one)
HOME="$tmp/head-home" ray get-auth-token --generate >/dev/null
HOME="$tmp/head-home" RAY_AUTH_MODE=token ray start --head --node-ip-address=127.0.0.2 --port="$port" \
  --num-cpus=1 --include-dashboard=false --temp-dir="$tmp/head" --disable-usage-stats >/dev/null
test -s "$tmp/head-home/.ray/auth_token" || { echo "FAIL: the head wrote no token"; exit 1; }

set +e
env -u RAY_AUTH_MODE HOME="$tmp/client-home" RAY_ADDRESS= "${search[@]}" --name no-token \
  >"$tmp/out1" 2>"$tmp/err1"
rc=$?
set -e
if [ "$rc" != 2 ] || ! grep -q "RAY_AUTH_MODE=token" "$tmp/err1" || [ "$(grep -c . "$tmp/err1")" != 1 ] \
   || [ -e "$tmp/results/no-token/run.json" ]; then
  echo "FAIL (1): exit $rc"; cat "$tmp/err1"; exit 1
fi
echo "ok (1): without the token, exit 2 and one line: $(cat "$tmp/err1")"

cp -r "$tmp/head-home/.ray" "$tmp/client-home/.ray"
set +e
HOME="$tmp/client-home" RAY_AUTH_MODE=token RAY_ADDRESS= "${search[@]}" --name with-token >"$tmp/out2" 2>"$tmp/err2"
rc=$?
set -e
if [ "$rc" != 0 ]; then
  echo "FAIL (2): with RAY_AUTH_MODE=token and the token copied, exit $rc"; tail -5 "$tmp/err2"; exit 1
fi
echo "ok (2): with RAY_AUTH_MODE=token and the token copied, the search joined and finished: $(tail -1 "$tmp/out2")"
