# The `chat` application of seed 002 (elixirschool "OTP Distribution" lesson:
# distributed tasks with Task.Supervisor, and Moebi the dog), without mix.
#
# This file only defines the modules (lib/chat.ex + lib/chat/application.ex of
# the seed); chat.exs (a node) and chat_test.exs (the ExUnit test) load it
# with Code.require_file/1.
#
# Differences from the seed, all forced by running without mix:
#   * config/dev.exs / config/test.exs (`config :chat, remote_supervisor: fn ...`)
#     become Chat.Config.put/1, called by the scripts with the environment
#     name ("dev" or "test") before the app starts; Chat.remote_supervisor/1
#     reads the function from the application env exactly as the seed's final
#     version does.
#   * Chat.Application.start/2 is called directly instead of by the
#     application controller.

defmodule Chat do
  def receive_message(message) do
    IO.puts(message)
  end

  # Moebi's node name is hard-coded in the seed (:"moebi@localhost"), so the
  # moebi node must be started with `--sname moebi@localhost`.
  def send_message(:moebi@localhost, message) do
    spawn_task(__MODULE__, :receive_message_for_moebi, :moebi@localhost, [message, Node.self()])
  end

  def send_message(recipient, message) do
    spawn_task(__MODULE__, :receive_message, recipient, [message])
  end

  def spawn_task(module, fun, recipient, args) do
    recipient
    |> remote_supervisor()
    |> Task.Supervisor.async(module, fun, args)
    |> Task.await()
  end

  def receive_message_for_moebi(message, from) do
    IO.puts(message)
    send_message(from, "chicken?")
  end

  defp remote_supervisor(recipient) do
    Application.get_env(:chat, :remote_supervisor).(recipient)
  end
end

defmodule Chat.Config do
  # config/dev.exs
  def put("dev") do
    Application.put_env(:chat, :remote_supervisor, fn recipient ->
      {Chat.TaskSupervisor, recipient}
    end)
  end

  # config/test.exs
  def put("test") do
    Application.put_env(:chat, :remote_supervisor, fn _recipient -> Chat.TaskSupervisor end)
  end
end

defmodule Chat.Application do
  @moduledoc false

  use Application

  def start(_type, _args) do
    children = [
      {Task.Supervisor, name: Chat.TaskSupervisor}
    ]

    opts = [strategy: :one_for_one, name: Chat.Supervisor]
    Supervisor.start_link(children, opts)
  end
end
