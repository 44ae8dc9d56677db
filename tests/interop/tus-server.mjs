// The official tus server (@tus/server with @tus/file-store) for tests/tus_interop.rs.
//
//   node tests/interop/tus-server.mjs DIR
//
// Stores uploads in DIR (each upload's bytes in a file named by its id, its metadata
// beside it in `<id>.json`), listens on 127.0.0.1 on a free port over plain HTTP, prints
// `listening http://127.0.0.1:PORT/files` on stdout, and runs until its stdin ends (the
// test holds the other end, so the server dies with the test) or it is killed.

import { FileStore } from "@tus/file-store";
import { Server } from "@tus/server";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node tus-server.mjs DIR");
  process.exit(2);
}

const tus = new Server({
  path: "/files",
  datastore: new FileStore({ directory: dir }),
});

const http = tus.listen({ host: "127.0.0.1", port: 0 }, () => {
  const { port } = http.address();
  process.stdout.write(`listening http://127.0.0.1:${port}/files\n`);
});
http.on("error", (error) => {
  console.error(`tus-server: ${error.stack ?? error}`);
  process.exit(1);
});

// Exit when whoever started us goes away.
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
