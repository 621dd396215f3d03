#!/usr/bin/env bash
# Scripted check (the leftover-process case of the robustness issue): SIGKILL a running search's
# driver and list what it leaves behind. Every process this script starts carries its own TMPDIR
# in its environment, so only those are counted (and stopped, by PID, if any remain).
#
#   LUDB_DIR=/path/to/ludb-1.0.1 bash scripts/leftovers_check.sh     # synthetic records if unset
set -euo pipefail
cd "$(dirname "$0")/.."
export RAY_AUTH_MODE=disabled PYTHONUNBUFFERED=1 TMPDIR
TMPDIR=$(mktemp -d /tmp/ecg-left-XXXX)
trap 'rm -rf "$TMPDIR"' EXIT
mine() {  # PIDs whose environment holds this run's TMPDIR (this script and its own helpers aside)
  for p in /proc/[0-9]*; do
    case "$(cat "$p/comm" 2>/dev/null)" in bash|tr|grep|cat|sleep|ps|"") continue ;; esac
    if { tr '\0' '\n' < "$p/environ"; } 2>/dev/null | grep -qx "TMPDIR=$TMPDIR"; then echo "${p#/proc/}"; fi
  done
}
data_dir="${LUDB_DIR:-}" split=()
if [ -z "$data_dir" ]; then
  data_dir="$TMPDIR/ludb"
  python -c "from datasets.synthetic import write_ludb; write_ludb('$data_dir', 12)"
  split=(--split 0.5,0.25,0.25)
fi
python -m search.tune --smoke --num-samples 2 --max-epochs 5000 --name leftovers --results-dir "$TMPDIR/results" \
  --data-dir "$data_dir" --cache-dir "$TMPDIR/cache" "${split[@]}" > "$TMPDIR/search.log" 2>&1 &
driver=$!
for _ in $(seq 1 120); do grep -q "^search " "$TMPDIR/search.log" 2>/dev/null && break; sleep 1; done
sleep 10  # let every Ray agent finish starting
echo "while running: $(mine | wc -l) processes of this search"
kill -KILL "$driver" 2>/dev/null || echo "(the driver had already ended)"
sleep 10
left=$(mine || true)
if [ -n "$left" ]; then
  echo "LEFT 10 s after SIGKILL of the driver:"; ps -o pid,etime,args -p $(echo $left | tr ' ' ',') || true
  kill -KILL $left 2>/dev/null || true
  status=1
else
  echo "nothing left 10 s after SIGKILL of the driver"; status=0
fi
exit $status
