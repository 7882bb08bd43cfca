# Seed 003's "node1": the node the other snippets talk to.
#
#     elixir --sname node1@localhost examples/elixir/distsys/node1.exs
#
# optionally pinned to one distribution port, as in the seed's "Firewall"
# section:
#
#     elixir --erl "-kernel inet_dist_listen_min 10000 inet_dist_listen_max 10000" \
#            --sname node1@localhost examples/elixir/distsys/node1.exs
#
# Sets up what node2.exs / hidden.exs expect to find, prints "node1 ready on
# NODE", then reads Elixir expressions from stdin (../lib/eval_shell.exs) and
# keeps running at end of stdin (unless `--halt-on-eof`). It:
#   * starts the default :pg scope (":pg.start_link()", ":pg needs to be
#     initialized on all nodes");
#   * has a process (standing in for the seed's iex shell) register itself
#     with :global.register_name({:todo_list, "bob"}, self()) and
#     :pg.join({:todo_list, "bob"}, self()); it answers {:ping, from} with
#     {:pong, node()};
#   * starts TodoList with name: {:global, {:todo_list, "alice"}};
#   * starts Distsys.Echo (locally registered) for multi_call/abcast;
#   * prints "nodeup: N" / "nodedown: N" via :net_kernel.monitor_nodes(true).

Code.require_file("distsys_lib.exs", __DIR__)
Code.require_file("../lib/eval_shell.exs", __DIR__)

unless Node.alive?() do
  IO.puts(:stderr, "start me as a distributed node, e.g. elixir --sname node1@localhost #{__ENV__.file}")
  System.halt(1)
end

{:ok, _} = :pg.start_link()
{:ok, _} = TodoList.start_link({:todo_list, "alice"})
{:ok, _} = Distsys.Echo.start_link()

parent = self()

bob =
  spawn(fn ->
    :yes = :global.register_name({:todo_list, "bob"}, self())
    :ok = :pg.join({:todo_list, "bob"}, self())
    send(parent, :bob_registered)

    Stream.repeatedly(fn ->
      receive do
        {:ping, from} -> send(from, {:pong, node()})
      end
    end)
    |> Stream.run()
  end)

receive do
  :bob_registered -> :ok
end

spawn(fn ->
  :net_kernel.monitor_nodes(true)

  Stream.repeatedly(fn ->
    receive do
      {:nodeup, node} -> IO.puts("nodeup: #{node}")
      {:nodedown, node} -> IO.puts("nodedown: #{node}")
    end
  end)
  |> Stream.run()
end)

IO.puts("node1 ready on #{node()} (bob's todo list: #{inspect(bob)})")
EvalShell.run()
