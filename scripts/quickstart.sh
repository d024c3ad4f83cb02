#!/usr/bin/env bash
# The README's quick start, without a person: against a running local
# cluster (`make run` in another terminal), or with --start, against one it
# starts with `make run` and stops again with a Ctrl-C-like SIGINT, checking
# that nothing is left behind. Exits non-zero on the first failure.
#
#   scripts/quickstart.sh           use the cluster at $DIEGO_RECEPTOR (default http://127.0.0.1:8887)
#   scripts/quickstart.sh --start   make run in the background, the steps, Ctrl-C, leftover checks
#   scripts/quickstart.sh --keep    leave hello-lrp running at the end
#   scripts/quickstart.sh --start --pipe
#                                   the same, as `make run | tee run.log`: the Ctrl-C
#                                   ends tee too, and the launcher must still stop
#                                   cleanly with nobody reading its output
#
# Environment: STATE_DIR (the launcher's state dir: its env.sh has the
# doppler token and CC password; default /var/lib/diego/local), TIMEOUT
# (seconds each wait may take, 90).
set -euo pipefail
cd "$(dirname "$0")/.."

START=false
KEEP=false
PIPE=false
for arg in "$@"; do
	case $arg in
	--start) START=true ;;
	--keep) KEEP=true ;;
	--pipe) PIPE=true ;;
	*) echo "usage: $0 [--start [--pipe]] [--keep]" >&2; exit 2 ;;
	esac
