# Seed 003's "node2": runs the seed's snippets against node1 (start node1.exs
# first) and prints one "label: result" line per snippet, then halts.
#
#     node1=node1@localhost elixir --sname node2@localhost examples/elixir/distsys/node2.exs
#
# (the seed: `iex --sname node2@localhost`, then `Node.connect(:node1@localhost)`).
# Both nodes need the same cookie. Expected output (NODE1/NODE2 = the names):
#
#   node(): :NODE2
#   Node.connect(node1): true
#   Node.list(): [:NODE1]
#   Node.list([:this, :visible]): [:NODE1, :NODE2]   (order as returned)
#   Hello from NODE1                      <- printed here: node2 is the group leader
#   Node.spawn lambda: {:down, :normal}
#   Node.spawn lambda reply: {:response, 3}
#   Node.spawn/4 MFA reply: {:mfa_response, :NODE1}
#   :global.sync(): :ok
#   :global.whereis_name on node: :NODE1
#   bob replies: {:pong, :NODE1}
#   :global.register_name taken: :no
#   GenServer.call global add: :ok
#   GenServer.call global entries: ["buy milk"]
#   :pg members on nodes: [:NODE1, :NODE2]   (sorted)
#   GenServer.multi_call: {[NODE1: {:pong, :NODE1}, NODE2: {:pong, :NODE2}], []}
#   GenServer.abcast: :abcast             (node1 and node2 print "... got abcast {:note, \"hi all\"}")
#   :rpc.call node: :NODE1
#   :rpc.call sum: 6
#   :global.set_lock: true
#   :global.del_lock: true
#   :global.trans: :in_transaction
#   :net_adm.names(): {:ok, [...]}         (includes node1's port)
#   Node.monitor + disconnect: {:nodedown, :NODE1}
#   node2 done

Code.require_file("distsys_lib.exs", __DIR__)

unless Node.alive?() do
  IO.puts(:stderr, "start me as a distributed node, e.g. elixir --sname node2@localhost #{__ENV__.file}")
  System.halt(1)
end

node1 = String.to_atom(System.get_env("node1", "node1@localhost"))
show = fn label, value -> IO.puts("#{label}: #{inspect(value)}") end

{:ok, _} = Distsys.Echo.start_link()

show.("node()", node())
show.("Node.connect(node1)", Node.connect(node1))
show.("Node.list()", Node.list())
show.("Node.list([:this, :visible])", Node.list([:this, :visible]))

# The seed's lambdas, built as iex builds them (see Distsys.iex_fn/2).
# "Hello from node1" is printed on this node's stdout (we are the group
# leader); wait for the process to finish so the line comes before the next.
hello = Distsys.iex_fn(~S|fn -> IO.puts("Hello from #{node()}") end|)
{pid, ref} = Node.spawn_monitor(node1, hello)
show.("Node.spawn lambda", Distsys.await_down(pid, ref))

caller = self()
respond = Distsys.iex_fn("fn -> send(caller, {:response, 1 + 2}) end", caller: caller)
Node.spawn(node1, respond)
show.("Node.spawn lambda reply", Distsys.await(:response))

Node.spawn(node1, Distsys, :reply_node, [caller])
show.("Node.spawn/4 MFA reply", Distsys.await(:mfa_response))

# name registration info reaches a newly connected node asynchronously (in
# iex the typing delay hides this); wait for :global to finish syncing
show.(":global.sync()", :global.sync())
bob = :global.whereis_name({:todo_list, "bob"})
show.(":global.whereis_name on node", if(is_pid(bob), do: node(bob), else: bob))
send(bob, {:ping, self()})
show.("bob replies", Distsys.await(:pong))
show.(":global.register_name taken", :global.register_name({:todo_list, "bob"}, self()))

show.("GenServer.call global add", GenServer.call({:global, {:todo_list, "alice"}}, {:add, "buy milk"}))
show.("GenServer.call global entries", GenServer.call({:global, {:todo_list, "alice"}}, :entries))

{:ok, _} = :pg.start_link()
:ok = :pg.join({:todo_list, "bob"}, self())

# :pg membership propagates asynchronously; poll up to 5 s for both members
members =
  Enum.reduce_while(1..100, [], fn _, _ ->
    m = :pg.get_members({:todo_list, "bob"})
    if length(m) >= 2, do: {:halt, m}, else: (Process.sleep(50); {:cont, m})
  end)

show.(":pg members on nodes", members |> Enum.map(&node/1) |> Enum.sort())

show.("GenServer.multi_call", GenServer.multi_call(Node.list([:this, :visible]), Distsys.Echo, :ping))
show.("GenServer.abcast", GenServer.abcast(Node.list([:this, :visible]), Distsys.Echo, {:note, "hi all"}))
# a call after the cast returns once our Echo has handled (printed) the cast
{:pong, _} = GenServer.call(Distsys.Echo, :ping)

show.(":rpc.call node", :rpc.call(node1, :erlang, :node, []))
show.(":rpc.call sum", :rpc.call(node1, Enum, :sum, [[1, 2, 3]]))

show.(":global.set_lock", :global.set_lock({:some_resource, self()}))
show.(":global.del_lock", :global.del_lock({:some_resource, self()}))
show.(":global.trans", :global.trans({:some_resource, self()}, fn -> :in_transaction end))

show.(":net_adm.names()", :net_adm.names())

Node.monitor(node1, true)
Node.disconnect(node1)
show.("Node.monitor + disconnect", Distsys.await(:nodedown))

IO.puts("node2 done")
System.halt(0)
