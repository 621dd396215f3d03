#!/usr/bin/env bash
# A two-node Ray cluster on this machine (head 127.0.0.2, worker 127.0.0.3, both loopback), a smoke
# search submitted to it with `ray job submit`, and the cluster stopped again. Checks a cluster
# install end to end; needs `pip install -e ".[cluster]"`. Not run in CI.
#
#   bash scripts/cluster_loopback.sh            # uses $LUDB_DIR, or synthetic records if unset
#
# Token auth is turned off for this throwaway loopback cluster only (RAY_AUTH_MODE=disabled);
# a real cluster keeps it on (see the README).
set -euo pipefail
cd "$(dirname "$0")/.."
export RAY_AUTH_MODE=disabled
tmp=$(mktemp -d /tmp/ecg-cluster-XXXX)
head_dir="$tmp/head" worker_dir="$tmp/worker"
cleanup() {
  # Stop only the two nodes started here (plain `ray stop` would stop every Ray of this user):
  # every process of theirs names this script's temp folder on its command line.
  pkill -TERM -f -- "$tmp/" 2>/dev/null || true
  sleep 3
  pkill -KILL -f -- "$tmp/" 2>/dev/null || true
}
trap cleanup EXIT

data_dir="${LUDB_DIR:-}"
if [ -z "$data_dir" ]; then
  data_dir="$tmp/ludb"
  python -c "from datasets.synthetic import write_ludb; write_ludb('$data_dir', 12)"
fi

ray start --head --node-ip-address=127.0.0.2 --port=6390 --num-cpus=1 \
  --dashboard-host=127.0.0.1 --dashboard-port=8265 --temp-dir="$head_dir" --disable-usage-stats
ray start --address=127.0.0.2:6390 --node-ip-address=127.0.0.3 --num-cpus=1 --temp-dir="$worker_dir"

name="cluster-smoke-$(date +%H%M%S)"
ray job submit --address http://127.0.0.1:8265 --working-dir . -- \
  python -m search.tune --smoke --name "$name" --results-dir "$PWD/results" --data-dir "$data_dir" \
  --cache-dir "$tmp/cache"
echo "results: $PWD/results/$name"
python -m search.leaderboard "results/$name"
