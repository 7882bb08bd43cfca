# Modules shared by the seed 003 scripts (node1.exs, node2.exs, hidden.exs).
#
# Seed 003 ("Building a distributed system", a Livebook of notes on Elixir in
# Action's distribution chapter) is a series of iex snippets rather than one
# program; the scripts here run those snippets between real nodes. Where the
# seed only gestures at something ("Global registration can be used for
# GenServer as well", "Worth mentioning GenServer.abcast/3 and
# GenServer.multi_call/4"), the smallest process that makes the snippet run is
# defined here:
#   * TodoList        -- the GenServer registered with name: {:global, alias}
#   * Distsys.Echo    -- registered locally under the same name on every node,
#                        target of GenServer.multi_call/abcast
#   * Distsys.reply_node/1 -- the MFA for Node.spawn/4

defmodule TodoList do
  use GenServer

  def start_link(some_global_alias) do
    GenServer.start_link(__MODULE__, [], name: {:global, some_global_alias})
  end

  @impl GenServer
  def init(entries), do: {:ok, entries}

  @impl GenServer
  def handle_call({:add, entry}, _from, entries), do: {:reply, :ok, entries ++ [entry]}
  def handle_call(:entries, _from, entries), do: {:reply, entries, entries}
end

defmodule Distsys.Echo do
  use GenServer

  def start_link(_ \\ []), do: GenServer.start_link(__MODULE__, [], name: __MODULE__)

  @impl GenServer
  def init(state), do: {:ok, state}

  @impl GenServer
  def handle_call(:ping, _from, state), do: {:reply, {:pong, node()}, state}

  @impl GenServer
  def handle_cast(msg, state) do
    IO.puts("#{node()} got abcast #{inspect(msg)}")
    {:noreply, state}
  end
end

defmodule Distsys do
  # target of Node.spawn(node, Distsys, :reply_node, [caller])
  def reply_node(caller), do: send(caller, {:mfa_response, node()})

  # A lambda typed into iex (as in the seed) is an :erl_eval fun, which any
  # node can run. A `fn` written in a script or module belongs to a compiled
  # module (for a script: a temporary :elixir_compiler_N) that the remote node
  # does not have, so Node.spawn(node1, fn ...) would fail there with :undef.
  # To reproduce the seed's snippets faithfully node2.exs builds its lambdas
  # the way iex does, with Code.eval_string/2.
  def iex_fn(source, binding \\ []) do
    {fun, _} = Code.eval_string(source, binding)
    fun
  end

  # receive helpers (kept out of the top-level script code: OTP 25's compiler
  # crashes in beam_ssa_recv on a top-level `receive` matching a ^ref)
  def await_down(pid, ref) do
    receive do
      {:DOWN, ^ref, :process, ^pid, reason} -> {:down, reason}
    after
      5_000 -> :timeout
    end
  end

  def await(tag) do
    receive do
      msg when is_tuple(msg) and elem(msg, 0) == tag -> msg
    after
      5_000 -> :timeout
    end
  end
end
