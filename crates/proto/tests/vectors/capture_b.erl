-module(capture_b).
-export([start/0, child/0]).
start() ->
    Pid = spawn(fun() -> loop() end),
    register(reg, Pid).
child() ->
    receive die -> exit(child_died); _ -> child() end.
loop() ->
    receive
        stop -> erlang:halt();
        {From, ping} -> From ! pong, loop();
        {alias_ping, Alias} -> Alias ! alias_pong, loop();
        {spawn_child, From} -> From ! {child, spawn(?MODULE, child, [])}, loop();
        M -> io:format("b got ~P~n", [M, 10]), loop()
    end.
