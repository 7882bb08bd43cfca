# One node of seed 004's distributed rate limiter:
#
#     elixir --sname a examples/elixir/ratelimiter/node.exs
#     elixir --sname b examples/elixir/ratelimiter/node.exs
#
# (the seed uses `iex --name a@127.0.0.1`; `--name a@127.0.0.1` works as well.
# All nodes need the same cookie.) Starts the app's supervision tree (Hammer
# stand-in, DistributionRing, Distribution, RateLimiter), prints
# "rate limiter node started on NODE", then reads Elixir expressions from
# stdin like the seed's iex session (see ../lib/eval_shell.exs), e.g.
#
#     Node.ping(:"b@HOST")
#     ExHashRing.Ring.find_node(DistributionRing, "10.0.0.1")
#     RateLimiter.check("10.0.0.1")       # {:allow, n} ... then {:deny, 10}
#
# At end of stdin the node keeps running unless given `--halt-on-eof`.

Code.require_file("ratelimiter_lib.exs", __DIR__)
Code.require_file("../lib/eval_shell.exs", __DIR__)

unless Node.alive?() do
  IO.puts(:stderr, "start me as a distributed node, e.g. elixir --sname a #{__ENV__.file}")
  System.halt(1)
end

{:ok, _} = RateLimiter.App.start()
IO.puts("rate limiter node started on #{Node.self()}")
EvalShell.run()
