%% One-node workloads, run by scripts/bench; mirrors bench/fbbench/src/local.rs:
%%
%%   erl -noshell +S 2 +P 4000000 -pa Dir -run fbb_local main workload=spawn count=1000000
%%
%% Prints `READY`, then runs one repetition for each `rep I` line read from standard
%% input (printing `RESULT rep=I ...` and `DONE I`), until `quit`.
%%
%% * workload=spawn: spawns Count idle processes (each waits in receive) and times it
%%   until every one has started (the run queues are empty); reports the time per
%%   process and the growth of the OS process's resident memory per process (and,
%%   for information, of erlang:memory(total)). The harness runs one repetition per
%%   OS process, so that the resident memory always starts from the same point.
%% * workload=pingpong: Count round trips between two processes ({ping, From} -> pong).
%% * workload=oneway senders=S: S processes send Count messages ({seq, I}) in all to
%%   one process, which counts them; the time runs until it has the last one.
-module(fbb_local).
-export([main/1]).

main(Args) ->
    Opts = maps:from_list([list_to_tuple(string:split(A, "=")) || A <- Args]),
    Count = int(Opts, "count", 100000),
    W = maps:get("workload", Opts),
    try
        io:format("READY~n"),
        serve(fun(Rep) -> run(W, Count, Opts, Rep) end)
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

rss() ->
    {ok, B} = file:read_file("/proc/self/statm"),
    [_, Pages | _] = string:lexemes(binary_to_list(B), " \n"),
    list_to_integer(Pages) * 4096.

run("spawn", Count, _Opts, Rep) ->
    Base = erlang:system_info(process_count),
    Rss0 = rss(),
    Mem0 = erlang:memory(total),
    T0 = now_ns(),
    Pids = spawn_idle(Count, []),
    Spawned = now_ns() - T0,
    wait_idle(),
    Dt = (now_ns() - T0) / 1.0e9,
    Rss1 = rss(),
    Mem1 = erlang:memory(total),
    [P ! stop || P <- Pids],
    wait_count(Base),
    result(Rep, [{"us_per_spawn", Dt * 1.0e6 / Count}, {"spawn_secs", Dt},
                 {"spawn_call_secs", Spawned / 1.0e9},
                 {"bytes_per_proc", max(0, Rss1 - Rss0) / Count},
                 {"erlang_memory_per_proc", (Mem1 - Mem0) / Count}]);

run("pingpong", Count, _Opts, Rep) ->
    Pong = spawn(fun Loop() ->
                         receive
                             {ping, From} -> From ! pong, Loop();
                             stop -> ok
                         end
                 end),
    T0 = now_ns(),
    ping(Pong, Count),
    Dt = (now_ns() - T0) / 1.0e9,
    Pong ! stop,
    result(Rep, [{"rt_s", Count / Dt}, {"ns_per_rt", Dt * 1.0e9 / Count}]);

run("oneway", Count, Opts, Rep) ->
    Senders = max(1, int(Opts, "senders", 1)),
    Per = Count div Senders,
    Total = Per * Senders,
    Self = self(),
    Sink = spawn(fun() -> count(Total), Self ! {done, now_ns()} end),
    Pids = [spawn(fun() -> receive go -> send_seq(Sink, 0, Per) end end)
            || _ <- lists:seq(1, Senders)],
    receive after 20 -> ok end,
    T0 = now_ns(),
    [P ! go || P <- Pids],
    T1 = receive {done, T} -> T end,
    Dt = (T1 - T0) / 1.0e9,
    result(Rep, [{"msgs_s", Total / Dt}, {"secs", Dt}]).

spawn_idle(0, Acc) -> Acc;
spawn_idle(N, Acc) -> spawn_idle(N - 1, [spawn(fun idle/0) | Acc]).

idle() -> receive _ -> ok end.

wait_idle() ->
    case erlang:statistics(total_run_queue_lengths) of
        0 -> ok;
        _ -> receive after 1 -> wait_idle() end
    end.

wait_count(Base) ->
    case erlang:system_info(process_count) > Base of
        true -> receive after 5 -> wait_count(Base) end;
        false -> ok
    end.

ping(_Pong, 0) -> ok;
ping(Pong, N) ->
    Pong ! {ping, self()},
    receive pong -> ping(Pong, N - 1) end.

count(0) -> ok;
count(N) -> receive _ -> count(N - 1) end.

send_seq(_Sink, N, N) -> ok;
send_seq(Sink, I, N) -> Sink ! {seq, I}, send_seq(Sink, I + 1, N).
