#!/usr/bin/env bash
# Makes test/fixtures/v1/: a schema-version-1 database written by sparsetrace 0.1.0
# (commit a1f4d0e), and what 0.1.0 printed for it, for the migration test.
#
#   git worktree add /tmp/v010 a1f4d0e && (cd /tmp/v010 && npm ci && npm run build)
#   bash scripts/make-v1-fixture.sh /tmp/v010
#
# Contents: job "small" (a random H = 8 model, 2 windows × Dmax 5 and 25, 3 τ:
# finished) and job "partial" (the sat-rnn on 600 bytes, killed with SIGKILL part
# way, so one run is unfinished with committed shards). Data paths in the database
# are absolute; the test rewrites them to ../shared before it resumes anything.
set -euo pipefail
OLD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT="$HERE/test/fixtures/v1"
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
DB="$OUT/v1.sqlite3"
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
      const { n } = reader.prepare("SELECT count(*) AS n FROM shards s JOIN runs r USING (run_id) WHERE r.positions = 1023").get();
      reader.close();
      if (n >= 8) break;
    } catch {}
  }
  child.kill("SIGKILL");
' "$OLD/bin/sparsetrace.js" "$DB" "$SHARED/inputs/sat_model.bin" "$SHARED/inputs/enwik_1024.txt"
$ST sql "SELECT run_id, status, (SELECT sum(count) FROM shards s WHERE s.run_id = r.run_id) AS done, positions FROM runs r" --db "$DB"
$ST report --db "$DB" --job small > "$OUT/report-small.txt"
$ST report --db "$DB" --job small --format json > "$OUT/report-small.json"
$ST report --db "$DB" --job small --by window --format json > "$OUT/report-small-by-window.json"
$ST export --db "$DB" --job small --all > "$OUT/export-small.csv"
$ST report --db "$DB" --all --model "$SHARED/inputs/sat_model.bin" --format json > "$OUT/report-partial.json" 2>/dev/null
$ST sql "PRAGMA wal_checkpoint(TRUNCATE)" --write --db "$DB" >/dev/null
rm -f "$DB-wal" "$DB-shm"
ls -la "$OUT"
