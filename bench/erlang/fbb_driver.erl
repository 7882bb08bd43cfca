%% The active side (node A) of the two-node workloads, run by scripts/bench:
%%
%%   erl -sname A -setcookie C -noshell +S 1 -pa Dir \
%%       -run fbb_driver main peer=B workload=oneway kind=small count=300000
%%
%% Connects to the peer, prints `READY`, then runs one repetition for each `rep I` line
%% read from standard input, printing `RESULT rep=I key=value ...` and `DONE I`, until
%% `quit` or the end of the input. The harness keeps the four pairings of a workload
%% running at once and interleaves their repetitions. Mirrors bench/fbbench/src/drive.rs, which runs the same workloads with
%% the same messages from a ferrobeam node; the peer (node B) is fbb_peer or
%% `fbbench peer`.
-module(fbb_driver).
-export([main/1]).

main(Args) ->
    Opts = maps:from_list([list_to_tuple(string:split(A, "=")) || A <- Args]),
    Peer = list_to_atom(maps:get("peer", Opts)),
    W = maps:get("workload", Opts),
    try
        %% Connect (and load code) before the first repetition.
        true = net_kernel:connect_node(Peer),
        io:format("READY ~s~n", [node()]),
        serve(fun(Rep) -> run(W, Peer, Opts, Rep) end)
    catch C:E:St ->
        io:format("ERROR ~p:~p ~p~n", [C, E, St]),
        halt(1)
    end.

%% Runs one repetition per `rep I` line read from standard input, until `quit`.
serve(Run) ->
    case io:get_line('') of
        "rep " ++ N ->
            Rep = list_to_integer(string:trim(N)),
            Run(Rep),
            io:format("DONE ~b~n", [Rep]),
            serve(Run);
        _ ->
            io:format("END~n"),
            halt(0)
    end.

int(Opts, K, Default) ->
    case maps:find(K, Opts) of
        {ok, V} -> list_to_integer(V);
        error -> Default
    end.

now_ns() -> erlang:monotonic_time(nanosecond).

result(Rep, KVs) ->
    io:format("RESULT rep=~b~s~n",
              [Rep, [io_lib:format(" ~s=~s", [K, num(V)]) || {K, V} <- KVs]]).

num(V) when is_integer(V) -> integer_to_list(V);
num(V) when is_float(V) -> float_to_list(V, [{decimals, 4}]).

%% ---------------------------------------------------------------------------------
%% One-way throughput: Count messages to the sink on the peer; the time runs from the
%% first send until the sink reports that it received the last one.

run("oneway", Peer, Opts, Rep) ->
    Count = int(Opts, "count", 100000),
    Size = int(Opts, "size", 0),
    Sink = sink_start(Peer),
    T0 = now_ns(),
    case maps:get("kind", Opts) of
        "small" -> send_seq(Sink, 0, Count);
        "bin" -> send_bin(Sink, payload(Size), Count)
    end,
    Count = sink_end(Sink),
    Dt = (now_ns() - T0) / 1.0e9,
    result(Rep, [{"msgs_s", Count / Dt}, {"mb_s", Count * Size / Dt / 1.0e6},
                 {"secs", Dt}]);

%% ---------------------------------------------------------------------------------
%% Round trip: Conc processes call the echo server on the peer in a closed loop,
%% Count calls in all.

run("call", Peer, Opts, Rep) ->
    Conc = int(Opts, "conc", 1),
    Per = int(Opts, "count", 10000) div Conc,
    Self = self(),
    Pids = [spawn_link(fun() ->
                           receive go -> ok end,
                           Self ! {lats, caller(Peer, Per, [])}
                       end) || _ <- lists:seq(1, Conc)],
    T0 = now_ns(),
    [P ! go || P <- Pids],
    Lats = lists:append([receive {lats, L} -> L end || _ <- Pids]),
    Dt = (now_ns() - T0) / 1.0e9,
    {P50, P99, Max} = pcts(Lats),
    result(Rep, [{"calls_s", Conc * Per / Dt}, {"p50_us", P50}, {"p99_us", P99},
                 {"max_us", Max}, {"secs", Dt}]);

%% ---------------------------------------------------------------------------------
%% Head-of-line: one process streams Size-byte binaries to the sink for Ms
%% milliseconds while another makes a small call to the echo server every Interval ms.

