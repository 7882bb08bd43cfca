# Replays the iex transcript of seed 004's "Hash Rings" section against the
# ExHashRing.Ring stand-in in ratelimiter_lib.exs (no distribution needed):
#
#     elixir examples/elixir/ratelimiter/ring_demo.exs
#
# Each step prints the expression and its result; the results match the
# seed's transcript (result1 -> c, result2 -> a, result4 -> b; after removing
# c: result4 -> b, result1 -> a; after adding c back: result1 -> c).

Code.require_file("ratelimiter_lib.exs", __DIR__)

alias ExHashRing.Ring

{:ok, ring} = Ring.start_link()

show = fn label, result -> IO.puts("#{label} => #{inspect(result)}") end

show.(~s|Ring.add_node(ring, "a@127.0.0.1")|, Ring.add_node(ring, "a@127.0.0.1"))
show.(~s|Ring.add_node(ring, "b@127.0.0.1")|, Ring.add_node(ring, "b@127.0.0.1"))
show.(~s|Ring.add_node(ring, "c@127.0.0.1")|, Ring.add_node(ring, "c@127.0.0.1"))
show.(~s|Ring.find_node(ring, "result1")|, Ring.find_node(ring, "result1"))
show.(~s|Ring.find_node(ring, "result2")|, Ring.find_node(ring, "result2"))
show.(~s|Ring.find_node(ring, "result4")|, Ring.find_node(ring, "result4"))
show.(~s|Ring.remove_node(ring, "c@127.0.0.1")|, Ring.remove_node(ring, "c@127.0.0.1"))
show.(~s|Ring.find_node(ring, "result4")|, Ring.find_node(ring, "result4"))
show.(~s|Ring.find_node(ring, "result1")|, Ring.find_node(ring, "result1"))
show.(~s|Ring.add_node(ring, "c@127.0.0.1")|, Ring.add_node(ring, "c@127.0.0.1"))
show.(~s|Ring.find_node(ring, "result1")|, Ring.find_node(ring, "result1"))
