# ExMessenger chat server -- port of seed 000 (Drew Kerrigan's ExMessenger as
# refactored in Fabio Akita's "ExMessenger Exercise" post), runnable without mix:
#
#     elixir --sname server --cookie chocolate-chip examples/elixir/chat/server.exs
#
# The seed runs it as `iex --sname server --cookie chocolate-chip -S mix run`;
# here the script plays the role of the ExMessenger application: it starts
# ExMessenger.Supervisor, prints "server started" and keeps the VM running.
#
# Updates of pre-1.0 idioms (minimal):
#   * HashDict            -> Map
#   * Supervisor.Spec `worker(ExMessenger.Server, [[]])` + `supervise/2`
#                         -> an explicit child spec map + Supervisor.init/2
#   * `use Application` / `start/2` -> plain top-level code at the end.
#
# Protocol (unchanged from the seed):
#   call  {:connect, nick}     -> {:ok, "a:b:c"} | :nick_not_allowed | :nick_in_use
#   call  {:disconnect, nick}  -> :ok | :user_not_found | :not_allowed
#   cast  {:say, nick, msg}
#   cast  {:private_message, nick, to, msg}
#   cast  {:list_users, nick}
#   every delivery to a client: GenServer.cast({:message_handler, client_node},
#                                              {:message, nick, msg})

defmodule ExMessenger.Server do
  use GenServer
  require Logger

  def start_link([]) do
    :gen_server.start_link({:local, :message_server}, __MODULE__, [], [])
  end

  def init([]) do
    {:ok, Map.new()}
  end

  def say(nick, message) do
    GenServer.cast(:message_server, {:say, nick, "* #{nick} #{message} *"})
  end

  # Shown in the seed verbatim (HashDict -> Map).
  def handle_call({:connect, nick}, {from, _}, users) do
    cond do
      nick == :server or nick == "server" ->
        {:reply, :nick_not_allowed, users}

      Map.has_key?(users, nick) ->
        {:reply, :nick_in_use, users}

      true ->
        new_users = users |> Map.put(nick, node(from))
        user_list = log(new_users, nick, "has joined")
        {:reply, {:ok, user_list}, new_users}
    end
  end

  # NOT shown in the seed's text (it elides the rest of the server with "...").
  # Inferred from the client (ServerProcotol.disconnect/1 is a call; the CLI
  # ignores its reply) and from the :connect clause: the nick is looked up,
  # only the node that joined with that nick may remove it, and the leave is
  # broadcast like the join ("* nick has left *").
  def handle_call({:disconnect, nick}, {from, _}, users) do
    user = Map.get(users, nick)

    cond do
      user == nil ->
        {:reply, :user_not_found, users}

      user == node(from) ->
        new_users = users |> Map.delete(nick)
        log(new_users, nick, "has left")
        {:reply, :ok, new_users}

      true ->
        {:reply, :not_allowed, users}
    end
  end

  # Shown in the seed verbatim (HashDict -> Map).
  defp log(users, nick, message) do
    user_list = users |> Map.keys() |> Enum.join(":")
    Logger.debug("#{nick} #{message}, user_list: #{user_list}")
    say(nick, message)
    user_list
  end

  # Shown in the seed verbatim (HashDict -> Map).
  def handle_cast({:say, nick, message}, users) do
    ears = Map.delete(users, nick)
    Logger.debug("#{nick} said #{message}")
    broadcast(ears, nick, message)
    {:noreply, users}
  end

  # NOT shown in the seed; inferred from ServerProcotol.private_message/3
  # (cast {:private_message, nick, to, message}): deliver to the recipient's
  # node only, as a {:message, sender_nick, message} cast like every other
  # delivery; an unknown recipient is silently ignored (the client has no way
  # to receive an error for a cast).
  def handle_cast({:private_message, nick, receiver_nick, message}, users) do
    case Map.get(users, receiver_nick) do
      nil ->
        :ok

      receiver_node ->
        send_message_to_client(receiver_node, nick, message)
    end

    {:noreply, users}
  end

  # NOT shown in the seed; inferred from ServerProcotol.list_users/1 (a cast,
  # so the answer must come back as a message): the server answers with a
  # private message from the pseudo-user "server" (the nick the :connect
  # clause reserves), text "users: a, b".
  def handle_cast({:list_users, nick}, users) do
    user_list = users |> Map.keys() |> Enum.join(", ")
    GenServer.cast(:message_server, {:private_message, "server", nick, "users: #{user_list}"})
    {:noreply, users}
  end

  # Shown in the seed verbatim.
  defp broadcast(users, nick, message) do
    Enum.map(users, fn {_, node} ->
      Task.async(fn ->
        send_message_to_client(node, nick, message)
      end)
    end)
    |> Enum.map(&Task.await/1)
  end

  defp send_message_to_client(client_node, nick, message) do
    GenServer.cast({:message_handler, client_node}, {:message, nick, message})
  end
end

defmodule ExMessenger.Supervisor do
  use Supervisor

  def start_link do
    Supervisor.start_link(__MODULE__, [])
  end

  def init([]) do
    children = [
      # was: worker(ExMessenger.Server, [[]])
      %{id: ExMessenger.Server, start: {ExMessenger.Server, :start_link, [[]]}}
    ]

    Supervisor.init(children, strategy: :one_for_one)
  end
end

# --- "application start" -----------------------------------------------------
unless Node.alive?() do
  IO.puts(:stderr, "start me as a distributed node, e.g. " <>
    "elixir --sname server --cookie chocolate-chip #{__ENV__.file}")
  System.halt(1)
end

{:ok, _sup} = ExMessenger.Supervisor.start_link()
IO.puts("ExMessenger server started on #{Node.self()} (registered as :message_server)")
Process.sleep(:infinity)