run("hol", Peer, Opts, Rep) ->
    Size = int(Opts, "size", 8 * 1024 * 1024),
    Ms = int(Opts, "duration_ms", 2000),
    Interval = int(Opts, "interval_ms", 10),
    Sink = sink_start(Peer),
    Self = self(),
    Bin = payload(Size),
    T0 = now_ns(),
    Deadline = T0 + Ms * 1000000,
    %% The bulk process ends the sink's count itself: messages from one process keep
    %% their order, those of two processes need not (a small one may pass the
    %% fragments of a large one).
    spawn_link(fun() ->
                       Sent = bulk(Sink, Bin, Deadline, 0),
                       Sent = sink_end(Sink),
                       Self ! {bulk, Sent, now_ns()}
               end),
    spawn_link(fun() -> Self ! {probe, probe(Peer, T0, Interval * 1000000, Deadline, 0, [])} end),
    {Sent, T1} = receive {bulk, S, T} -> {S, T} end,
    Dt = (T1 - T0) / 1.0e9,
    Lats = receive {probe, L} -> L end,
    {P50, P99, Max} = pcts(Lats),
    result(Rep, [{"p99_us", P99}, {"max_us", Max}, {"p50_us", P50},
                 {"probes", length(Lats)}, {"bulk_mb_s", Sent * Size / Dt / 1.0e6},
                 {"secs", Dt}]);

%% ---------------------------------------------------------------------------------
%% Connection setup: Count cycles of connect (timed) and disconnect (not timed). The
%% harness runs this driver as a hidden node, so that the timed part is the setup itself
%% (EPMD lookup, TCP connect, handshake) and no cluster service (global's sync) runs
%% over the connection between the cycles.

run("connect", Peer, Opts, Rep) ->
    Count = int(Opts, "count", 200),
    Lats = [connect_once(Peer) || _ <- lists:seq(1, Count)],
    {P50, P99, Max} = pcts(Lats),
    Mean = lists:sum(Lats) / length(Lats) / 1000,
    result(Rep, [{"mean_us", Mean}, {"p50_us", P50}, {"p99_us", P99}, {"max_us", Max}]).

%% ---------------------------------------------------------------------------------

sink_start(Peer) ->
    {sink, Peer} ! {bench_start, self()},
    receive {bench_ready, Sink} -> Sink after 10000 -> exit(no_sink) end.

sink_end(Sink) ->
    Sink ! {bench_end, self()},
    receive {bench_done, N} -> N after 120000 -> exit(sink_timeout) end.

%% A binary of Size bytes that does not compress to nothing.
payload(Size) ->
    list_to_binary([I band 255 || I <- lists:seq(1, Size)]).

send_seq(_Sink, N, N) -> ok;
send_seq(Sink, I, N) -> Sink ! {seq, I}, send_seq(Sink, I + 1, N).

send_bin(_Sink, _Bin, 0) -> ok;
send_bin(Sink, Bin, N) -> Sink ! Bin, send_bin(Sink, Bin, N - 1).

caller(_Peer, 0, Acc) -> Acc;
caller(Peer, N, Acc) ->
    T0 = now_ns(),
    {ping, N} = gen_server:call({echo, Peer}, {ping, N}),
    caller(Peer, N - 1, [now_ns() - T0 | Acc]).

bulk(Sink, Bin, Deadline, N) ->
    case now_ns() < Deadline of
        true -> Sink ! Bin, bulk(Sink, Bin, Deadline, N + 1);
        false -> N
    end.

probe(Peer, T0, Step, Deadline, K, Acc) ->
    Next = T0 + (K + 1) * Step,
    %% No probe after the stream has ended, even when earlier probes ran late.
    case Next < Deadline andalso now_ns() < Deadline of
        false -> Acc;
        true ->
            Wait = (Next - now_ns()) div 1000000,
            if Wait > 0 -> receive after Wait -> ok end; true -> ok end,
            T = now_ns(),
            {ping, K} = gen_server:call({echo, Peer}, {ping, K}),
            probe(Peer, T0, Step, Deadline, K + 1, [now_ns() - T | Acc])
    end.

connect_once(Peer) ->
    wait_disconnected(Peer),
    T0 = now_ns(),
    true = net_kernel:connect_node(Peer),
    Dt = now_ns() - T0,
    erlang:disconnect_node(Peer),
    Dt.

%% Waits 1 ms, then until the connection is gone (disconnecting it again if the peer
%% connected back meanwhile); the next connect starts right after the check.
wait_disconnected(Peer) ->
    receive after 1 -> ok end,
    case lists:member(Peer, nodes(connected)) of
        true -> erlang:disconnect_node(Peer), wait_disconnected(Peer);
        false -> ok
    end.

%% p50, p99 and max of nanosecond samples, in microseconds.
pcts([]) -> {0.0, 0.0, 0.0};
pcts(L) ->
    S = list_to_tuple(lists:sort(L)),
    N = tuple_size(S),
    At = fun(Q) -> element(min(N, max(1, ceil(Q * N))), S) / 1000 end,
    {At(0.50), At(0.99), element(N, S) / 1000}.
