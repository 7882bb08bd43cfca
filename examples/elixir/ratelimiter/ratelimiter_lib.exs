# Seed 004 (AppSignal "Elixir Alchemy": a distributed rate limiter on a hash
# ring), without mix and without hex. Loaded by node.exs and ring_demo.exs.
#
# The seed depends on two hex packages that are not available offline, so this
# file carries small stand-ins with the same module names and the subset of
# the API the seed uses:
#
#   * ExHashRing.Ring (discord/ex_hash_ring): a consistent hash ring.
#     Same placement scheme as the library: every node gets 512 replicas
#     (virtual nodes) at Hash.of("#{name}#{replica}") for replica 0..511,
#     Hash.of(key) = the last 8 bytes of :erlang.md5(to_string(key)) read as an
#     unsigned little-endian 64-bit integer, and a key belongs to the first
#     virtual node with a strictly greater hash (wrapping around). With this,
#     the lookups shown in the seed's iex transcript come out the same
#     (ring_demo.exs reproduces it: result1 -> c, result2 -> a, result4 -> b,
#     and result1 -> a once c is removed). Not implemented: generations /
#     history, overrides, find_nodes/3; the ring is a GenServer holding a sorted
#     tuple rather than an ETS table.
#     API: start_link(opts) (opts: name:, nodes:, replicas:), add_node/2,
#     remove_node/2, find_node/2, get_nodes/1 -- same return shapes as the
#     library ({:ok, [{name, 512}, ...]}, {:error, :node_exists},
#     {:error, :node_not_exists}, {:ok, name}, {:error, :invalid_ring}).
#
#   * Hammer (ExHammer/hammer, v6 API): only Hammer.check_rate(id, scale_ms,
#     limit), fixed windows kept in a public ETS table: the window is
#     div(now_ms, scale_ms); each call increments the count of {window, id} and
#     returns {:allow, count} while count <= limit, else {:deny, limit}.
#     Hammer.Backend.ETS owns the table and drops expired windows once a minute.
#
# Everything below the stand-ins (Distribution, RateLimiter) is the seed's code
# unchanged. The seed's application.ex is only described in prose ("add
# {ExHashRing.Ring, name: DistributionRing}", "add {RateLimiter, []}", and
# "add the following module [Distribution] to your app"); RateLimiter.App
# below is that application's supervision tree, with the Hammer backend
# (started by the hammer OTP application in the real thing) in front.

defmodule ExHashRing.Hash do
  def of(key) when is_binary(key) do
    <<_::binary-size(8), value::unsigned-little-integer-size(64)>> = :erlang.md5(key)
    value
  end

  def of(key), do: key |> to_string() |> of()
end

defmodule ExHashRing.Ring do
  use GenServer

  @default_replicas 512

  def start_link(opts \\ []) do
    gen_opts = if opts[:name], do: [name: opts[:name]], else: []
    GenServer.start_link(__MODULE__, opts, gen_opts)
  end

  def add_node(ring, name, replicas \\ nil),
    do: GenServer.call(ring, {:add_node, name, replicas})

  def remove_node(ring, name), do: GenServer.call(ring, {:remove_node, name})
  def get_nodes(ring), do: GenServer.call(ring, :get_nodes)

  def find_node(ring, key) do
    hash = ExHashRing.Hash.of(key)
    GenServer.call(ring, {:find_node, hash})
  end

  ## server

  @impl GenServer
  def init(opts) do
    replicas = opts[:replicas] || @default_replicas

    nodes =
      for n <- opts[:nodes] || [] do
        case n do
          {_name, _r} -> n
          name -> {name, replicas}
        end
      end

    {:ok, rebuild(%{replicas: replicas, nodes: nodes, points: {}})}
  end

  @impl GenServer
  def handle_call({:add_node, name, replicas}, _from, state) do
    if List.keymember?(state.nodes, name, 0) do
      {:reply, {:error, :node_exists}, state}
    else
      nodes = [{name, replicas || state.replicas} | state.nodes]
      {:reply, {:ok, nodes}, rebuild(%{state | nodes: nodes})}
    end
  end

  def handle_call({:remove_node, name}, _from, state) do
    if List.keymember?(state.nodes, name, 0) do
      nodes = List.keydelete(state.nodes, name, 0)
      {:reply, {:ok, nodes}, rebuild(%{state | nodes: nodes})}
    else
      {:reply, {:error, :node_not_exists}, state}
    end
  end

  def handle_call(:get_nodes, _from, state) do
    {:reply, {:ok, for({name, _} <- state.nodes, do: name)}, state}
  end

  def handle_call({:find_node, _hash}, _from, %{points: {}} = state) do
    {:reply, {:error, :invalid_ring}, state}
  end

  def handle_call({:find_node, hash}, _from, %{points: points} = state) do
    {:reply, {:ok, successor(points, hash)}, state}
  end

  # sorted tuple of {hash, name} virtual nodes
  defp rebuild(state) do
    points =
      for({name, replicas} <- state.nodes, r <- 0..(replicas - 1)//1,
        do: {ExHashRing.Hash.of("#{name}#{r}"), name})
      |> Enum.sort_by(&elem(&1, 0))
      |> List.to_tuple()

    %{state | points: points}
  end

  # first virtual node whose hash is > hash, wrapping around to the first one
  defp successor(points, hash) do
    size = tuple_size(points)
    index = first_greater(points, hash, 0, size)
    {_, name} = elem(points, if(index == size, do: 0, else: index))
    name
  end

  defp first_greater(_points, _hash, lo, hi) when lo >= hi, do: lo

  defp first_greater(points, hash, lo, hi) do
    mid = div(lo + hi, 2)

    if elem(elem(points, mid), 0) > hash,
      do: first_greater(points, hash, lo, mid),
      else: first_greater(points, hash, mid + 1, hi)
  end
