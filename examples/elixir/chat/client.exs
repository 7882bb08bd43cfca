# ExMessengerClient -- port of seed 000's chat client, runnable without mix:
#
#     server=server@HOST nick=john elixir --sname client examples/elixir/chat/client.exs
#
# (the seed: `server=server@Hal9000u nick=john elixir --sname client -S mix run`).
# Like the seed, the cookie is not given on the command line: the client sets
# it itself with Node.set_cookie(Node.self, :"chocolate-chip").
#
# Updates of pre-1.0 idioms (minimal):
#   * String.rstrip -> String.trim_trailing, String.lstrip -> String.trim_leading
#   * String.slice(4..-1) -> String.slice(4..-1//1) (explicit step)
#   * `use Application` / `start/2` -> a plain ExMessengerClient.start/0 called
#     at the end of the script.
# Additions (not in the seed), needed to run it from scripts/pipes:
#   * end of stdin (IO.read returns :eof) behaves like /quit: disconnect from
#     the server, then System.halt(0). (The seed would crash on String.rstrip(:eof).)
#   * a missing `server`/`nick` variable or a non-distributed VM prints a usage
#     line and exits 1 instead of crashing.
# The module name "ServerProcotol" keeps the seed's spelling.

defmodule ExMessengerClient.MessageHandler do
  use GenServer

  def start_link(server) do
    :gen_server.start_link({:local, :message_handler}, __MODULE__, server, [])
  end

  def init(server) do
    {:ok, server}
  end

  def handle_cast({:message, nick, message}, server) do
    message = message |> String.trim_trailing()
    IO.puts("\n#{server}> #{nick}: #{message}")
    IO.write("#{Node.self()}> ")
    {:noreply, server}
  end
end

defmodule ExMessengerClient.ServerProcotol do
  def connect({server, nick}) do
    server |> call({:connect, nick})
  end

  def disconnect({server, nick}) do
    server |> call({:disconnect, nick})
  end

  def list_users({server, nick}) do
    server |> cast({:list_users, nick})
  end

  def private_message({server, nick}, to, message) do
    server |> cast({:private_message, nick, to, message})
  end

  def say({server, nick}, message) do
    server |> cast({:say, nick, message})
  end

  defp call(server, args) do
    GenServer.call({:message_server, server}, args)
  end

  defp cast(server, args) do
    GenServer.cast({:message_server, server}, args)
  end
end

defmodule ExMessengerClient.CLI do
  alias ExMessengerClient.ServerProcotol

  def input_loop({server, nick}) do
    IO.write("#{Node.self()}> ")

    case IO.read(:line) do
      # Not in the seed: end of input leaves the room and exits cleanly.
      eof when eof == :eof or is_tuple(eof) ->
        ServerProcotol.disconnect({server, nick})
        System.halt(0)

      line ->
        line = line |> String.trim_trailing()
        handle_command(line, {server, nick})
        input_loop({server, nick})
    end
  end

  def handle_command("/help", _args) do
    IO.puts("""
    Available commands:
    /leave
    /join
    /users
    /pm <to nick> <message>
    or just type a message to send
    """)
  end

  def handle_command("/leave", args) do
    ServerProcotol.disconnect(args)
    IO.puts("You have exited the chatroom, you can rejoin with /join or quit with /quit")
  end

  def handle_command("/quit", args) do
    ServerProcotol.disconnect(args)
    System.halt(0)
  end

  def handle_command("/join", args) do
    ServerProcotol.connect(args)
    IO.puts("Joined the chatroom")
  end

  def handle_command("/users", args) do
    ServerProcotol.list_users(args)
  end

  def handle_command("", _args), do: :ok
  def handle_command(nil, _args), do: :ok

  def handle_command(message, args) do
    if String.contains?(message, "/pm") do
      {to, message} = parse_private_recipient(message)
      ServerProcotol.private_message(args, to, message)
    else
      ServerProcotol.say(args, message)
    end
  end

  defp parse_private_recipient(message) do
    [to | message] =
      message
      |> String.slice(4..-1//1)
      |> String.split()

    message =
      message
      |> List.foldl("", fn x, acc -> "#{acc} #{x}" end)
      |> String.trim_leading()

    {to, message}
  end
end

defmodule ExMessengerClient do
  alias ExMessengerClient.CLI
  alias ExMessengerClient.ServerProcotol

  def start do
    get_env()
    |> connect
    |> start_message_handler
    |> join_chatroom
    |> CLI.input_loop()
  end

  defp get_env do
    unless System.get_env("server") && System.get_env("nick") && Node.alive?() do
      IO.puts(:stderr, "usage: server=server@HOST nick=NICK elixir --sname NAME client.exs")
      System.halt(1)
    end

    server =
      System.get_env("server")
      |> String.trim_trailing()
      |> String.to_atom()

    nick =
      System.get_env("nick")
      |> String.trim_trailing()

    {server, nick}
  end

  defp connect({server, nick}) do
    IO.puts("Connecting to #{server} from #{Node.self()} ...")
    Node.set_cookie(Node.self(), :"chocolate-chip")

    case Node.connect(server) do
      true ->
        :ok

      reason ->
        IO.puts("Could not connect to server, reason: #{reason}")
        System.halt(0)
    end

    {server, nick}
  end

  defp start_message_handler({server, nick}) do
    ExMessengerClient.MessageHandler.start_link(server)
    IO.puts("Connected")
    {server, nick}
  end

  defp join_chatroom({server, nick}) do
    case ServerProcotol.connect({server, nick}) do
      {:ok, users} ->
        IO.puts("* Joined the chatroom *")
        IO.puts("* Users in the room: #{users} *")
        IO.puts("* Type /help for options *")

      reason ->
        IO.puts("Could not join chatroom, reason: #{reason}")
        System.halt(0)
    end

    {server, nick}
  end
end

ExMessengerClient.start()
