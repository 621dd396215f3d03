"""Do two evaluations of one export agree to 1e-9? Compares every number of two model.json files'
`evaluation` entries (written by `python -m ecgmodels.evaluate --model DIR --write`), recursively.

Use: copy an export twice, run `evaluate --write` on one copy with the old code and on the other with
the new, then `python scripts/same_evaluation.py OLD/model.json NEW/model.json` (exit 0: the maths did
not move). Evaluations made on different machines differ around 1e-7 (float32 sampling), so compare
runs from one machine."""
import json, math, sys
a = json.load(open(sys.argv[1]))["evaluation"]; b = json.load(open(sys.argv[2]))["evaluation"]
bad = []; n = [0]
def walk(x, y, path):
    if isinstance(x, dict):
        if set(x) != set(y): bad.append((path, "keys", sorted(set(x) ^ set(y)))); 
        for k in set(x) & set(y): walk(x[k], y[k], f"{path}.{k}")
    elif isinstance(x, list):
        if len(x) != len(y): bad.append((path, "len")); return
        for i, (u, v) in enumerate(zip(x, y)): walk(u, v, f"{path}[{i}]")
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        n[0] += 1
        if not (x == y or (isinstance(y,(int,float)) and (math.isnan(x) and math.isnan(y) or abs(x - y) <= 1e-9))): bad.append((path, x, y))
    elif x != y: bad.append((path, x, y))
walk(a, b, "evaluation")
print(f"{n[0]} numbers compared; {len(bad)} differ beyond 1e-9"); [print(*d) for d in bad[:20]]
sys.exit(1 if bad else 0)
