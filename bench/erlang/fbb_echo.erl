%% The echo server of the round-trip and head-of-line workloads: a plain gen_server
%% that answers every call with the request. Mirrors `Echo` in bench/fbbench/src/peer.rs.
-module(fbb_echo).
-behaviour(gen_server).
-export([start/0, init/1, handle_call/3, handle_cast/2, handle_info/2]).

start() ->
    {ok, Pid} = gen_server:start({local, echo}, ?MODULE, [], []),
    Pid.

init([]) -> {ok, nostate}.

handle_call(Req, _From, S) -> {reply, Req, S}.

handle_cast(_Msg, S) -> {noreply, S}.

handle_info(_Msg, S) -> {noreply, S}.
