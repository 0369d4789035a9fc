#!/usr/bin/env bash
# Makes test/fixtures/NAME/: a database written by an older sparsetrace, and what
# that version printed for it, for the migration test.
#
#   v1, schema 1: sparsetrace 0.1.0 (commit a1f4d0e)
#   v2, schema 2: the first compact store (commit 81975a6)
#   v3, schema 3: count blocks as uint16 BLOBs, sorted counts per run (commit 1541bb6)
#   v4, schema 4: code point arrays, plain-SQL views (commit 064ef5f; before runs.rule)
#   v5, schema 5: runs.rule (commit 92f4ad6; before runs.burn_in). Made from `git archive`
#     into /tmp with main's node_modules linked, then /work/wt-…/ rewritten to /work/main/ in the outputs
#   v8, schema 8: activation frequencies, rollups per data file (commit 5cf6298; before the histogram
#     steps and cohort frequencies), made the same way; it also holds job "summaries" (kept as summaries)
#
#   git worktree add /tmp/old a1f4d0e && (cd /tmp/old && npm ci && npm run build)
#   bash scripts/make-fixture.sh /tmp/old v1
#
# Contents: job "small" (a random H = 8 model, 2 windows × Dmax 5 and 25, 3 τ:
# finished) and job "partial" (the sat-rnn on 600 bytes, killed with SIGKILL part
# way, so one run is unfinished with committed shards). Data paths in the database
# are absolute; the test rewrites them to ../shared before it resumes anything.
set -euo pipefail
OLD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")/.." && pwd)
NAME=$2
OUT="$HERE/test/fixtures/$NAME"
SHARED=$(cd "$HERE/../shared" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
rm -f "$OUT"/*
node -e '
  const H = 8, w = new Float32Array(H * H + 513 * H + 256);
  let s = 20261126;
  for (let k = 0; k < w.length; k++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; w[k] = (s / 2 ** 32 - 0.5) * 1.5; }
  require("fs").writeFileSync(process.argv[1], new Uint8Array(w.buffer));
' "$OUT/small-h8.bin"
cat > "$OUT/small.json" <<JSON
{ "name": "small", "models": ["small-h8.bin"], "data": [{ "path": "$SHARED/inputs/enwik_1024.txt", "length": 150, "stride": 400, "count": 2 }], "dmax": [5, 25], "tau": [0.001, 0.01, 0.1] }
JSON
DB="$OUT/$NAME.sqlite3"
ST="node $OLD/bin/sparsetrace.js"
$ST run "$OUT/small.json" --db "$DB" --shard-size 32 --no-report
# Kill with SIGKILL once a few shards of the run are committed.
node --input-type=module -e '
  import { spawn } from "node:child_process";
  import Database from "better-sqlite3";
  const [bin, db, model, data] = process.argv.slice(1);
  const child = spawn(process.execPath, [bin, "run", "--model", model, "--data", data, "--length", "1024", "--tau", "0.01,0.1", "--db", db, "--threads", "1", "--shard-size", "16", "--no-report"], { stdio: "inherit" });
  for (let k = 0; k < 2000; k++) {
    await new Promise((done) => setTimeout(done, 2));
    try {
      const reader = new Database(db, { readonly: true });
      // Only this run has shards of 16 positions (the small job has 32 and 22).
      const { n } = reader.prepare("SELECT count(*) AS n FROM shards WHERE count = 16").get();
      reader.close();
      if (n >= 8) break;
    } catch {}
  }
  child.kill("SIGKILL");
' "$OLD/bin/sparsetrace.js" "$DB" "$SHARED/inputs/sat_model.bin" "$SHARED/inputs/enwik_1024.txt"
# From schema 8 on: a job kept as summaries, its runs' frequencies and what the report printed of them.
if [ "${NAME#v}" -ge 8 ] 2>/dev/null; then
  cat > "$OUT/summaries.json" <<JSON
{ "name": "summaries", "keep": "summaries", "models": ["small-h8.bin"], "data": [{ "path": "$SHARED/inputs/enwik_1024.txt", "offset": 600, "length": 120, "stride": 130, "count": 3 }], "dmax": [5], "tau": [0.001, 0.01, 0.1] }
JSON
  $ST run "$OUT/summaries.json" --db "$DB" --no-report
  $ST report --db "$DB" --job summaries --sections frequency,summary,sparsity,never --format json > "$OUT/report-summaries.json"
fi
$ST sql "SELECT run_id, status, (SELECT count(*) FROM positions p WHERE p.run_id = r.run_id) AS done, positions FROM runs r" --db "$DB"
$ST report --db "$DB" --job small > "$OUT/report-small.txt"
$ST report --db "$DB" --job small --format json > "$OUT/report-small.json"
# Versions with --pool group Dmax apart unless asked; the test pools them, as older versions did.
$ST report --db "$DB" --job small --by window --pool --format json > "$OUT/report-small-by-window.json" 2>/dev/null \
  || $ST report --db "$DB" --job small --by window --format json > "$OUT/report-small-by-window.json"
$ST export --db "$DB" --job small --all > "$OUT/export-small.csv"
$ST report --db "$DB" --all --model "$SHARED/inputs/sat_model.bin" --format json > "$OUT/report-partial.json" 2>/dev/null
$ST sql "PRAGMA wal_checkpoint(TRUNCATE)" --write --db "$DB" >/dev/null
rm -f "$DB-wal" "$DB-shm"
ls -la "$OUT"
