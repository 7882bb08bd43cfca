# Seed 003's hidden node ("start node but make them hidden from the cluster":
# `--hidden`):
#
#     node1=node1@localhost elixir --hidden --sname hidden examples/elixir/distsys/hidden.exs
#
# Connects to node1 and prints how each side lists the connection, then halts.
# Expected: here Node.list() is [] and Node.list([:hidden]) holds node1; on
# node1 Node.list() does not hold this node but Node.list([:hidden]) and
# Node.list([:connected]) do.

node1 = String.to_atom(System.get_env("node1", "node1@localhost"))

show = fn label, value -> IO.puts("#{label}: #{inspect(value)}") end

show.("Node.connect(node1)", Node.connect(node1))
show.("Node.list()", Node.list())
show.("Node.list([:hidden])", Node.list([:hidden]))
show.("Node.list([:connected])", Node.list([:connected]))
show.("node1 Node.list()", :rpc.call(node1, Node, :list, []))
show.("node1 Node.list([:hidden])", :rpc.call(node1, Node, :list, [[:hidden]]))
show.("node1 Node.list([:connected])", :rpc.call(node1, Node, :list, [[:connected]]))
IO.puts("hidden done")
System.halt(0)
