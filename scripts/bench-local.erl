#!/usr/bin/env escript
%% -*- erlang -*-
%%! +P 4000000
%%
%% Local runtime benchmarks on Erlang/OTP: the twin of crates/ferrobeam/benches/local.rs
%% (same workloads, same sizes, same output). scripts/bench-local runs both, one after
%% the other, in the same run, and prints the ratios.
%%
%%   ERL_FLAGS="+S 2" escript scripts/bench-local.erl [spawn|pingpong|call|oneway|all]
%%       [--count N] [--reps R]
%%
%% * spawn: spawns 1M idle processes (each waits in receive) from a process, and times
%%   it until every one has started (the run queues are empty); reports us per process,
%%   the spawn calls alone, and the memory per idle process (growth of the resident
%%   memory of the OS process, and of erlang:memory(processes)).
%% * pingpong: round trips between two processes ({ping, From} answered with pong).
%% * call: gen_server:call/2 (default timeout) from one process to an echo server, by
%%   pid, in a closed loop ({ping, K} answered with itself).
%% * oneway: S processes (1, then 2) send {seq, I} messages to one process, which counts
%%   them; the time runs until it has the last one.
%%
%% Prints one `name value unit` line per figure: the best of the repetitions for times
%% (and the median), the first repetition for resident memory (later ones reuse what
%% the first freed), the median for erlang:memory.
-mode(compile).
-behaviour(gen_server).
-export([init/1, handle_call/3, handle_cast/2]).

main(Args) ->
    What = case [A || A <- Args, lists:member(A, ["spawn", "pingpong", "call", "oneway", "all"])] of
               [W | _] -> W;
               [] -> "all"
           end,
    Reps = arg(Args, "--reps", 5),
    Spawn = What =:= "spawn" orelse What =:= "all",
    Ping = What =:= "pingpong" orelse What =:= "all",
    One = What =:= "oneway" orelse What =:= "all",
    Call = What =:= "call" orelse What =:= "all",
    Spawn andalso spawn_bench(arg(Args, "--count", 1000000), Reps),
    Ping andalso pingpong_bench(arg(Args, "--count", 1000000), Reps),
    Call andalso call_bench(arg(Args, "--count", 300000), Reps),
    One andalso oneway_bench(arg(Args, "--count", 10000000), Reps),
    ok.

arg([K, V | _], K, _) -> list_to_integer(V);
arg([_ | T], K, D) -> arg(T, K, D);
arg([], _, D) -> D.

now_ns() -> erlang:monotonic_time(nanosecond).

best_min(L) -> lists:min(L).
best_max(L) -> lists:max(L).
median(L) -> lists:nth(length(L) div 2 + 1, lists:sort(L)).

out(Name, V, Unit, Note) ->
    io:format("~s ~s ~s~s~n", [Name, fmt(V), Unit, Note]).

fmt(V) when is_float(V), V >= 1000.0 -> integer_to_list(round(V));
fmt(V) when is_float(V), V >= 100.0 -> float_to_list(V, [{decimals, 1}]);
fmt(V) when is_float(V) -> float_to_list(V, [{decimals, 3}]);
fmt(V) -> integer_to_list(V).

rss() ->
    {ok, B} = file:read_file("/proc/self/statm"),
    [_, Pages | _] = string:lexemes(binary_to_list(B), " \n"),
    list_to_integer(Pages) * 4096.

%% ----- spawn -------------------------------------------------------------------------

spawn_bench(N, Reps) ->
    Rs = [spawn_once(N) || _ <- lists:seq(1, Reps)],
    Ts = [T || {T, _, _, _} <- Rs],
    Cs = [C || {_, C, _, _} <- Rs],
    {_, _, Rss1, _} = hd(Rs),
    Mem = [M || {_, _, _, M} <- Rs],
    Note = io_lib:format(" (best of ~b, ~b processes)", [Reps, N]),
    out("spawn_us_per_process", best_min(Ts), "us", Note),
    out("spawn_us_per_process_median", median(Ts), "us", ""),
    out("spawn_call_us_per_process", best_min(Cs), "us", " (the spawn calls alone, best)"),
    out("rss_bytes_per_idle_process", Rss1, "bytes", " (first repetition)"),
    out("erlang_memory_bytes_per_idle_process", median(Mem), "bytes", "").

