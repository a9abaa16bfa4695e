#!/usr/bin/env bash
# `make emulator-demo`: the aws deployment end to end with no AWS account.
#
#   1. `genre-assets emulate-aws` on 127.0.0.1:$EMULATOR_PORT in the background (its log:
#      $EMULATOR_DEMO_DIR/emulator.log), holding the pipeline to deploy/iam-policy.json;
#   2. a sample lake written to $EMULATOR_DEMO_DIR/sample and uploaded to $EMULATOR_LAKE with the
#      venv's `aws` CLI;
#   3. `genre-assets materialize` of $EMULATOR_GENRES on the aws deployment, recorded in the
#      instance $EMULATOR_DEMO_DIR/dagster_home (a copy of deploy/dagster.yaml);
#   4. unless EMULATOR_DEMO_UI=0: `dagster dev` on http://127.0.0.1:$EMULATOR_UI_PORT with the same
#      environment and instance, so the UI shows that run. Ctrl-C stops the UI and the emulator.
#
# Everything it writes is under $EMULATOR_DEMO_DIR (default data/emulator-demo/, gitignored), and
# every Dagster process gets DAGSTER_HOME, so none creates .tmp_dagster_home_* in the checkout.
# The emulator is stopped on every exit: success, failure or Ctrl-C.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BIN=${VENV_BIN:-$ROOT/.venv/bin}
PORT=${EMULATOR_PORT:-4566}
LAKE=${EMULATOR_LAKE:-s3://genre-assets-demo/lake}
DEMO_DIR=${EMULATOR_DEMO_DIR:-$ROOT/data/emulator-demo}
RATINGS=${EMULATOR_RATINGS:-100000}
MOVIES=${EMULATOR_MOVIES:-2000}
GENRES=${EMULATOR_GENRES:-Comedy Drama}
UI=${EMULATOR_DEMO_UI:-1}
UI_PORT=${EMULATOR_UI_PORT:-3000}

mkdir -p "$DEMO_DIR"
DEMO_DIR=$(cd "$DEMO_DIR" && pwd)
SAMPLE=$DEMO_DIR/sample
LOG=$DEMO_DIR/emulator.log

say() { printf '\n==> %s\n' "$*"; }

# Never the caller's AWS configuration (profiles, endpoints, real credentials): only the
# emulator's endpoint and fake credentials, for the aws CLI and every boto3 client alike.
for name in ${!AWS_@}; do unset "$name"; done
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT AWS_DEFAULT_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
    AWS_CONFIG_FILE=$DEMO_DIR/no-aws-config AWS_SHARED_CREDENTIALS_FILE=$DEMO_DIR/no-aws-credentials
export GENRE_ASSETS_DEPLOYMENT=aws GENRE_ASSETS_LAKE=$LAKE GENRE_ASSETS_EMR_POLL_SECONDS=1
# This demo's own instance (not the local demo's .dagster_home): the UI shows the CLI's run.
export DAGSTER_HOME=$DEMO_DIR/dagster_home
mkdir -p "$DAGSTER_HOME"
[ -f "$DAGSTER_HOME/dagster.yaml" ] || cp deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"

EMULATOR_PID=
stop_emulator() {
    [ -n "$EMULATOR_PID" ] || return 0
    # Its own process group (set -m below): the emulator and the step processes it started.
    kill -TERM -- "-$EMULATOR_PID" 2>/dev/null || true
    for _ in $(seq 100); do  # up to 20 s for a clean stop, then SIGKILL
        case $(ps -o stat= -p "$EMULATOR_PID" 2>/dev/null || true) in "" | Z*) break ;; esac
        sleep 0.2
    done
    kill -KILL -- "-$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
    EMULATOR_PID=
    echo "emulator stopped (log: $LOG)"
}
trap stop_emulator EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "1/4 AWS emulator on $AWS_ENDPOINT_URL, lake $LAKE (log: $LOG)"
set -m  # a process group of its own, so stop_emulator reaches its children too
"$BIN/genre-assets" emulate-aws --port "$PORT" --lake "$LAKE" --start-seconds 1 \
    </dev/null >"$LOG" 2>&1 &
EMULATOR_PID=$!
set +m

# The sample is written while the emulator starts; it is uploaded once the bucket exists.
say "2/4 sample lake ($RATINGS ratings, $MOVIES movies) in $SAMPLE, uploaded to $LAKE"
rm -rf "$SAMPLE"
"$BIN/genre-assets" sample-data --lake "$SAMPLE" --ratings "$RATINGS" --movies "$MOVIES"
for _ in $(seq 300); do  # up to 60 s; the bucket exists once the banner is printed
    grep -q "Ctrl-C stops it" "$LOG" && break
    if ! kill -0 "$EMULATOR_PID" 2>/dev/null; then
        cat "$LOG" >&2
        echo "emulate-aws exited before it was ready (port $PORT taken? set EMULATOR_PORT)" >&2
        exit 1
    fi
    sleep 0.2
done
if ! grep -q "Ctrl-C stops it" "$LOG"; then
    cat "$LOG" >&2
    echo "emulate-aws did not start within 60 s" >&2
    exit 1
fi
"$BIN/aws" s3 cp --recursive --only-show-errors "$SAMPLE/movielens" "$LAKE/movielens"

genre_args=()
for genre in $GENRES; do genre_args+=(--genre "$genre"); done
say "3/4 genre-assets materialize ${genre_args[*]} on the aws deployment (DAGSTER_HOME=$DAGSTER_HOME)"
"$BIN/genre-assets" materialize "${genre_args[@]}"

if [ "$UI" = 0 ]; then
    say "done (EMULATOR_DEMO_UI=0: no UI); run history in $DAGSTER_HOME"
    exit 0
fi
say "4/4 dagster dev on http://127.0.0.1:$UI_PORT: the run above is under Runs; Ctrl-C stops the UI and the emulator"
"$BIN/dagster" dev -h 127.0.0.1 -p "$UI_PORT" -w "$ROOT/workspace.yaml"
