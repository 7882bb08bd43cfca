# One node of seed 002's `chat` app (alex, kate or moebi -- they all run the
# same application; Moebi's behaviour comes from the node *name*):
#
#     elixir --sname alex@localhost  examples/elixir/tasks/chat.exs
#     elixir --sname kate@localhost  examples/elixir/tasks/chat.exs
#     elixir --sname moebi@localhost examples/elixir/tasks/chat.exs
#
# (the seed: `iex --sname alex@localhost -S mix`). All nodes must share a
# cookie (the default ~/.erlang.cookie on one machine, or --cookie X).
#
# The seed drives the nodes from iex; this script stands in for the iex
# session (../lib/eval_shell.exs): every line read from stdin is evaluated as
# an Elixir expression (bindings persist between lines) and its result is
# printed with inspect/1, e.g. the line
#
#     Chat.send_message(:kate@localhost, "hi")
#
# prints ":ok" here and "hi" on kate. At end of stdin the node keeps running
# (it is still a member of the chat, like an idle iex session) unless the
# script was given `--halt-on-eof`.
#
# CHAT_ENV selects the seed's config file: "dev" (default, remote supervisor
# {Chat.TaskSupervisor, recipient}) or "test" (local Chat.TaskSupervisor).

Code.require_file("chat_lib.exs", __DIR__)
Code.require_file("../lib/eval_shell.exs", __DIR__)

unless Node.alive?() do
  IO.puts(:stderr, "start me as a distributed node, e.g. elixir --sname alex@localhost #{__ENV__.file}")
  System.halt(1)
end

Chat.Config.put(System.get_env("CHAT_ENV", "dev"))
{:ok, _} = Chat.Application.start(:normal, [])
IO.puts("chat node started on #{Node.self()}")
EvalShell.run()
