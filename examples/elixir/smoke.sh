#!/usr/bin/env bash
# Smoke test of the Elixir ports of the seed programs, Elixir <-> Elixir on
# loopback:
#
#     examples/elixir/smoke.sh                 # all sections
#     examples/elixir/smoke.sh chat tasks      # some of: chat tasks ratelimiter distsys
#
# Uses its own epmd on a random free port (ERL_EPMD_PORT, 4400-4899) so that
# it does not collide with other tests, short node names (--sname), unique
# names where the seed does not fix them, per-process timeouts, and FIFOs to
# feed the clients' stdin. Every background process (and the epmd) is killed
# on exit. Set KEEP=1 to keep the logs directory. Exit status 0 iff all
# checks pass.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SECTIONS=("$@")
[ ${#SECTIONS[@]} -eq 0 ] && SECTIONS=(chat tasks ratelimiter distsys)

TMP=$(mktemp -d /tmp/ferrobeam-elixir-smoke.XXXXXX)
ID=$$
HOST=$(hostname -s)
PROC_TIMEOUT=180     # hard limit for every Erlang VM we start
WAIT=20              # seconds to wait for an expected line

PASS=0
FAIL=0
declare -A FD PID
EPMD_PID=

port_in_use() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

cleanup() {
  local p alive live
  trap '' INT TERM
  for name in "${!FD[@]}"; do eval "exec ${FD[$name]}>&-" 2>/dev/null; done
  # only children of this shell that are still running (no stale pids)
  live=()
  for p in $(jobs -pr); do [ "$p" != "$EPMD_PID" ] && live+=("$p"); done
  # TERM to `timeout` is passed on to the VM, and timeout exits with it;
  # give the VMs up to 5 s before KILLing what is left
  for p in "${live[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 50); do
    alive=0
    for p in "${live[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${live[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ -n "$EPMD_PID" ]; then kill -TERM "$EPMD_PID" 2>/dev/null; wait "$EPMD_PID" 2>/dev/null; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'trap "" INT TERM; exit 130' INT TERM

# ---- epmd on a private port ---------------------------------------------------
for _ in $(seq 50); do
  PORT=$((4400 + RANDOM % 500))
  port_in_use "$PORT" || break
done
export ERL_EPMD_PORT=$PORT
epmd -port "$PORT" >"$TMP/epmd.log" 2>&1 &
EPMD_PID=$!
for _ in $(seq 50); do epmd -port "$PORT" -names >/dev/null 2>&1 && break; sleep 0.1; done
echo "epmd on port $PORT (pid $EPMD_PID), host $HOST, logs in $TMP"

# ---- helpers -------------------------------------------------------------------
ok()   { PASS=$((PASS + 1)); echo "  ok   $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "  FAIL $*"; }

dump() { echo "  ---- $1.log (last 30 lines)"; { tail -n 30 "$TMP/$1.log"; echo; } | sed "s/^/  | /"; }

# start NAME CMD...   run CMD in the background, stdin from a FIFO we hold
# open (send/close below), stdout+stderr to $TMP/NAME.log
start() {
  local name=$1; shift
  local fifo=$TMP/$name.in fd
  mkfifo "$fifo"
  exec {fd}<>"$fifo"
  (
    # do not hold the write end of any client's FIFO open in the children,
    # otherwise closing it would not give that client end-of-file
    for f in "${FD[@]}"; do eval "exec $f>&-"; done
    eval "exec $fd>&-"
    exec timeout -k 5 "$PROC_TIMEOUT" "$@"
  ) <"$fifo" >"$TMP/$name.log" 2>&1 &
  PID[$name]=$!
  FD[$name]=$fd
}

send()  { printf '%s\n' "$2" >&"${FD[$1]}"; }
close() { eval "exec ${FD[$1]}>&-"; unset "FD[$1]"; }

# count NAME FIXED-STRING -> number of matching lines
count() { local c; c=$(grep -cF -- "$2" "$TMP/$1.log" 2>/dev/null); echo "${c:-0}"; }
count_lines() { local c; c=$(grep -cxF -- "$2" "$TMP/$1.log" 2>/dev/null); echo "${c:-0}"; }

# wait_for NAME FIXED-STRING [N]: wait until the log has >= N (1) matching lines
wait_for() {
  local name=$1 str=$2 n=${3:-1} t=0
  while [ "$(count "$name" "$str")" -lt "$n" ]; do
    if [ $t -ge $((WAIT * 10)) ]; then
      bad "$name: expected${3:+ $n x} '$str'"
      dump "$name"
      return 1
    fi
    sleep 0.1; t=$((t + 1))
  done
  ok "$name: '$str'${3:+ (x$n)}"
}

# wait_line NAME EXACT-LINE [N]: wait until the log has >= N (1) lines equal to it
wait_line() {
  local name=$1 str=$2 n=${3:-1} t=0
  while [ "$(count_lines "$name" "$str")" -lt "$n" ]; do
    if [ $t -ge $((WAIT * 10)) ]; then
      bad "$name: expected${3:+ $n x} line '$str'"
      dump "$name"
      return 1
    fi
    sleep 0.1; t=$((t + 1))
  done
  ok "$name: line '$str'${3:+ (x$n)}"
}

# wait_re NAME ERE: like wait_for with an extended regexp
wait_re() {
  local name=$1 re=$2 t=0
  until grep -qE -- "$re" "$TMP/$name.log" 2>/dev/null; do
    if [ $t -ge $((WAIT * 10)) ]; then
      bad "$name: expected /$re/"; dump "$name"; return 1
    fi
    sleep 0.1; t=$((t + 1))
  done
  ok "$name: /$re/"
}

absent() {
  if [ "$(count "$1" "$2")" -eq 0 ]; then ok "$1: no '$2'"; else bad "$1: unexpected '$2'"; dump "$1"; fi
}

# wait_exit NAME EXPECTED_RC
wait_exit() {
  local name=$1 want=$2 pid=${PID[$1]} t=0 rc
  while kill -0 "$pid" 2>/dev/null; do
    if [ $t -ge $((WAIT * 10)) ]; then bad "$name: still running"; dump "$name"; return 1; fi
    sleep 0.1; t=$((t + 1))
  done
  wait "$pid"; rc=$?
  if [ "$rc" = "$want" ]; then ok "$name: exited with $rc"; else bad "$name: exited with $rc, expected $want"; dump "$name"; fi
}

# run NAME CMD...: run in the foreground (stdin /dev/null), output to NAME.log
# (in the background + wait, so that a signal to this script is handled at once)
run() {
  local name=$1 p rc; shift
  timeout -k 5 60 "$@" </dev/null >"$TMP/$name.log" 2>&1 &
  p=$!
  wait "$p"; rc=$?
  echo "$rc" >"$TMP/$name.rc"
}

rc_is() {
  local rc; rc=$(cat "$TMP/$1.rc")
  if [ "$rc" = "$2" ]; then ok "$1: exit status $rc"; else bad "$1: exit status $rc, expected $2"; dump "$1"; fi
}

# stop NAME: end a background process we started (by its pid)
stop() {
  local pid=${PID[$1]}
  [ -n "${FD[$1]:-}" ] && close "$1"
  if jobs -pr | grep -qx "$pid"; then   # still our running child
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
}

# ---- chat (seed 000) -------------------------------------------------------------
section_chat() {
  echo "== chat: ExMessenger server + clients"
  local srv=chatsrv_$ID
  local S=$srv@$HOST
  local C=$HERE/chat/client.exs

  start server elixir --sname "$srv" --cookie chocolate-chip "$HERE/chat/server.exs"
  wait_for server "server started" || return

  start alice env server="$S" nick=alice elixir --sname "alice_$ID" "$C"
  wait_for alice "* Joined the chatroom *"
  wait_for alice "* Users in the room: alice *"

  start bob env server="$S" nick=bob elixir --sname "bob_$ID" "$C"
  wait_for bob "* Users in the room: alice:bob *"
  wait_for alice "$S> bob: * bob has joined *"

  send alice "hello"
  wait_for bob "$S> alice: hello"

  send bob "/users"
  wait_for bob "$S> server: users: alice, bob"

  send alice "/pm bob psst,   bob"
  wait_for bob "$S> alice: psst, bob"

  send alice "/help"
  wait_for alice "Available commands:"
  wait_for alice "/pm <to nick> <message>"

  # refused nicks (these clients exit 0 after printing the reason, like the seed)
  run dup_nick env server="$S" nick=alice elixir --sname "carol_$ID" "$C"
  wait_for dup_nick "Could not join chatroom, reason: nick_in_use"
  rc_is dup_nick 0
  run server_nick env server="$S" nick=server elixir --sname "carol_$ID" "$C"
  wait_for server_nick "Could not join chatroom, reason: nick_not_allowed"

  # the raw protocol, from a node that is not a client
  run probe elixir --sname "probe_$ID" --cookie chocolate-chip -e "
    s = {:message_server, :\"$S\"}
    show = fn label, v -> IO.puts(label <> \" => \" <> inspect(v)) end
    show.(\"disconnect alice\", GenServer.call(s, {:disconnect, \"alice\"}))
    show.(\"disconnect nobody\", GenServer.call(s, {:disconnect, \"nobody\"}))
    show.(\"connect :server\", GenServer.call(s, {:connect, :server}))
    show.(\"connect bob\", GenServer.call(s, {:connect, \"bob\"}))
    show.(\"connect dave\", GenServer.call(s, {:connect, \"dave\"}))
    show.(\"disconnect dave\", GenServer.call(s, {:disconnect, \"dave\"}))"
  wait_for probe 'disconnect alice => :not_allowed'
  wait_for probe 'disconnect nobody => :user_not_found'
  wait_for probe 'connect :server => :nick_not_allowed'
  wait_for probe 'connect bob => :nick_in_use'
  wait_for probe 'connect dave => {:ok, "alice:bob:dave"}'
  wait_for probe 'disconnect dave => :ok'
  wait_for alice "$S> dave: * dave has joined *"
  wait_for bob "$S> dave: * dave has left *"

  send bob "/leave"
  wait_for bob "You have exited the chatroom, you can rejoin with /join or quit with /quit"
  wait_for alice "$S> bob: * bob has left *"
  send alice "anyone?"
  wait_for server "alice said anyone?"    # handled before bob rejoins
  send bob "/join"
  wait_re bob 'Joined the chatroom$'
  wait_for alice "$S> bob: * bob has joined *" 2
  absent bob "$S> alice: anyone?"

  send bob "/quit"
  wait_exit bob 0
  wait_for alice "$S> bob: * bob has left *" 2

  close alice      # end of stdin: leave and exit 0
  wait_exit alice 0
  wait_for server "alice has left, user_list: "
  absent alice "$S> alice: hello"   # no echo of one's own messages

  stop server
}

# ---- distributed tasks (seed 002) ---------------------------------------------------
section_tasks() {
  echo "== tasks: Chat with Task.Supervisor (alex, kate, moebi @localhost)"
  local T=$HERE/tasks
  local cookie=tasks_$ID

  start kate elixir --sname kate@localhost --cookie "$cookie" "$T/chat.exs"
  start moebi elixir --sname moebi@localhost --cookie "$cookie" "$T/chat.exs"
  start alex elixir --sname alex@localhost --cookie "$cookie" "$T/chat.exs"
  wait_for kate "chat node started on kate@localhost" || return
  wait_for moebi "chat node started on moebi@localhost" || return
  wait_for alex "chat node started on alex@localhost" || return

  send alex 'Chat.send_message(:kate@localhost, "hi")'
  wait_line kate 'hi'
  wait_line alex ':ok'

  send kate 'Chat.send_message(:alex@localhost, "how are you?")'
  wait_line alex 'how are you?'
  wait_line kate ':ok'

  send alex 'Chat.send_message(:moebi@localhost, "hi")'
  wait_line moebi 'hi'
  wait_line alex 'chicken?'
  wait_line alex ':ok' 2
  absent kate "chicken?"

  run chat_test_dev env CHAT_ENV=dev elixir --sname "tester_$ID@localhost" --cookie "$cookie" "$T/chat_test.exs"
  wait_for chat_test_dev "1 test, 0 failures"
  rc_is chat_test_dev 0
  wait_line moebi 'hi' 2

  run chat_test_plain elixir "$T/chat_test.exs"
  wait_for chat_test_plain "1 test, 0 failures, 1 excluded"

  run chat_test_env env CHAT_ENV=test elixir --sname "tester_$ID@localhost" --cookie "$cookie" "$T/chat_test.exs"
  wait_for chat_test_env "1 test, 0 failures"
  wait_line chat_test_env 'chicken?'

  stop alex; stop kate; stop moebi
}

# ---- rate limiter on a hash ring (seed 004) -----------------------------------------
section_ratelimiter() {
  echo "== ratelimiter: hash ring + distributed RateLimiter"
  local R=$HERE/ratelimiter
  local cookie=rl_$ID
  local a=rla_$ID@$HOST b=rlb_$ID@$HOST c=rlc_$ID@$HOST

  run ring_demo elixir "$R/ring_demo.exs"
  wait_for ring_demo 'Ring.add_node(ring, "c@127.0.0.1") => {:ok, [{"c@127.0.0.1", 512}, {"b@127.0.0.1", 512}, {"a@127.0.0.1", 512}]}'
  if [ "$(grep -F 'find_node' "$TMP/ring_demo.log" | sed 's/.*=> //' | tr '\n' ' ')" = \
       '{:ok, "c@127.0.0.1"} {:ok, "a@127.0.0.1"} {:ok, "b@127.0.0.1"} {:ok, "b@127.0.0.1"} {:ok, "a@127.0.0.1"} {:ok, "c@127.0.0.1"} ' ]; then
    ok "ring_demo: lookups match the seed's transcript"
  else
    bad "ring_demo: lookups differ from the seed's transcript"; dump ring_demo
  fi

  start rla elixir --sname "rla_$ID" --cookie "$cookie" "$R/node.exs"
  start rlb elixir --sname "rlb_$ID" --cookie "$cookie" "$R/node.exs"
  start rlc elixir --sname "rlc_$ID" --cookie "$cookie" "$R/node.exs"
  for n in rla rlb rlc; do wait_for $n "rate limiter node started" || return; done

  send rla "Node.connect(:\"$b\")"
  send rla "Node.connect(:\"$c\")"
  for n in rla rlb rlc; do
    send $n 'EvalShell.wait_until(fn -> match?({:ok, [_, _, _]}, ExHashRing.Ring.get_nodes(DistributionRing)) end) == true && :ring_ready'
    wait_for $n ":ring_ready"
    send $n '{:owner, ExHashRing.Ring.find_node(DistributionRing, "10.0.0.1")}'
    wait_for $n "{:owner, {:ok, "
  done
  local owners
  owners=$(cat "$TMP"/rl[abc].log | grep -F '{:owner, ' | sort -u)
  if [ "$(echo "$owners" | wc -l)" = 1 ]; then ok "all nodes agree on the owner: $owners"; else bad "owners differ: $owners"; fi

  # stay inside one 60 s rate-limit window for the counting part
  local sec; sec=$((10#$(date +%S)))
  if [ "$sec" -ge 50 ]; then echo "  (waiting $((61 - sec)) s for a fresh rate-limit window)"; sleep $((61 - sec)); fi

  send rla 'for _ <- 1..6, do: RateLimiter.check("10.0.0.1")'
  wait_for rla "[allow: 1, allow: 2, allow: 3, allow: 4, allow: 5, allow: 6]"
  send rlb 'for _ <- 1..4, do: RateLimiter.check("10.0.0.1")'
  wait_for rlb "[allow: 7, allow: 8, allow: 9, allow: 10]"
  send rlc 'RateLimiter.check("10.0.0.1")'
  wait_for rlc "{:deny, 10}"
  send rlc 'RateLimiter.check("10.0.0.2")'
  wait_for rlc "{:allow, 1}"

  # the owner goes away: the others drop it from the ring and a new owner
  # starts counting from scratch
  local owner other
  owner=$(echo "$owners" | sed -n 's/.*{:ok, :"\?\([^"}]*\)"\?}}.*/\1/p')
  case "$owner" in
    rla_*) other=rlb ;;
    rlb_*) other=rlc ;;
    *)     other=rla ;;
  esac
  local owner_log=${owner%%_*}
  send "$owner_log" 'System.halt(0)'
  wait_exit "$owner_log" 0
  wait_for $other "Node $owner disconnected"
  send $other 'EvalShell.wait_until(fn -> match?({:ok, [_, _]}, ExHashRing.Ring.get_nodes(DistributionRing)) end) == true && {:after_owner_left, RateLimiter.check("10.0.0.1")}'
  wait_for $other "{:after_owner_left, {:allow, 1}}"

  stop rla; stop rlb; stop rlc
}

# ---- distribution primitives (seed 003) ---------------------------------------------
section_distsys() {
  echo "== distsys: node1 / node2 / hidden node"
  local D=$HERE/distsys
  local cookie=ds_$ID
  local dport
  for _ in $(seq 50); do dport=$((20000 + RANDOM % 10000)); port_in_use "$dport" || break; done

  start node1 elixir --erl "-kernel inet_dist_listen_min $dport inet_dist_listen_max $dport" \
    --sname node1@localhost --cookie "$cookie" "$D/node1.exs"
  wait_for node1 "node1 ready on node1@localhost" || return

  run node2 env node1=node1@localhost elixir --sname node2@localhost --cookie "$cookie" "$D/node2.exs"
  rc_is node2 0
  local line
  while IFS= read -r line; do
    wait_for node2 "$line"
  done <<EOF
node(): :node2@localhost
Node.connect(node1): true
Node.list(): [:node1@localhost]
Node.list([:this, :visible]): [:node1@localhost, :node2@localhost]
Hello from node1@localhost
Node.spawn lambda: {:down, :normal}
Node.spawn lambda reply: {:response, 3}
Node.spawn/4 MFA reply: {:mfa_response, :node1@localhost}
:global.sync(): :ok
:global.whereis_name on node: :node1@localhost
bob replies: {:pong, :node1@localhost}
:global.register_name taken: :no
GenServer.call global add: :ok
GenServer.call global entries: ["buy milk"]
:pg members on nodes: [:node1@localhost, :node2@localhost]
GenServer.multi_call: {[node1@localhost: {:pong, :node1@localhost}, node2@localhost: {:pong, :node2@localhost}], []}
GenServer.abcast: :abcast
node2@localhost got abcast {:note, "hi all"}
:rpc.call node: :node1@localhost
:rpc.call sum: 6
:global.set_lock: true
:global.del_lock: true
:global.trans: :in_transaction
{'node1', $dport}
Node.monitor + disconnect: {:nodedown, :node1@localhost}
node2 done
EOF
  wait_for node1 "nodeup: node2@localhost"
  wait_for node1 'node1@localhost got abcast {:note, "hi all"}'
  wait_for node1 "nodedown: node2@localhost"

  run hidden env node1=node1@localhost elixir --hidden --sname "hidden_$ID" --cookie "$cookie" "$D/hidden.exs"
  rc_is hidden 0
  wait_for hidden "Node.list(): []"
  wait_for hidden "Node.list([:hidden]): [:node1@localhost]"
  wait_for hidden "node1 Node.list(): []"
  wait_for hidden "node1 Node.list([:hidden]): [:hidden_$ID@$HOST]"
  absent node1 "nodeup: hidden_$ID"

  stop node1
}

for s in "${SECTIONS[@]}"; do
  case "$s" in
    chat|tasks|ratelimiter|distsys) "section_$s" ;;
    *) echo "unknown section $s (chat tasks ratelimiter distsys)"; FAIL=$((FAIL + 1)) ;;
  esac
done

echo "== $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
