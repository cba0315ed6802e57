// The peer for the JSON-RPC row of `make bench`: jayson, the Node.js library the
// original lab used, serving the same `add` method over HTTP on 127.0.0.1.
// Usage: node jayson_server.js [port]   (0 or nothing: a free port)
// Prints {"port": N} once listening; exits when its stdin closes, so it never
// outlives the bench that started it.
"use strict";

const jayson = require("jayson");

const methods = {
  add(params, callback) {
    const [a, b] = params;
    if (typeof a !== "number" || typeof b !== "number") {
      callback({ code: -32602, message: "add takes two numbers" });
      return;
    }
    callback(null, a + b);
  },
};

const port = Number(process.argv[2] || 0);
const http = jayson.server(methods).http();
http.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: http.address().port }) + "\n");
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
