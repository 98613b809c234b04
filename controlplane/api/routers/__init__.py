"""HTTP routers: each wires request data into one service call and returns its view."""
