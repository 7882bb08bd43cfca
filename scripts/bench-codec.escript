#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noshell
%%
%% Times erlang:term_to_binary/1 and erlang:binary_to_term/1 on the terms of
%% crates/term/benches/codec.rs, for BENCHMARKS.md. Usage: escript scripts/bench-codec.escript
-mode(compile).

main(_) ->
    Pid = binary_to_term(<<131, 88, 119, 9, "chat@host", 85:32, 0:32, 1700000000:32>>),
    Terms = [{control, {6, Pid, '', chat_server}},
             {chat, {'$gen_cast', {say, <<"john">>, <<"hello world">>}}},
             {bin1k, binary:copy(<<7>>, 1024)},
             {bin64k, binary:copy(<<7>>, 65536)},
             {map, #{'__struct__' => 'Elixir.Chat.User', name => <<"john">>,
                     email => <<"john@example.com">>, age => 42, score => 98.5,
                     roles => [admin, user], active => true, pid => Pid}},
             {list100, [{I, item, <<"value">>, I * 1.5} || I <- lists:seq(0, 99)]}],
    io:format("OTP ~s, ~s~n", [erlang:system_info(otp_release), erlang:system_info(system_architecture)]),
    io:format("~-10s ~8s ~12s ~12s~n", [term, bytes, "encode ns", "decode ns"]),
    Rows = [row(Name, T) || {Name, T} <- Terms],
    {E, D} = lists:foldl(fun({_, _, Ee, Dd}, {A, B}) -> {A + Ee, B + Dd} end, {0, 0}, Rows),
    io:format("~-10s ~8s ~12.1f ~12.1f~n", [mix, "", E, D]).

row(Name, T) ->
    B = term_to_binary(T),
    Enc = time_ns(fun(N) -> enc_loop(T, N) end),
    Dec = time_ns(fun(N) -> dec_loop(B, N) end),
    io:format("~-10s ~8b ~12.1f ~12.1f~n", [Name, byte_size(B), Enc, Dec]),
    {Name, byte_size(B), Enc, Dec}.

%% Best of 5 runs of about 0.5 s each, in ns per operation.
time_ns(F) ->
    N = calibrate(F, 1000),
    lists:min([begin
                   T0 = erlang:monotonic_time(nanosecond),
                   F(N),
                   (erlang:monotonic_time(nanosecond) - T0) / N
               end || _ <- lists:seq(1, 5)]).

calibrate(F, N) ->
    T0 = erlang:monotonic_time(nanosecond),
    F(N),
    case erlang:monotonic_time(nanosecond) - T0 of
        D when D > 100000000 -> max(1, N * 500000000 div D);
        _ -> calibrate(F, N * 4)
    end.

%% The results are used, so the compiler cannot drop the calls.
enc_loop(T, N) -> enc_loop(T, N, 0).
enc_loop(_, 0, Acc) -> Acc;
enc_loop(T, N, Acc) -> enc_loop(T, N - 1, Acc + byte_size(term_to_binary(T))).

dec_loop(B, N) -> dec_loop(B, N, undefined).
dec_loop(_, 0, Last) -> Last;
dec_loop(B, N, _) -> dec_loop(B, N - 1, binary_to_term(B)).
