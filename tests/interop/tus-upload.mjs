// Uploads one file with the official tus client (tus-js-client) for tests/tus_interop.rs.
//
//   node tests/interop/tus-upload.mjs --endpoint URL --file PATH --sha256 HEX
//        [--token TOKEN] [--filename NAME] [--chunk-size BYTES] [--header "Name: value"]...
//
// `--endpoint` is the tus creation URL (jcdiag-intake's `upload_url`). The token goes in
// `Authorization: Bearer` on every request; the metadata carries `sha256` (the file's
// lowercase hex SHA-256) and `filename`. A private CA is trusted through the environment:
// NODE_EXTRA_CA_CERTS=ca.pem. Retries are off, so the first refusal is reported as is.
//
// Prints `receipt ID` if the final answer carried `Jcdiag-Receipt`, then `done UPLOAD_URL`,
// and exits 0; on failure prints the error (with the server's answer) on stderr, exits 1.

import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { Upload } from "tus-js-client";

function usage(message) {
  console.error(`tus-upload: ${message}`);
  console.error(
    "usage: node tus-upload.mjs --endpoint URL --file PATH --sha256 HEX [--token TOKEN] [--filename NAME] [--chunk-size BYTES] [--header 'Name: value']...",
  );
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      endpoint: { type: "string" },
      file: { type: "string" },
      sha256: { type: "string" },
      token: { type: "string" },
      filename: { type: "string" },
      "chunk-size": { type: "string" },
      header: { type: "string", multiple: true, default: [] },
    },
    strict: true,
  }));
} catch (error) {
  usage(error.message);
}
for (const required of ["endpoint", "file", "sha256"]) {
  if (!args[required]) usage(`--${required} is required`);
}

const headers = {};
if (args.token) headers.Authorization = `Bearer ${args.token}`;
for (const line of args.header) {
  const at = line.indexOf(":");
  if (at <= 0) usage(`--header \`${line}\` is not \`Name: value\``);
  headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
}

let chunkSize = Infinity;
if (args["chunk-size"] !== undefined) {
  chunkSize = Number(args["chunk-size"]);
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    usage(`--chunk-size \`${args["chunk-size"]}\` is not a positive integer`);
  }
}

let receipt = null;
let patches = 0;

const upload = new Upload(createReadStream(args.file), {
  endpoint: args.endpoint,
  headers,
  metadata: {
    sha256: args.sha256.toLowerCase(),
    filename: args.filename ?? basename(args.file),
  },
  chunkSize,
  retryDelays: null,
  removeFingerprintOnSuccess: true,
  onAfterResponse(request, response) {
    if (request.getMethod() === "PATCH") patches += 1;
    const id = response.getHeader("Jcdiag-Receipt");
    if (id) receipt = id;
  },
  onSuccess() {
    if (receipt) console.log(`receipt ${receipt}`);
    console.log(`patches ${patches}`);
    console.log(`done ${upload.url}`);
    process.exit(0);
  },
  onError(error) {
    // A DetailedError carries the request and the server's answer.
    console.error(`tus-upload: ${error.message ?? error}`);
    process.exit(1);
  },
});

upload.start();
