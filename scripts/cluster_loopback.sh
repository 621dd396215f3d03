#!/usr/bin/env bash
# A two-node Ray cluster on this machine (head 127.0.0.2, worker 127.0.0.3, both loopback), a smoke
# search submitted to it with `ray job submit`, and the cluster stopped again. Checks a cluster
# install end to end; needs `pip install -e ".[cluster]" -c constraints/cpu.txt`. Not run in CI.
#
#   bash scripts/cluster_loopback.sh            # uses $LUDB_DIR, or synthetic records if unset
#
# Token authentication stays on, as on a real cluster: every client (the worker's `ray start`, the
# job client) runs with RAY_AUTH_MODE=token and reads the token `ray get-auth-token --generate` wrote
# to ~/.ray/auth_token (on a real cluster, copy that file to each worker and client machine).
# Ports are chosen free at start, so the script can run beside another Ray.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAY_AUTH_MODE=token
tmp=$(mktemp -d /tmp/ecg-cluster-XXXX)
head_dir="$tmp/head" worker_dir="$tmp/worker"
free_port() { python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
gcs_port=$(free_port) dash_port=$(free_port)
cleanup() {
  # Stop only the two nodes started here, by PID (a plain `ray stop` stops every Ray of this user):
  # each of their processes names this run's own temp folder on its command line.
  pids=$(pgrep -f -- "$tmp/" || true)
  if [ -n "$pids" ]; then
    echo "stopping the loopback cluster: PIDs $(echo $pids)"
    kill -TERM $pids 2>/dev/null || true
    sleep 3
    kill -KILL $(pgrep -f -- "$tmp/" || true) 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

data_dir="${LUDB_DIR:-}" split=()
if [ -z "$data_dir" ]; then
  data_dir="$tmp/ludb"
  python -c "from datasets.synthetic import write_ludb; write_ludb('$data_dir', 12)"
  split=(--split 0.5,0.25,0.25)  # 12 records: 3 each for validation and test (the k-NN metrics need several)
fi

# With RAY_AUTH_MODE=token, `ray start --head` needs a token and does not make one: make it first
# (a no-op when ~/.ray/auth_token exists, e.g. from an earlier local search). It stays in your
# ~/.ray afterwards, as Ray's own local runs leave it; scripts/token_auth_check.sh uses a HOME of its own.
ray get-auth-token --generate >/dev/null
ray start --head --node-ip-address=127.0.0.2 --port="$gcs_port" --num-cpus=1 \
  --dashboard-host=127.0.0.1 --dashboard-port="$dash_port" --temp-dir="$head_dir" --disable-usage-stats
ray start --address="127.0.0.2:$gcs_port" --node-ip-address=127.0.0.3 --num-cpus=1 --temp-dir="$worker_dir"

name="cluster-smoke-$(date +%H%M%S)"
ray job submit --address "http://127.0.0.1:$dash_port" --working-dir . -- \
  python -m search.tune --smoke --name "$name" --results-dir "$PWD/results" --data-dir "$data_dir" \
  --cache-dir "$tmp/cache" "${split[@]}"
echo "results: $PWD/results/$name"
python -m search.leaderboard "results/$name"
