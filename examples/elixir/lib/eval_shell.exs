# A minimal stand-in for the iex sessions the seeds are driven from, usable
# with piped stdin: every non-empty line is evaluated as an Elixir expression
# (bindings persist between lines) and its result printed with inspect/1 on a
# line of its own. Errors are printed as "** (kind) ..." and the loop goes on.
#
# At end of stdin the node keeps running (like an idle iex session, so it can
# go on serving other nodes) unless the script was given `--halt-on-eof`.
#
# Helpers for scripted sessions:
#   EvalShell.wait_until(fun, timeout_ms \\ 10_000) -- polls fun every 50 ms
#     until it returns a truthy value; returns it, or :timeout.

defmodule EvalShell do
  def run do
    loop([])
  end

  def wait_until(fun, timeout_ms \\ 10_000) do
    deadline = System.monotonic_time(:millisecond) + timeout_ms
    do_wait(fun, deadline)
  end

  defp do_wait(fun, deadline) do
    case fun.() do
      result when result not in [nil, false] ->
        result

      _ ->
        if System.monotonic_time(:millisecond) >= deadline do
          :timeout
        else
          Process.sleep(50)
          do_wait(fun, deadline)
        end
    end
  end

  defp loop(binding) do
    case IO.read(:line) do
      eof when eof == :eof or is_tuple(eof) ->
        if "--halt-on-eof" in System.argv(), do: System.halt(0), else: Process.sleep(:infinity)

      line ->
        case String.trim(line) do
          "" -> loop(binding)
          expr -> loop(eval(expr, binding))
        end
    end
  end

  defp eval(expr, binding) do
    {result, binding} = Code.eval_string(expr, binding)
    IO.puts(inspect(result))
    binding
  catch
    kind, reason ->
      IO.puts(Exception.format_banner(kind, reason, __STACKTRACE__))
      binding
  end
end