done
STATE_DIR=${STATE_DIR:-/var/lib/diego/local}
TIMEOUT=${TIMEOUT:-90}
export DIEGO_RECEPTOR=${DIEGO_RECEPTOR:-http://127.0.0.1:8887}
DIEGO=bin/diego
WORK=$(mktemp -d)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { echo "quickstart: FAILED: $*" >&2; exit 1; }

# json EXPR: evaluate a python expression over the JSON on stdin (as d).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND until it succeeds.
wait_for() {
	local secs=$1 what=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || fail "$what: not within ${secs}s"
		sleep 0.5
	done
}

CLUSTER_PID=
stop_cluster() {
	[ -n "$CLUSTER_PID" ] || return 0
	step "Ctrl-C: stopping the cluster"
	local started=$SECONDS
	kill -INT -- -"$CLUSTER_PID" 2>/dev/null || true
	local deadline=$((SECONDS + 120))
	while kill -0 "$CLUSTER_PID" 2>/dev/null; do
		if [ $SECONDS -ge $deadline ]; then
			kill -KILL -- -"$CLUSTER_PID" 2>/dev/null || true
			fail "the cluster did not stop within 120s (log: $WORK/cluster.log)"
		fi
		sleep 0.2
	done
	CLUSTER_PID=
	sed -n '/stopping (Ctrl-C again/,$p' "$WORK/cluster.log" | grep -E '^diego-local' || true
	echo "stopped in $((SECONDS - started))s"
}
cleanup() {
	local rc=$?
	[ -n "${EVENTS_PID:-}" ] && kill "$EVENTS_PID" 2>/dev/null || true
	if [ -n "$CLUSTER_PID" ]; then
		stop_cluster || rc=1
		if [ $rc -ne 0 ]; then
			echo "--- the end of the cluster's log ($WORK/cluster.log) ---" >&2
			tail -40 "$WORK/cluster.log" >&2 || true
		fi
	fi
	exit $rc
}
trap cleanup EXIT

if $START; then
	step "make run (in the background; log in $WORK/cluster.log)"
	begun=$SECONDS
	# Its own session, so the SIGINT below reaches make and the launcher
	# together, as a Ctrl-C in their terminal would.
	if $PIPE; then
		# ... and the reader of its output, which dies of it as tee does
		# in a terminal, so the launcher's stop writes to a pipe nobody
		# reads. (A background job starts with SIGINT ignored: the reader
		# restores the default; tee could not.)
		setsid bash -c 'make run 2>&1 | python3 -c "$1" "$2"' pipe '
import signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
with open(sys.argv[1], "wb") as log:
    for line in sys.stdin.buffer:
        log.write(line)
        log.flush()
' "$WORK/cluster.log" &
	else
		setsid make run >"$WORK/cluster.log" 2>&1 &
	fi
	CLUSTER_PID=$!
	deadline=$((SECONDS + 600)) # a first run also downloads modules and builds
	until grep -q 'cluster healthy in' "$WORK/cluster.log"; do
		kill -0 "$CLUSTER_PID" 2>/dev/null || { CLUSTER_PID=; tail -40 "$WORK/cluster.log" >&2; fail "make run exited"; }
		[ $SECONDS -lt $deadline ] || fail "the cluster was not healthy within 600s"
		sleep 0.5
	done
	grep -m1 'cluster healthy in' "$WORK/cluster.log"
	echo "make run to healthy: $((SECONDS - begun))s (including the build)"
fi

[ -x "$DIEGO" ] || fail "$DIEGO is missing: run make build (or make run)"
# The doppler is in auth mode cc (docs/decisions.md 103): diego logs and
# diego top send the operator token, diego push logs in with the CC
# password; env.sh (mode 0600) has both.
# The launcher writes env.sh before it logs "cluster healthy in" (an older
# launcher wrote it just after).
wait_for 10 "$STATE_DIR/env.sh (STATE_DIR is the launcher's state dir) to export DIEGO_DOPPLER_TOKEN" \
	grep -q '^export DIEGO_DOPPLER_TOKEN=' "$STATE_DIR/env.sh"
eval "$(grep -E '^export (DIEGO_DOPPLER_TOKEN|DIEGO_CC|DIEGO_CC_PASSWORD)=' "$STATE_DIR/env.sh")"
[ -n "${DIEGO_DOPPLER_TOKEN:-}" ] && [ -n "${DIEGO_CC_PASSWORD:-}" ] ||
	fail "$STATE_DIR/env.sh sets no DIEGO_DOPPLER_TOKEN or DIEGO_CC_PASSWORD: restart the cluster with this tree's launcher"

step "export DIEGO_RECEPTOR=$DIEGO_RECEPTOR; $DIEGO cells"
$DIEGO cells || fail "cannot list cells: is the cluster running (make run)?"
cells=$($DIEGO --json cells | json 'len(d)')
[ "$cells" -ge 1 ] || fail "no cells registered"
# Named as diego-release names its cells.
$DIEGO --json cells | json '"\n".join(c["cell_id"] for c in d)' | grep -qvE '^cell_z1-[0-9]+$' &&
	fail "a cell is not named cell_z1-<n>: $($DIEGO --json cells | json '[c["cell_id"] for c in d]')"

# Leftovers of an earlier run of this script against the same cluster.
$DIEGO delete-lrp hello-lrp >/dev/null 2>&1 || true
$DIEGO delete-task hello-task >/dev/null 2>&1 || true
$DIEGO delete-task stack-task >/dev/null 2>&1 || true
$DIEGO delete-task egress-none >/dev/null 2>&1 || true
$DIEGO delete-task egress-allowed >/dev/null 2>&1 || true
wait_for "$TIMEOUT" "the old hello-lrp instances to go" \
	bash -c "[ \"\$($DIEGO --json actual-lrps hello-lrp | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 0 ]"

step "$DIEGO events (in the background)"
$DIEGO events >"$WORK/events.log" 2>&1 &
EVENTS_PID=$!
sleep 0.5

step "$DIEGO create-task deploy/examples/task.json"
$DIEGO create-task deploy/examples/task.json
wait_for "$TIMEOUT" "hello-task to complete" bash -c "[ \"\$($DIEGO --json task hello-task | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = COMPLETED ]"
$DIEGO tasks
failed=$($DIEGO --json task hello-task | json 'd["failed"]')
reason=$($DIEGO --json task hello-task | json 'd["failure_reason"]')
[ "$failed" = False ] || fail "hello-task failed: $reason"
result=$($DIEGO --json task hello-task | json 'd["result"]')
echo "result: $result"
[[ $result == *"the answer is 42"* ]] || fail "hello-task's result is not the expected one: $result"
step "$DIEGO logs hello-task --recent"
wait_for "$TIMEOUT" "hello-task's output in diego logs" bash -c "$DIEGO logs hello-task --recent | grep -q '\[TASK/0\] OUT hello from diego'"
$DIEGO logs hello-task --recent
out=$(DIEGO_DOPPLER_TOKEN= $DIEGO logs hello-task --recent 2>&1) && fail "the doppler served hello-task's logs without a token"
[[ $out == *"doppler answered 401"* ]] || fail "diego logs without a token: $out"
echo "without the operator token: $out"
$DIEGO delete-task hello-task

step "$DIEGO create-task deploy/examples/stack-task.json (preloaded:cflinuxfs4, the Debian stack: nc -z and curl)"
begun=$SECONDS
$DIEGO create-task deploy/examples/stack-task.json
wait_for "$TIMEOUT" "stack-task to complete" bash -c "[ \"\$($DIEGO --json task stack-task | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = COMPLETED ]"
echo "completed in $((SECONDS - begun))s"
failed=$($DIEGO --json task stack-task | json 'd["failed"]')
reason=$($DIEGO --json task stack-task | json 'd["failure_reason"]')
[ "$failed" = False ] || fail "stack-task failed: $reason"
result=$($DIEGO --json task stack-task | json 'd["result"]')
echo "result: $result"
[[ $result == *"nc -z: ok; curl: hello from vcap on Debian GNU/Linux 12 (bookworm)"* ]] ||
	fail "stack-task's result is not the expected one: $result"
$DIEGO delete-task stack-task

step "$DIEGO create-lrp deploy/examples/lrp.json"
$DIEGO create-lrp deploy/examples/lrp.json
want=$(json 'd["instances"]' <deploy/examples/lrp.json)
running() {
	[ "$($DIEGO --json actual-lrps hello-lrp | json 'sum(1 for a in d if a["state"] == "RUNNING")')" = "$want" ]
}
wait_for "$TIMEOUT" "$want hello-lrp instances to be RUNNING" running
$DIEGO actual-lrps hello-lrp
$DIEGO actual-lrps hello-lrp | grep -qE '[0-9]+:8080' || fail "the actual-lrps table shows no host:container port"

step "$DIEGO --json actual-lrps hello-lrp: each instance's address and host port"
$DIEGO --json actual-lrps hello-lrp | json '"\n".join("index %d on %s: %s:%d" % (a["index"], a["cell_id"], a["address"], a["ports"][0]["host_port"]) for a in d)'
for url in $($DIEGO --json actual-lrps hello-lrp | json '" ".join("http://%s:%d/" % (a["address"], a["ports"][0]["host_port"]) for a in d)'); do
	step "curl $url"
	page=$(curl -fsS -m 10 "$url") || fail "curl $url failed"
	echo "$page"
	[[ $page == *"hello from diego"* ]] || fail "unexpected page from $url"
done

step "$DIEGO logs hello-lrp --recent, and $DIEGO top --once"
wait_for "$TIMEOUT" "hello-lrp's health-check lines in diego logs" bash -c "$DIEGO logs hello-lrp --recent | grep -q '\[APP/1\] OUT Container became healthy'"
$DIEGO logs hello-lrp --recent
wait_for 60 "both instances in diego top" bash -c "[ \"\$($DIEGO --json top --once hello-lrp | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 2 ]"
$DIEGO top --once hello-lrp
step "curl http://hello-lrp.apps.localhost:8081/ (through the router, from the route-emitter's registrations)"
wait_for "$TIMEOUT" "the router to route hello-lrp.apps.localhost" \
	bash -c "curl -fsS -m 5 http://hello-lrp.apps.localhost:8081/ | grep -q 'hello from diego'"
seen=""
for _ in 1 2 3 4 5 6; do
	page=$(curl -fsS -m 10 http://hello-lrp.apps.localhost:8081/) || fail "curl through the router failed"
	seen="$seen${page%% of hello-lrp*}"$'\n'
done
echo "$seen" | sort -u | grep -v '^$'
[ "$(echo "$seen" | sort -u | grep -c 'instance')" = 2 ] || fail "the router did not reach both instances round-robin"
step "$DIEGO routes"
$DIEGO routes | tee "$WORK/routes.txt"
[ "$(grep -c '^hello-lrp.apps.localhost' "$WORK/routes.txt")" = 2 ] || fail "diego routes does not list both hello-lrp endpoints"

# egress_task GUID ADDRESS PORT RULES: a cflinuxfs4 task that tries nc -z
# ADDRESS PORT with the egress rules RULES (JSON); prints its result.
egress_task() {
	python3 - "$@" <<'PY' | $DIEGO create-task - >/dev/null
import json, sys
guid, addr, port, rules = sys.argv[1:]
print(json.dumps({
    "task_guid": guid, "domain": "examples", "rootfs": "preloaded:cflinuxfs4", "memory_mb": 64, "disk_mb": 64,
    "result_file": "/home/vcap/result.txt", "egress_rules": json.loads(rules),
    "action": {"run": {"path": "/bin/bash", "user": "vcap", "args": ["-c",
        "if nc -z -w 5 %s %s; then echo REACHED; else echo BLOCKED; fi > /home/vcap/result.txt" % (addr, port)]}},
}))
PY
	wait_for "$TIMEOUT" "$1 to complete" bash -c "[ \"\$($DIEGO --json task $1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = COMPLETED ]"
	[ "$($DIEGO --json task "$1" | json 'd["failed"]')" = False ] || fail "$1 failed: $($DIEGO --json task "$1" | json 'd["failure_reason"]')"
	$DIEGO --json task "$1" | json 'd["result"].strip()'
	$DIEGO delete-task "$1" >/dev/null
}
target=$($DIEGO --json actual-lrps hello-lrp | json '"%s %d" % (d[0]["address"], d[0]["ports"][0]["host_port"])')
step "closed egress: a task with no egress rules tries nc -z $target (hello-lrp/0)"
got=$(egress_task egress-none $target '[]')
echo "$got"
[ "$got" = BLOCKED ] || fail "a container with no egress rules reached $target"
# The cells share this host: the host port is DNATed to the instance before
# garden's egress filter, so the rule names the containers' addresses
# (every cell's pool is in 10.251.0.0/16) and the container port.
rule='[{"protocol": "tcp", "destinations": ["10.251.0.0/16"], "ports": [8080]}]'
step "the same with the egress rule $rule"
got=$(egress_task egress-allowed $target "$rule")
echo "$got"
[ "$got" = REACHED ] || fail "the egress rule did not open $target"

# A modern desired LRP through the BBS (the 2015 receptor API has no
# check_definition): its server listens after 5 s, and the declarative tcp
# check keeps it out of RUNNING until then.
step "$DIEGO desire-lrp deploy/examples/lrp-check.json (through the BBS, with the settings of $STATE_DIR/env.sh)"
[ -f "$STATE_DIR/env.sh" ] || fail "$STATE_DIR/env.sh is missing: set STATE_DIR to the launcher's state dir"
$DIEGO delete-lrp checked-lrp >/dev/null 2>&1 || true
wait_for "$TIMEOUT" "the old checked-lrp instance to go" \
	bash -c "[ \"\$($DIEGO --json actual-lrps checked-lrp | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 0 ]"
(. "$STATE_DIR/env.sh" && $DIEGO desire-lrp deploy/examples/lrp-check.json)
desired_at=$SECONDS
wait_for "$TIMEOUT" "checked-lrp to be CLAIMED" bash -c "[ \"\$($DIEGO --json actual-lrps checked-lrp | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[0][\"state\"] if d else \"\")')\" = CLAIMED ]"
wait_for "$TIMEOUT" "checked-lrp to be RUNNING" bash -c "[ \"\$($DIEGO --json actual-lrps checked-lrp | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[0][\"state\"] if d else \"\")')\" = RUNNING ]"
took=$((SECONDS - desired_at))
echo "checked-lrp RUNNING ${took}s after it was desired (its server listens after 5 s)"
[ "$took" -ge 5 ] || fail "checked-lrp was RUNNING before its check could pass"
$DIEGO delete-lrp checked-lrp

step "$DIEGO push deploy/examples/app --name hello --buildpack shell_buildpack (through the Cloud Controller at $DIEGO_CC)"
began=$EPOCHREALTIME
$DIEGO push deploy/examples/app --name hello --buildpack shell_buildpack | tee "$WORK/push.log" ||
	fail "diego push failed"
took=$(python3 -c "print('%.1f' % ($EPOCHREALTIME - $began))")
grep -q '^Downloaded app package' "$WORK/push.log" || fail "diego push printed no staging log lines"
echo "diego push to the first RUNNING instance (staging included): ${took}s"
step "curl http://hello.apps.localhost:8081/ (the pushed app, through the router)"
wait_for "$TIMEOUT" "the router to route hello.apps.localhost" \
	bash -c "curl -fsS -m 5 http://hello.apps.localhost:8081/ | grep -q 'hello from cf push'"
curl -fsS -m 5 http://hello.apps.localhost:8081/
step "$DIEGO push deploy/examples/app --name hello again (an update: upload, stop, start; the same bits keep their droplet)"
began=$EPOCHREALTIME
$DIEGO push deploy/examples/app --name hello | tee "$WORK/push2.log" || fail "the second diego push failed"
grep -q '^Updating app hello' "$WORK/push2.log" || fail "the second diego push did not update hello"
echo "the second diego push to the first RUNNING instance: $(python3 -c "print('%.1f' % ($EPOCHREALTIME - $began))")s (first: ${took}s)"
wait_for "$TIMEOUT" "the router to route hello.apps.localhost again" \
	bash -c "curl -fsS -m 5 http://hello.apps.localhost:8081/ | grep -q 'hello from cf push'"
step "cf delete hello -f (the CLI's calls, with curl)"
token=$(curl -fsS -m 10 -u cf: -d grant_type=password -d username=admin --data-urlencode "password=$DIEGO_CC_PASSWORD" \
	"$DIEGO_CC/uaa/oauth/token" | json 'd["access_token"]') || fail "cannot log in to $DIEGO_CC"
cc_get() { curl -fsS -m 10 -H "Authorization: bearer $token" "$DIEGO_CC$1"; }
org=$(cc_get "/v2/organizations?q=name%3Adiego" | json 'd["resources"][0]["metadata"]["guid"]')
space=$(cc_get "/v2/organizations/$org/spaces?q=name%3Adev" | json 'd["resources"][0]["metadata"]["guid"]')
app=$(cc_get "/v2/spaces/$space/apps?q=name%3Ahello&inline-relations-depth=1" | json 'd["resources"][0]["metadata"]["guid"]') ||
	fail "the Cloud Controller does not list hello"
status=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: bearer $token" \
	"$DIEGO_CC/v2/apps/$app?async=true&recursive=true")
[ "$status" = 204 ] || fail "DELETE /v2/apps/$app answered $status"
wait_for "$TIMEOUT" "the router to forget hello.apps.localhost" \
	bash -c "curl -sS -m 5 -o /dev/null -D - http://hello.apps.localhost:8081/ | grep -qi '^X-Cf-RouterError: unknown_route'"
echo "deleted; the router answers 404 unknown_route for hello.apps.localhost"

step "what $DIEGO events saw"
sleep 1
kill "$EVENTS_PID" 2>/dev/null || true
wait "$EVENTS_PID" 2>/dev/null || true
EVENTS_PID=
cat "$WORK/events.log"
for event in desired_lrp_created actual_lrp_created actual_lrp_changed; do
	grep -q "$event" "$WORK/events.log" || fail "diego events did not show $event"
done

if ! $KEEP; then
	step "$DIEGO delete-lrp hello-lrp"
	$DIEGO delete-lrp hello-lrp
	wait_for "$TIMEOUT" "hello-lrp's instances to stop" \
		bash -c "[ \"\$($DIEGO --json actual-lrps hello-lrp | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 0 ]"
	step "curl http://hello-lrp.apps.localhost:8081/ after the delete: 404 unknown_route"
	wait_for "$TIMEOUT" "the router to forget hello-lrp.apps.localhost" \
		bash -c "curl -sS -m 5 -o /dev/null -D - http://hello-lrp.apps.localhost:8081/ | grep -qi '^X-Cf-RouterError: unknown_route'"
	curl -sS -m 5 -i http://hello-lrp.apps.localhost:8081/ | head -1
fi

if $START; then
	stop_cluster
	if $PIPE && grep -q 'stopped in' "$WORK/cluster.log"; then
		fail "the reader outlived the launcher's stop: its stdout never broke, nothing was tested"
	fi
	step "leftovers (there should be none)"
	left=0
	# The daemons, and anything still in a cell garden's cgroups
	# (garden-a, garden-b, ...): container inits and their processes.
	if pgrep -af "^$(pwd)/bin/"; then left=1; fi
	# A container process killed at the stop may still be exiting (its
	# /proc entry outlives its cgroup); only one alive after 5 s is left.
	in_cgroups() {
		local f pid
		for f in $(grep -lE ':/garden-[a-h](/|$)' /proc/[0-9]*/cgroup 2>/dev/null); do
			pid=${f#/proc/}; pid=${pid%/cgroup}
			[ "$(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null)" = Z ] || echo "$pid"
		done
	}
	for _ in $(seq 50); do [ -z "$(in_cgroups)" ] && break; sleep 0.1; done
	for pid in $(in_cgroups); do
		echo "in a cell's cgroup: $pid $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null)"; left=1
	done
	if grep -q "$STATE_DIR" /proc/self/mountinfo; then
		echo "mounts:"; grep "$STATE_DIR" /proc/self/mountinfo; left=1
	fi
	if [ -n "$(find "$STATE_DIR"/cell_*/depot -mindepth 1 -maxdepth 1 2>/dev/null)" ]; then
		echo "garden containers (depot entries):"; ls "$STATE_DIR"/cell_*/depot; left=1
	fi
	if ip -o link | grep -E ': w[a-h]([0-9a-f]{8}-0|brdg-[0-9a-f]{8})[@:]'; then left=1; fi
	if iptables-save | grep -E -- '(w-[a-h]-|-i w[a-h]\+)'; then left=1; fi
	for parent in /sys/fs/cgroup/garden-[a-h] /sys/fs/cgroup/*/garden-[a-h]; do
		if [ -d "$parent" ]; then echo "cgroup parent: $parent"; left=1; fi
	done
	[ $left -eq 0 ] || fail "the stopped cluster left the above behind"
	echo "no processes, mounts, containers, links, iptables rules or cgroup parents left"
fi

step "quick start: OK"