end

defmodule Hammer.Backend.ETS do
  use GenServer

  @table :hammer_ets_buckets
  @cleanup_interval_ms 60_000

  def table, do: @table

  def start_link(_opts \\ []), do: GenServer.start_link(__MODULE__, [], name: __MODULE__)

  @impl GenServer
  def init([]) do
    :ets.new(@table, [:named_table, :public, :set, {:write_concurrency, true}])
    Process.send_after(self(), :prune, @cleanup_interval_ms)
    {:ok, nil}
  end

  @impl GenServer
  def handle_info(:prune, state) do
    now = System.system_time(:millisecond)
    # rows are {{window, id}, count, expires_at_ms}
    :ets.select_delete(@table, [{{:_, :_, :"$1"}, [{:<, :"$1", now}], [true]}])
    Process.send_after(self(), :prune, @cleanup_interval_ms)
    {:noreply, state}
  end
end

defmodule Hammer do
  def check_rate(id, scale_ms, limit) do
    now = System.system_time(:millisecond)
    window = div(now, scale_ms)
    expires_at = (window + 1) * scale_ms
    key = {window, id}

    count =
      :ets.update_counter(Hammer.Backend.ETS.table(), key, {2, 1}, {key, 0, expires_at})

    if count > limit, do: {:deny, limit}, else: {:allow, count}
  end
end

# ---- the seed's code ---------------------------------------------------------

defmodule Distribution do
  use GenServer
  require Logger

  def start_link(opts) do
    GenServer.start_link(__MODULE__, opts, name: __MODULE__)
  end

  @impl GenServer
  def init(_opts) do
    :net_kernel.monitor_nodes(true)

    for node <- [Node.self() | Node.list()] do
      ExHashRing.Ring.add_node(DistributionRing, node)
    end

    {:ok, []}
  end

  @impl GenServer
  def handle_info({:nodeup, node}, state) do
    Logger.info("Node #{node} connected")
    ExHashRing.Ring.add_node(DistributionRing, node)
    {:noreply, state}
  end

  def handle_info({:nodedown, node}, state) do
    Logger.info("Node #{node} disconnected")
    ExHashRing.Ring.remove_node(DistributionRing, node)
    {:noreply, state}
  end
end

defmodule RateLimiter do
  use GenServer
  require Logger

  # Public interface

  def check(ip) do
    {:ok, node} = ExHashRing.Ring.find_node(DistributionRing, ip)
    GenServer.call({__MODULE__, node}, {:check, ip})
  catch
    :exit, reason ->
      Logger.warning("Tried to check rate limit but failed", reason: inspect(reason))
      # As a fallback, do a local check. It's better than nothing!
      check_internal(ip)
  end

  def start_link(_opts) do
    GenServer.start_link(__MODULE__, [], name: __MODULE__)
  end

  def init(_opts) do
    {:ok, []}
  end

  # Internal implementation

  def handle_call({:check, ip}, _from, state) do
    {:reply, check_internal(ip), state}
  end

  defp check_internal(ip) do
    Hammer.check_rate(ip, 60_000, 10)
  end
end

# ---- application.ex (described in the seed's prose) --------------------------

defmodule RateLimiter.App do
  def start do
    children = [
      Hammer.Backend.ETS,
      {ExHashRing.Ring, name: DistributionRing},
      Distribution,
      {RateLimiter, []}
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: RateLimiter.Supervisor)
  end
end
