# Seed 002's test (test/test_helper.exs + test/chat_test.exs), without mix:
#
#   # "Conditionally excluding tests with tags": not a named node ->
#   # the :distributed test is excluded
#   elixir examples/elixir/tasks/chat_test.exs
#
#   # named node, with moebi@localhost running chat.exs ("dev" config):
#   CHAT_ENV=dev elixir --sname tester@localhost examples/elixir/tasks/chat_test.exs
#
#   # "Environment-specific application configuration": the test config
#   # supervises the task locally, so no moebi node is needed
#   CHAT_ENV=test elixir --sname tester@localhost examples/elixir/tasks/chat_test.exs
#
# CHAT_ENV plays the part of MIX_ENV and defaults to "test" like `mix test`.
# The seed's `doctest Chat` is dropped: Chat has no doctests, and doctest
# needs the module's compiled docs chunk, which a script does not keep.

Code.require_file("chat_lib.exs", __DIR__)

Chat.Config.put(System.get_env("CHAT_ENV", "test"))
{:ok, sup} = Chat.Application.start(:normal, [])
# ExUnit runs the tests after this script's process has finished; unlink so
# that Chat.Supervisor does not stop together with it.
Process.unlink(sup)

# test/test_helper.exs
exclude =
  if Node.alive?(), do: [], else: [distributed: true]

ExUnit.start(exclude: exclude)

# test/chat_test.exs
defmodule ChatTest do
  use ExUnit.Case, async: true

  @tag :distributed
  test "send_message" do
    assert Chat.send_message(:moebi@localhost, "hi") == :ok
  end
end