spawn_once(N) ->
    Self = self(),
    Runner = spawn(fun() ->
        Base = erlang:system_info(process_count),
        Rss0 = rss(),
        Mem0 = erlang:memory(processes),
        T0 = now_ns(),
        Pids = spawn_idle(N, []),
        T1 = now_ns(),
        wait_idle(),
        T2 = now_ns(),
        Rss1 = rss(),
        Mem1 = erlang:memory(processes),
        [P ! stop || P <- Pids],
        wait_count(Base),
        Self ! {self(), {(T2 - T0) / 1000 / N, (T1 - T0) / 1000 / N,
                         max(0, Rss1 - Rss0) / N, (Mem1 - Mem0) / N}}
    end),
    receive {Runner, R} -> R end.

spawn_idle(0, Acc) -> Acc;
spawn_idle(N, Acc) -> spawn_idle(N - 1, [spawn(fun idle/0) | Acc]).

idle() -> receive _ -> ok end.

wait_idle() ->
    case erlang:statistics(total_run_queue_lengths) of
        0 -> ok;
        _ -> erlang:yield(), wait_idle()
    end.

wait_count(Base) ->
    case erlang:system_info(process_count) > Base of
        true -> receive after 5 -> wait_count(Base) end;
        false -> ok
    end.

%% ----- pingpong ----------------------------------------------------------------------

pingpong_bench(N, Reps) ->
    Ts = [pingpong_once(N) || _ <- lists:seq(1, Reps)],
    out("pingpong_ns_per_round_trip", best_min(Ts), "ns",
        io_lib:format(" (best of ~b, ~b round trips)", [Reps, N])),
    out("pingpong_ns_per_round_trip_median", median(Ts), "ns", "").

pingpong_once(N) ->
    Self = self(),
    Pong = spawn(fun pong/0),
    Ping = spawn(fun() ->
        T0 = now_ns(),
        ping(Pong, N),
        T = now_ns() - T0,
        Pong ! stop,
        Self ! {self(), T / N}
    end),
    receive {Ping, T} -> T end.

pong() ->
    receive
        {ping, From} -> From ! pong, pong();
        stop -> ok
    end.

ping(_, 0) -> ok;
ping(Pong, N) ->
    Pong ! {ping, self()},
    receive pong -> ping(Pong, N - 1) end.

%% ----- call --------------------------------------------------------------------------

call_bench(N, Reps) ->
    Ts = [call_once(N) || _ <- lists:seq(1, Reps)],
    out("call_ns_per_call", best_min(Ts), "ns",
        io_lib:format(" (best of ~b, ~b calls)", [Reps, N])),
    out("call_ns_per_call_median", median(Ts), "ns", "").

call_once(N) ->
    {ok, Server} = gen_server:start(?MODULE, [], []),
    Self = self(),
    Caller = spawn(fun() ->
        T0 = now_ns(),
        call_loop(Server, 0, N),
        T = now_ns() - T0,
        Self ! {self(), T / N}
    end),
    T = receive {Caller, V} -> V end,
    gen_server:stop(Server),
    T.

call_loop(_, N, N) -> ok;
call_loop(Server, K, N) ->
    {ping, K} = gen_server:call(Server, {ping, K}),
    call_loop(Server, K + 1, N).

%% The echo server of the call workload.
init([]) -> {ok, nil}.
handle_call(Req, _From, S) -> {reply, Req, S}.
handle_cast(_, S) -> {noreply, S}.

%% ----- oneway ------------------------------------------------------------------------

oneway_bench(N, Reps) ->
    lists:foreach(
      fun(S) ->
              Rs = [oneway_once(S, N) || _ <- lists:seq(1, Reps)],
              Name = io_lib:format("oneway_msgs_per_s_~b_sender", [S]),
              out(Name, best_max(Rs), "msg/s",
                  io_lib:format(" (best of ~b, ~b messages)", [Reps, N])),
              out([Name, "_median"], median(Rs), "msg/s", "")
      end, [1, 2]).

oneway_once(Senders, N) ->
    Per = N div Senders,
    Total = Per * Senders,
    Self = self(),
    Sink = spawn(fun() -> count(Total), Self ! {done, now_ns()} end),
    Pids = [spawn(fun() -> receive go -> send_seq(Sink, 0, Per) end end)
            || _ <- lists:seq(1, Senders)],
    receive after 20 -> ok end,
    T0 = now_ns(),
    [P ! go || P <- Pids],
    T1 = receive {done, T} -> T end,
    Total / ((T1 - T0) / 1.0e9).

count(0) -> ok;
count(N) -> receive {seq, _} -> count(N - 1) end.

send_seq(_, Per, Per) -> ok;
send_seq(Sink, I, Per) -> Sink ! {seq, I}, send_seq(Sink, I + 1, Per).
