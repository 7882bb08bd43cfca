%% The passive side (node B) of the two-node workloads, run by scripts/bench:
%%
%%   erl -sname B -setcookie C -noshell -noinput +S 1 -pa Dir -run fbb_peer main
%%
%% It registers `sink` (counts messages, see below) and `echo` (fbb_echo), prints
%% `READY <node>` and waits to be killed. Mirrors bench/fbbench/src/peer.rs: the
%% messages are the same in both, so every pairing of Erlang and ferrobeam nodes works.
%%
%% The sink protocol:
%%   {bench_start, From}  -> From ! {bench_ready, SinkPid}, the count restarts at 0
%%   {bench_end, From}    -> From ! {bench_done, Count}
%%   anything else        -> Count + 1
-module(fbb_peer).
-export([main/0, sink/0]).

main() ->
    register(sink, spawn(?MODULE, sink, [])),
    fbb_echo:start(),
    io:format("READY ~s~n", [node()]),
    receive stop -> halt() end.

sink() -> sink(0).

sink(N) ->
    receive
        {bench_end, From} ->
            From ! {bench_done, N},
            sink(0);
        {bench_start, From} ->
            From ! {bench_ready, self()},
            sink(0);
        _ ->
            sink(N + 1)
    end.
