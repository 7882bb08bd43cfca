//! Finding the Erlang/Elixir executables for interop tests, and the agent an `erl` peer
//! runs. Included with `#[path = "beam_support.rs"] mod beam_support;` by the support
//! files that start BEAM peers. A missing tool skips the test with a notice, or fails it
//! when `FERROBEAM_REQUIRE_ERLANG=1` (as `./scripts/test` and CI set it).

#![allow(dead_code, unused_imports)]

pub use ferrobeam_testkit::{beam_tool, find_tool as find, required};

/// What an `erl` peer of the interop tests runs (`erl -noshell -eval AGENT`): a registered
/// process `agent` that prints every message it gets as `MSG Term` (and runs
/// `{'$do', Fun}`), and a loop that evaluates the expressions written to standard input,
/// printing `R Value`, with bindings kept between them.
pub const AGENT: &str = r#"
register(agent, spawn(fun Loop() ->
    receive
        {'$do', F} -> F(), Loop();
        M -> io:format("MSG ~w~n", [M]), Loop()
    end
end)),
io:format("READY ~w~n", [node()]),
Eval = fun Eval(B) ->
    case io:parse_erl_exprs('') of
        {ok, Exprs, _} ->
            B2 = try erl_eval:exprs(Exprs, B) of
                     {value, V, NB} -> io:format("R ~w~n", [V]), NB
                 catch C:E -> io:format("R {error,~w,~w}~n", [C, E]), B
                 end,
            Eval(B2);
        {eof, _} -> halt();
        {error, E, _} -> io:format("R {parse_error,~w}~n", [E]), Eval(B)
    end
end,
Eval(erl_eval:new_bindings()).
"#;
